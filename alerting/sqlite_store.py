"""The embedded default store: one SQLite file in WAL mode, no server to run.

Each alert is one row: the columns the queries filter on, and the whole alert as JSON.
WAL lets the API and the command line read while the pipeline writes. One store object
may be shared by threads (the API serves requests from a pool): a lock keeps one
connection's transactions from interleaving.

Times are REAL seconds (``datetime.timestamp()``); a keyset position in microseconds is
turned back into the very float stored for it, so ties compare exactly.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from alerting.incident import Incident
from alerting.incident_store import incident_words
from alerting.sqlite_accounts import ACCOUNT_SCHEMA, SQLiteAccounts
from alerting.sqlite_audit import AUDIT_SCHEMA, SQLiteAudit
from alerting.sqlite_incidents import SQLiteIncidents, ensure_incident_schema
from alerting.sqlite_notes import NOTE_SCHEMA, SQLiteNotes
from alerting.sqlite_order import after_clause, order_by
from alerting.store import (
    ALERT_SORTS,
    SEVERITY_RANK,
    AlertDayCount,
    AlertQuery,
    WriteResult,
    alert_user,
    severity_rank,
)
from rules.alert import Alert

_COLUMNS = {"time": "window_start", "severity": "severity_rank", "id": "id"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id              TEXT PRIMARY KEY,
    rule_id         TEXT NOT NULL,
    severity        TEXT NOT NULL,
    severity_rank   INTEGER NOT NULL,
    organization_id TEXT,
    user_id         TEXT,
    window_start    REAL NOT NULL,
    window_end      REAL NOT NULL,
    revision        INTEGER NOT NULL,
    explanation     TEXT NOT NULL,
    doc             BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (window_start DESC, id);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_id, window_start DESC);
CREATE INDEX IF NOT EXISTS alerts_user ON alerts (user_id, window_start DESC);
CREATE INDEX IF NOT EXISTS alerts_org ON alerts (organization_id, window_start DESC);
"""

# Keeps the highest revision: an earlier version re-emitted after a crash changes nothing.
_UPSERT = """
INSERT INTO alerts (id, rule_id, severity, severity_rank, organization_id, user_id,
                    window_start, window_end, revision, explanation, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    severity = excluded.severity, severity_rank = excluded.severity_rank,
    window_end = excluded.window_end, revision = excluded.revision,
    explanation = excluded.explanation, doc = excluded.doc
WHERE excluded.revision > alerts.revision
"""


