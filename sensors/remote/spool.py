"""A remote sensor's durable spool: its batches and read positions, in one SQLite file.

Each batch is written in the same transaction as the positions its events were read up
to and the events the sensor has read but not yet released: after a crash, either the
batch is spooled and the positions are past its lines, or neither. The shipper deletes a
batch only when the engine has acknowledged it, so a batch is lost by no crash and sent
again after one (the engine records it once).

``stream`` is drawn when the spool is created; with ``seq`` it names each batch for ever.
A sensor whose spool is deleted starts a new stream: the engine does not mistake its
first batches for ones it already has.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sensors.errors import InputError


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    seq: int
    count: int
    body: bytes


@dataclass(frozen=True, slots=True)
class SensorState:
    """What a sensor resumes from: its read positions and its unreleased events."""

    positions: list[dict[str, Any]]
    held: list[dict[str, Any]]
    dead_letter_size: int


class SensorSpool:
    """The spool database (``state_dir/sensor-spool.db``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db = self._db
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
            db.execute("CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, "
                       "count INTEGER NOT NULL, body BLOB NOT NULL)")
            row = db.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()
            if row is None:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('stream', ?)",
                           (secrets.token_hex(8),))
                row = db.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()
        except sqlite3.DatabaseError as e:
            raise InputError(f"the sensor's spool cannot be opened: {e}", file=str(path),
                             hint="move the file aside; its unsent batches are in it") from e
        self.stream: str = str(row[0])
        last = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        self._seq = int(last[0]) if last is not None else 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest batch ever spooled (0: none yet)."""
        return self._seq

    def state(self) -> SensorState | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
        if row is None:
            return None
        d = orjson.loads(row[0])
        return SensorState(list(d["positions"]), list(d["held"]),
                           int(d.get("dead_letter_size", 0)))

    def append(self, body_for: Callable[[int], bytes], count: int, state: SensorState) -> int:
        """Spool one batch (``body_for(seq)`` gives its body) with the state after it;
        returns its sequence number. ``count`` 0 records the state alone."""
        seq = self._seq + 1 if count else self._seq
        blob = orjson.dumps({"positions": state.positions, "held": state.held,
                             "dead_letter_size": state.dead_letter_size})
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if count:
                db.execute("INSERT INTO batches VALUES (?, ?, ?)", (seq, count, body_for(seq)))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (seq,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)", (blob,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._seq = seq
        return seq

    def oldest(self) -> SpooledBatch | None:
        row = self._db.execute(
            "SELECT seq, count, body FROM batches ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else SpooledBatch(int(row[0]), int(row[1]), bytes(row[2]))

    def remove(self, seq: int) -> None:
        """The engine has the batch (or refused it for good): it leaves the spool."""
        self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))

    def depth(self) -> tuple[int, int]:
        """(batches, bytes) waiting to be shipped."""
        n, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM batches").fetchone()
        return int(n), int(size)

    def close(self) -> None:
        self._db.close()
