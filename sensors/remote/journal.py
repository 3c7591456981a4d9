"""The engine's ingest journal: remote sensors' batches, durable before they are acknowledged.

``POST /ingest`` writes a checked batch here (``synchronous=FULL``) and only then answers
200; the run loop reads the journal (``sensors.remote.source``) and, once a snapshot
records how far it has read, prunes what it no longer needs. A batch whose (sensor,
stream, seq) the journal has already taken is acknowledged again and not stored: a
sensor that did not hear the first answer sends it again, and it is counted once.

The API (one process, or a thread of ``phiwatch run``) writes and the run loop reads, so
the file is in WAL mode with a busy timeout; each side has its own connection.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from sensors.errors import InputError
from sensors.event import Event
from sensors.remote.batch import Batch, BatchError

#: (sensor, stream): one sensor spool's sequence of batches.
StreamKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    sensor: str
    stream: str
    hospital: str
    last_seq: int
    #: The sensor's last word on its event time, valid once ``through_seq`` is read.
    watermark: float | None
    through_seq: int
    #: Wall clock (epoch seconds) of the sensor's last batch or heartbeat.
    last_seen: float
    gaps: int

    @property
    def key(self) -> StreamKey:
        return (self.sensor, self.stream)


@dataclass(frozen=True, slots=True)
class Journaled:
    seq: int
    watermark: float | None
    records: list[dict[str, Any]]


Outcome = Literal["accepted", "duplicate"]


def stream_name(key: StreamKey) -> str:
    """``sensor/stream``: how a stream is named in a snapshot and in messages."""
    return f"{key[0]}/{key[1]}"


class IngestJournal:
    """The journal database (``state_dir/ingest.db``)."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        try:
            db = self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0,
                                            check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS streams (sensor TEXT, stream TEXT, hospital TEXT,"
                " last_seq INTEGER, watermark REAL, through_seq INTEGER, last_seen REAL,"
                " gaps INTEGER, PRIMARY KEY (sensor, stream))")
            db.execute(
                "CREATE TABLE IF NOT EXISTS batches (sensor TEXT, stream TEXT, seq INTEGER,"
                " watermark REAL, count INTEGER, body BLOB, received REAL,"
                " PRIMARY KEY (sensor, stream, seq))")
        except sqlite3.DatabaseError as e:
            raise InputError(f"the ingest journal cannot be opened: {e}", file=str(path),
                             hint="move the file aside; it holds batches not yet read") from e

    # -- the API's side -------------------------------------------------------------------

    def accept(self, batch: Batch, hospital: str) -> Outcome:
        """Record ``batch`` durably (or recognise it as one already recorded).

        Every event must belong to ``hospital`` (the sensor token's): an event naming
        another hospital refuses the whole batch; one naming none is given it.
        """
        h = batch.header
        records = []
        for n, event in enumerate(batch.events, start=2):
            org = event.fields.get("organization.id")
            if org is None:
                event.fields["organization.id"] = hospital
            elif org != hospital:
                raise BatchError(f"the event belongs to hospital {str(org)[:64]!r}; this "
                                 f"sensor's token is for {hospital!r}", file="batch", line=n,
                                 key="organization.id")
            records.append(event.to_record())
        body = zlib.compress(orjson.dumps(records), 1)
        now = self._clock()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT hospital, last_seq, gaps FROM streams WHERE sensor = ?"
                             " AND stream = ?", (h.sensor, h.stream)).fetchone()
            if row is not None and row[0] != hospital:
                raise BatchError(f"stream {h.sensor}/{h.stream} was opened for hospital "
                                 f"{row[0]!r}", file="batch", line=1, key="stream")
            if row is not None and h.seq <= row[1]:
                db.execute("UPDATE streams SET last_seen = ? WHERE sensor = ? AND stream = ?",
                           (now, h.sensor, h.stream))
                db.execute("COMMIT")
                return "duplicate"
            last = row[1] if row is not None else 0
            gaps = (row[2] if row is not None else 0) + (1 if h.seq != last + 1 else 0)
            db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (h.sensor, h.stream, h.seq, h.watermark, h.count, body, now))
            db.execute(
                "INSERT INTO streams VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor,"
                " stream) DO UPDATE SET last_seq = excluded.last_seq, watermark ="
                " excluded.watermark, through_seq = excluded.through_seq, last_seen ="
                " excluded.last_seen, gaps = excluded.gaps",
                (h.sensor, h.stream, hospital, h.seq, h.watermark, h.seq, now, gaps))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return "accepted"

    def heartbeat(self, sensor: str, stream: str, hospital: str, through_seq: int,
                  watermark: float | None) -> bool:
        """The sensor is alive and, once batch ``through_seq`` is read, nothing older than
        ``watermark`` will follow (``None``: its inputs are quiet). ``False`` when the
        stream is unknown (no batch of it ever accepted) or belongs to another hospital
        (nothing recorded)."""
        # A sensor heartbeats only with an empty spool: every batch up to ``through_seq``
        # has been answered, so one the journal lacks was refused (and is in the sensor's
        # dead letters). The watermark then holds from the last batch the journal has.
        cur = self._db.execute(
            "UPDATE streams SET watermark = ?, through_seq = min(max(?, 0), last_seq),"
            " last_seen = ? WHERE sensor = ? AND stream = ? AND hospital = ?",
            (watermark, through_seq, self._clock(), sensor, stream, hospital))
        return cur.rowcount > 0

    # -- the run loop's side --------------------------------------------------------------

    def streams(self) -> list[StreamInfo]:
        rows = self._db.execute(
            "SELECT sensor, stream, hospital, last_seq, watermark, through_seq, last_seen,"
            " gaps FROM streams ORDER BY sensor, stream").fetchall()
        return [StreamInfo(str(r[0]), str(r[1]), str(r[2]), int(r[3]),
                           None if r[4] is None else float(r[4]), int(r[5]), float(r[6]),
                           int(r[7])) for r in rows]

    def read(self, key: StreamKey, after: int, limit: int) -> list[Journaled]:
        """Up to ``limit`` batches of ``key`` after sequence number ``after``, in order."""
        rows = self._db.execute(
            "SELECT seq, watermark, body FROM batches WHERE sensor = ? AND stream = ? AND"
            " seq > ? ORDER BY seq LIMIT ?", (key[0], key[1], after, limit)).fetchall()
        return [Journaled(int(r[0]), None if r[1] is None else float(r[1]),
                          orjson.loads(zlib.decompress(r[2]))) for r in rows]

    def prune(self, consumed: Mapping[StreamKey, int]) -> int:
        """Forget the batches a saved snapshot has read past; returns how many."""
        db = self._db
        n = 0
        for (sensor, stream), seq in consumed.items():
            n += db.execute("DELETE FROM batches WHERE sensor = ? AND stream = ? AND seq <= ?",
                            (sensor, stream, seq)).rowcount
        return n

    def pending(self) -> int:
        """Batches in the journal (read or not)."""
        return int(self._db.execute("SELECT count(*) FROM batches").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def events_of(batch: Journaled, sensor: str) -> list[Event]:
    """A journaled batch's events, their origin named after the sensor they came from
    (``his-app-01:/var/log/his/access.log:12``): the file is on that host, not here."""
    events = []
    for r in batch.records:
        event = Event.from_record(r)
        event.ref = f"{sensor}:{event.ref}"
        event.offset = -1
        events.append(event)
    return events
