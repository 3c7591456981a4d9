"""Report records and the Department's inbox in SQLite: tables beside the alerts.

The embedded store keeps everything in one file, so reports live there too (two tables,
created if missing). Each call opens its own connection, as ``SQLiteReportNumbers``
does, so one object serves the API's threads and the run loop alike; WAL lets readers
read while a writer writes. A compare-and-set is the UPDATE's own ``WHERE version = ?``.
Documents are columns of their own, so a list never reads them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import orjson

from alerting.reports.errors import ReportError
from alerting.reports.records import (
    AlreadyReceived,
    InboxPosition,
    ReceivedReport,
    RecordConflict,
    ReportQuery,
    ReportRecord,
    stored_as,
)
from alerting.store import micros

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id          TEXT PRIMARY KEY,
    hospital_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    drafted_us  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    meta        BLOB NOT NULL,
    docx        BLOB NOT NULL,
    pdf         BLOB NOT NULL,
    jws         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_hospital ON reports (hospital_id, drafted_us DESC, id);
CREATE INDEX IF NOT EXISTS reports_incident ON reports (incident_id);
CREATE TABLE IF NOT EXISTS received_reports (
    id              TEXT PRIMARY KEY,
    hospital_id     TEXT NOT NULL,
    received_us     INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    meta            BLOB NOT NULL,
    jws             BLOB NOT NULL,
    docx            BLOB,
    pdf             BLOB
);
CREATE INDEX IF NOT EXISTS received_hospital ON received_reports (hospital_id, received_us);
"""


class SQLiteReportStore:
    """``ReportStore`` and ``InboxStore`` on one SQLite file."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=self._timeout,
                                         isolation_level=None)) as db:
                yield db
        except sqlite3.Error as e:
            raise ReportError(f"report store {self.path}", str(e)) from e

    # -- ReportStore ----------------------------------------------------------------------

    def get_report(self, report_id: str) -> ReportRecord | None:
        with self._db() as db:
            row = db.execute("SELECT meta, docx, pdf, jws FROM reports WHERE id = ?",
                             (report_id,)).fetchone()
        if row is None:
            return None
        return ReportRecord.from_meta(orjson.loads(row[0]), docx=bytes(row[1]),
                                      pdf=bytes(row[2]), jws=bytes(row[3]))

    def save_report(self, record: ReportRecord, expected_version: int | None
                    ) -> ReportRecord:
        version = 1 if expected_version is None else expected_version + 1
        new = stored_as(record, version)
        values = (new.hospital_id, new.incident_id, new.kind, new.state,
                  micros(new.drafted_at), version, orjson.dumps(new.meta()), new.docx,
                  new.pdf, new.jws)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if expected_version is None:
                    try:
                        db.execute("INSERT INTO reports (hospital_id, incident_id, kind, "
                                   "state, drafted_us, version, meta, docx, pdf, jws, id) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   (*values, new.id))
                    except sqlite3.IntegrityError:
                        raise RecordConflict(f"report {new.id}", "exists already") from None
                else:
                    cur = db.execute("UPDATE reports SET hospital_id = ?, incident_id = ?, "
                                     "kind = ?, state = ?, drafted_us = ?, version = ?, "
                                     "meta = ?, docx = ?, pdf = ?, jws = ? "
                                     "WHERE id = ? AND version = ?",
                                     (*values, new.id, expected_version))
                    if cur.rowcount != 1:
                        raise RecordConflict(f"report {new.id}",
                                             f"is no longer at version {expected_version}; "
                                             "read it again")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return new

    def query_reports(self, q: ReportQuery) -> list[ReportRecord]:
        where, args = _where(q)
        with self._db() as db:
            rows = db.execute(f"SELECT meta FROM reports {where} ORDER BY drafted_us DESC, "
                              f"id DESC LIMIT ? OFFSET ?", [*args, q.limit, q.offset]
                              ).fetchall()
        return [ReportRecord.from_meta(orjson.loads(r[0])) for r in rows]

    def count_reports(self, q: ReportQuery) -> int:
        where, args = _where(q)
        with self._db() as db:
            return int(db.execute(f"SELECT count(*) FROM reports {where}", args
                                  ).fetchone()[0])

    # -- InboxStore -----------------------------------------------------------------------

    def add_received(self, report: ReceivedReport) -> ReceivedReport:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                existing = self._existing(db, report)
                if existing is not None:
                    raise existing
                db.execute("INSERT INTO received_reports (id, hospital_id, received_us, "
                           "idempotency_key, meta, jws, docx, pdf) VALUES (?, ?, ?, ?, ?, ?, "
                           "?, ?)", (report.id, report.payload.hospital_id,
                                     micros(report.received_at), report.idempotency_key,
                                     orjson.dumps(report.meta()), report.jws, report.docx,
                                     report.pdf))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return report

    def _existing(self, db: sqlite3.Connection, report: ReceivedReport
                  ) -> AlreadyReceived | None:
        row = db.execute("SELECT meta FROM received_reports WHERE id = ?",
                         (report.id,)).fetchone()
        if row is not None:
            return AlreadyReceived(ReceivedReport.from_meta(orjson.loads(row[0])),
                                   "was received before")
        if report.idempotency_key is not None:
            row = db.execute("SELECT meta FROM received_reports WHERE idempotency_key = ?",
                             (report.idempotency_key,)).fetchone()
            if row is not None:
                return AlreadyReceived(ReceivedReport.from_meta(orjson.loads(row[0])),
                                       "has this idempotency key already")
        return None

    def get_received(self, received_id: str) -> ReceivedReport | None:
        with self._db() as db:
            row = db.execute("SELECT meta, jws, docx, pdf FROM received_reports WHERE id = ?",
                             (received_id,)).fetchone()
        if row is None:
            return None
        return ReceivedReport.from_meta(
            orjson.loads(row[0]), jws=bytes(row[1]),
            docx=bytes(row[2]) if row[2] is not None else None,
            pdf=bytes(row[3]) if row[3] is not None else None)

    def query_received(self, hospital_id: str | None, limit: int = 100,
                       offset: int = 0, after: InboxPosition | None = None
                       ) -> list[ReceivedReport]:
        us, rid = after if after is not None else (None, None)
        with self._db() as db:
            rows = db.execute("SELECT meta FROM received_reports WHERE (? IS NULL OR "
                              "hospital_id = ?) AND (? IS NULL OR received_us < ? OR "
                              "(received_us = ? AND id < ?)) "
                              "ORDER BY received_us DESC, id DESC LIMIT ? OFFSET ?",
                              (hospital_id, hospital_id, us, us, us, rid, limit, offset)
                              ).fetchall()
        return [ReceivedReport.from_meta(orjson.loads(r[0])) for r in rows]

    def count_received(self, hospital_id: str | None) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM received_reports WHERE ? IS NULL OR "
                                  "hospital_id = ?", (hospital_id, hospital_id)
                                  ).fetchone()[0])

    def close(self) -> None:
        """Nothing is held open between calls."""


def _where(q: ReportQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("hospital_id", q.hospital_id), ("state", q.state),
                          ("kind", q.kind), ("incident_id", q.incident_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if not q.drafts:
        clauses.append("state != 'draft'")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args
