"""The access audit log in the embedded SQLite store: one row per record, appended only.

An append is one ``BEGIN IMMEDIATE`` transaction: read the head, insert the next record.
SQLite's write lock makes concurrent appenders (API threads, other processes on the same
file) take turns, so the chain never forks; ``seq`` is the primary key besides.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from alerting.audit import AuditEntry, AuditRecord, next_record

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq  INTEGER PRIMARY KEY,
    doc  BLOB NOT NULL
);
"""


class SQLiteAudit:
    """The ``AuditLog`` methods, mixed into ``SQLiteAlertStore`` (needs ``_db``, ``_lock``)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def append_audit(self, entry: AuditEntry, at: datetime | None = None) -> AuditRecord:
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT doc FROM audit_log ORDER BY seq DESC LIMIT 1"
                                 ).fetchone()
                head = AuditRecord.from_dict(orjson.loads(row[0])) if row else None
                record = next_record(head, entry, at or datetime.now(UTC))
                db.execute("INSERT INTO audit_log (seq, doc) VALUES (?, ?)",
                           (record.seq, orjson.dumps(record.to_dict())))
            except BaseException:
                db.rollback()
                raise
            db.commit()
        return record

    def audit_records(self, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit)).fetchall()
        return [AuditRecord.from_dict(orjson.loads(r[0])) for r in rows]

    def audit_stored(self) -> Iterator[tuple[int, Any]]:
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, doc FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1000",
                    (last,)).fetchall()
            for seq, doc in rows:
                try:
                    parsed: Any = orjson.loads(doc)
                except orjson.JSONDecodeError:
                    parsed = None
                yield int(seq), parsed
            if len(rows) < 1000:
                return
            last = int(rows[-1][0])
