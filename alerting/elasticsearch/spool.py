"""The durable local queue for alerts the cluster could not take (yet).

SQLite rather than hand-rolled segment files: one committed transaction is durable
(WAL, ``synchronous=FULL`` — fsync on every commit, so not even a power cut loses an
acknowledged append), a torn write at a crash is rolled back by SQLite instead of by our
own checksums, acknowledging a drained batch is a ``DELETE`` instead of offset files and
compaction, and the embedded store already relies on it.

Order and revisions: rows drain in the order alerts first arrived (``seq``). One alert id
is one row: a later revision replaces the spooled one in place, an earlier one is ignored,
so the spool keeps the highest revision just as the stores do and re-emissions do not
fill it. A drained row is deleted only if it still holds the revision that was sent.

When full (``max_alerts`` distinct alerts), the policy is to refuse: ``append`` keeps what
fits and raises ``SpoolFullError`` for the rest. Dropping the oldest would destroy the
start of an incident, dropping the newest silently would hide the one in progress;
refusing stops the pipeline from committing past these events, so their log lines are
read again after a restart and the alerts (same ids) are raised again once there is room.
Updates of alerts already spooled are still taken when full: they need no room.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from rules.alert import Alert
from sensors.errors import StoreError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    revision  INTEGER NOT NULL,
    enqueued  REAL NOT NULL,
    doc       BLOB NOT NULL
);
"""


class SpoolFullError(StoreError, RuntimeError):
    """The spool is at its cap: these alerts were not taken (the rest were)."""

    def __init__(self, refused: Sequence[str], capacity: int, path: Path) -> None:
        self.refused = list(refused)
        self.capacity = capacity
        super().__init__(
            f"Elasticsearch spool {path} is full ({capacity} alerts): refused "
            f"{len(refused)} alert(s); they will be raised again from the logs once the "
            f"cluster is back and the spool drains"
        )


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    seq: int
    revision: int
    alert: Alert


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """The spool's gauges and counters (since this process opened it)."""

    depth: int
    capacity: int
    oldest_age_seconds: float | None
    appended: int
    replaced: int
    drained: int
    refused: int

    @property
    def fill_ratio(self) -> float:
        return self.depth / self.capacity


class Spool:
    """A FIFO of alerts on disk, one SQLite file in ``folder``."""

    def __init__(self, folder: Path, max_alerts: int, warn_ratio: float = 0.8) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "spool.db"
        self.capacity = max_alerts
        self.warn_ratio = warn_ratio
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._depth = int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])
        self._appended = self._replaced = self._drained = self._refused = 0
        self._warned_at = 0.0
        if self._depth:
            log.warning("Elasticsearch spool %s holds %d alert(s) from before; they will be "
                        "sent when the cluster answers", self.path, self._depth)

    def __len__(self) -> int:
        return self._depth

    def append(self, alerts: Sequence[Alert]) -> int:
        """Durably queue ``alerts``; how many were new or newer. Raises when full."""
        refused: list[str] = []
        taken = 0
        now = time.time()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for a in alerts:
                    row = db.execute("SELECT revision FROM spool WHERE id = ?",
                                     (a.id,)).fetchone()
                    if row is not None:
                        if a.revision > row[0]:
                            db.execute("UPDATE spool SET revision = ?, doc = ? WHERE id = ?",
                                       (a.revision, orjson.dumps(a.to_dict()), a.id))
                            self._replaced += 1
                            taken += 1
                        continue
                    if self._depth >= self.capacity:
                        refused.append(a.id)
                        continue
                    db.execute(
                        "INSERT INTO spool (id, revision, enqueued, doc) VALUES (?, ?, ?, ?)",
                        (a.id, a.revision, now, orjson.dumps(a.to_dict())),
                    )
                    self._depth += 1
                    self._appended += 1
                    taken += 1
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._depth = int(db.execute("SELECT count(*) FROM spool").fetchone()[0])
                raise
        self._report_fill()
        if refused:
            self._refused += len(refused)
            error = SpoolFullError(refused, self.capacity, self.path)
            log.error("%s", error)
            raise error
        return taken

    def peek(self, limit: int) -> list[SpoolEntry]:
        """The ``limit`` oldest entries, not removed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, revision, doc FROM spool ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [SpoolEntry(seq, rev, Alert.from_dict(orjson.loads(doc)))
                for seq, rev, doc in rows]

    def ack(self, entries: Sequence[SpoolEntry]) -> int:
        """Remove entries the cluster has taken, unless a newer revision replaced them."""
        if not entries:
            return 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            before = db.total_changes
            db.executemany("DELETE FROM spool WHERE seq = ? AND revision = ?",
                           [(e.seq, e.revision) for e in entries])
            removed = db.total_changes - before
            db.execute("COMMIT")
            self._depth -= removed
            self._drained += removed
        if self._depth < self.capacity * self.warn_ratio:
            self._warned_at = 0.0
        return removed

    def stats(self) -> SpoolStats:
        with self._lock:
            row = self._db.execute("SELECT min(enqueued) FROM spool").fetchone()
        oldest = time.time() - row[0] if row and row[0] is not None else None
        return SpoolStats(self._depth, self.capacity, oldest, self._appended,
                          self._replaced, self._drained, self._refused)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _report_fill(self) -> None:
        """Warn as the spool crosses the warning ratio, then at every further 5 %."""
        ratio = self._depth / self.capacity
        if ratio < self.warn_ratio or ratio < self._warned_at + 0.05:
            return
        self._warned_at = ratio
        log.warning(
            "Elasticsearch spool %s is %.0f%% full (%d of %d alerts): the cluster has been "
            "away for a while; at 100%% new alerts are refused",
            self.path, ratio * 100, self._depth, self.capacity,
        )


def read_stats(folder: Path) -> SpoolStats | None:
    """Depth and age of a spool without opening it for writing (for ``check``)."""
    path = folder / "spool.db"
    if not path.exists():
        return None
    db = sqlite3.connect(path, timeout=5)  # reads only; works beside a live writer (WAL)
    try:
        depth, oldest = db.execute("SELECT count(*), min(enqueued) FROM spool").fetchone()
    finally:
        db.close()
    age = time.time() - oldest if oldest is not None else None
    return SpoolStats(int(depth), 0, age, 0, 0, 0, 0)

