"""Report numbers: per hospital and year, no gap, no duplicate, never burnt by a retry.

Decree 30/2020 wants a document number unique within the year; the Department reads a gap
as a missing report. Two incidents confirmed in the same second by two processes must get
two consecutive numbers, and a draft retried after a crash must get the number it got the
first time. So a number is drawn for a key (the incident id and document kind) in one
transaction that both reads the key's existing number and, if none, takes the counter's
next value: SQLite's ``BEGIN IMMEDIATE`` takes the write lock before the read, so no two
writers can read the same counter.

The ``ReportNumbers`` protocol is all a caller needs; an Elasticsearch implementation can
follow (a counter document written with ``if_seq_no``, and a create-only document per
key).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from alerting.reports.errors import NumberingError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_counters (
    hospital_id TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last        INTEGER NOT NULL,
    PRIMARY KEY (hospital_id, year)
);
CREATE TABLE IF NOT EXISTS report_numbers (
    hospital_id TEXT NOT NULL,
    year        INTEGER NOT NULL,
    key         TEXT NOT NULL,
    number      INTEGER NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (hospital_id, year, key),
    UNIQUE (hospital_id, year, number)
);
"""


def number_key(incident_id: str, kind: str) -> str:
    """The idempotency key of one document of one incident ("BC": report, "TB": notice)."""
    return f"{incident_id}/{kind}"


@runtime_checkable
class ReportNumbers(Protocol):
    """Hands out document numbers."""

    def next(self, hospital_id: str, year: int, key: str) -> int:
        """The number of document ``key`` in ``hospital_id``'s register for ``year``:
        the one it already has, or the next free one (1, 2, 3 … with no gap)."""
        ...


class SQLiteReportNumbers:
    """``ReportNumbers`` on one SQLite file, safe across threads and processes.

    Each call opens its own connection (SQLite connections are not shared between
    threads), so one object may be used from many threads.
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)

    def next(self, hospital_id: str, year: int, key: str) -> int:
        if not hospital_id or not key:
            raise NumberingError("report number", "needs a hospital id and a key")
        if not 1900 < year < 10000:
            raise NumberingError(f"report number of {hospital_id}", f"bad year {year}")
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT number FROM report_numbers WHERE hospital_id = ? AND year = ? "
                    "AND key = ?", (hospital_id, year, key)).fetchone()
                if row is not None:
                    db.execute("COMMIT")
                    return int(row[0])
                db.execute(
                    "INSERT INTO report_counters (hospital_id, year, last) VALUES (?, ?, 1) "
                    "ON CONFLICT (hospital_id, year) DO UPDATE SET last = last + 1",
                    (hospital_id, year))
                (number,) = db.execute(
                    "SELECT last FROM report_counters WHERE hospital_id = ? AND year = ?",
                    (hospital_id, year)).fetchone()
                db.execute(
                    "INSERT INTO report_numbers (hospital_id, year, key, number, assigned_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (hospital_id, year, key, number, datetime.now(UTC).isoformat()))
                db.execute("COMMIT")
                return int(number)
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise NumberingError(f"report number of {hospital_id}/{year} ({self.path})",
                                 str(e)) from e
        finally:
            db.close()

    def assigned(self, hospital_id: str, year: int) -> list[tuple[int, str]]:
        """Every (number, key) of the year, in order: the register, for an audit."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT number, key FROM report_numbers WHERE hospital_id = ? "
                              "AND year = ? ORDER BY number", (hospital_id, year)).fetchall()
        return [(int(n), str(k)) for n, k in rows]