class SQLiteAlertStore(SQLiteIncidents, SQLiteNotes, SQLiteAudit, SQLiteAccounts):
    """``AlertStore`` on a SQLite file; also the ``IncidentStore`` (``sqlite_incidents``),
    the notes (``sqlite_notes``), the access audit log (``sqlite_audit``) and the console
    accounts (``sqlite_accounts``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        # SQLite's lower() folds ASCII only; explanations carry Vietnamese names.
        self._db.create_function("casefold", 1, _casefold, deterministic=True)
        self._db.create_function("local_day", 2, _local_day, deterministic=True)
        self._db.create_function("incident_words", 1, _incident_words, deterministic=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an alert is on disk before ``write`` returns, so the run loop's position
        # snapshot (fsynced after it) can never be ahead of alerts a power loss took.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        ensure_incident_schema(self._db)
        self._db.executescript(NOTE_SCHEMA)
        self._db.executescript(AUDIT_SCHEMA)
        self._db.executescript(ACCOUNT_SCHEMA)

    def write(self, alerts: Sequence[Alert]) -> WriteResult:
        if not alerts:
            return WriteResult()
        with self._lock:
            return self._write(alerts)

    def _write(self, alerts: Sequence[Alert]) -> WriteResult:
        db = self._db
        inserted = updated = unchanged = 0
        with db:
            for a in alerts:
                before = db.total_changes
                known = db.execute("SELECT 1 FROM alerts WHERE id = ?", (a.id,)).fetchone()
                db.execute(_UPSERT, _row(a))
                changed = db.total_changes - before
                if not changed:
                    unchanged += 1
                elif known:
                    updated += 1
                else:
                    inserted += 1
        return WriteResult(inserted, updated, unchanged)

    def get(self, alert_id: str) -> Alert | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM alerts WHERE id = ?",
                                   (alert_id,)).fetchone()
        return Alert.from_dict(orjson.loads(row[0])) if row else None

    def get_many(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        found: dict[str, Alert] = {}
        ids = list(dict.fromkeys(alert_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(f"SELECT doc FROM alerts WHERE id IN ({marks})",
                                        chunk).fetchall()
            for (doc,) in rows:
                alert = Alert.from_dict(orjson.loads(doc))
                found[alert.id] = alert
        return found

    def query(self, q: AlertQuery) -> list[Alert]:
        where, args = _where(q)
        columns = [(_COLUMNS[key], desc) for key, desc in ALERT_SORTS[q.sort]]
        if q.after is not None:
            values = [_seconds(v) if key == "time" else v
                      for v, (key, _) in zip(q.after, ALERT_SORTS[q.sort], strict=True)]
            clause, more = after_clause(columns, values)
            where = f"{where} AND {clause}" if where else f"WHERE {clause}"
            args = [*args, *more]
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc FROM alerts {where} {order_by(columns)} LIMIT ? OFFSET ?",
                [*args, q.limit, q.offset],
            ).fetchall()
        return [Alert.from_dict(orjson.loads(r[0])) for r in rows]

    def count(self, q: AlertQuery) -> int:
        where, args = _where(q)
        with self._lock:
            row = self._db.execute(f"SELECT count(*) FROM alerts {where}", args).fetchone()
        return int(row[0])

    def day_counts(self, q: AlertQuery, zone: str) -> list[AlertDayCount]:
        _zone(zone)  # an unknown zone fails here, not inside SQLite
        where, args = _where(q)
        with self._lock:
            rows = self._db.execute(
                f"SELECT local_day(window_start, ?) AS day, organization_id, rule_id, "
                f"count(*) FROM alerts {where} GROUP BY day, organization_id, rule_id",
                [zone, *args]).fetchall()
        counts = [AlertDayCount(datetime.fromisoformat(d).date(), org, rule, int(n))
                  for d, org, rule, n in rows]
        counts.sort(key=lambda c: (c.day, c.organization_id or "", c.rule_id))
        return counts

    def flush(self) -> bool:
        """Nothing is ever queued: every write is committed when it returns."""
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _casefold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day(seconds: float, zone: str) -> str:
    return datetime.fromtimestamp(seconds, _zone(zone)).date().isoformat()


def _incident_words(doc: bytes) -> str:
    return incident_words(Incident.from_dict(orjson.loads(doc)))


def _seconds(us: int | str) -> float:
    """The REAL stored for a window start of ``us`` microseconds (exactly that float)."""
    assert isinstance(us, int)
    return (_EPOCH + timedelta(microseconds=us)).timestamp()


def _row(a: Alert) -> tuple[Any, ...]:
    return (
        a.id,
        a.rule_id,
        a.severity,
        severity_rank(a.severity),
        a.organization_id,
        alert_user(a),
        a.window_start.timestamp(),
        a.window_end.timestamp(),
        a.revision,
        a.explanation,
        orjson.dumps(a.to_dict()),
    )


def _where(q: AlertQuery) -> tuple[str, list[Any]]:
    """The WHERE clause for ``q``: every value is a bound parameter, never spliced in."""
    clauses: list[str] = []
    args: list[Any] = []
    if q.start is not None:
        clauses.append("window_end >= ?")
        args.append(q.start.timestamp())
    if q.end is not None:
        clauses.append("window_start < ?")
        args.append(q.end.timestamp())
    for column, value in (
        ("organization_id", q.organization_id),
        ("rule_id", q.rule_id),
        ("user_id", q.user_id),
        ("severity", q.severity),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if q.min_severity is not None:
        clauses.append("severity_rank >= ?")
        args.append(SEVERITY_RANK[q.min_severity])
    if q.text:
        clauses.append("instr(casefold(explanation), ?) > 0")
        args.append(q.text.casefold())
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args
