"""The embedded default store: one SQLite file in WAL mode, no server to run.

Each alert is one row: the columns the queries filter on, and the whole alert as JSON.
WAL lets the API and the command line read while the pipeline writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from alerting.sqlite_incidents import INCIDENT_SCHEMA, SQLiteIncidents
from alerting.store import SEVERITY_RANK, AlertQuery, WriteResult, alert_user
from rules.alert import Alert

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


class SQLiteAlertStore(SQLiteIncidents):
    """``AlertStore`` on a SQLite file; also the ``IncidentStore`` (``sqlite_incidents``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        # SQLite's lower() folds ASCII only; explanations carry Vietnamese names.
        self._db.create_function("casefold", 1, _casefold, deterministic=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an alert is on disk before ``write`` returns, so the run loop's position
        # snapshot (fsynced after it) can never be ahead of alerts a power loss took.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._db.executescript(INCIDENT_SCHEMA)

    def write(self, alerts: Sequence[Alert]) -> WriteResult:
        if not alerts:
            return WriteResult()
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
        row = self._db.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return Alert.from_dict(orjson.loads(row[0])) if row else None

    def query(self, q: AlertQuery) -> list[Alert]:
        where, args = _where(q)
        rows = self._db.execute(
            f"SELECT doc FROM alerts {where} ORDER BY window_start DESC, id LIMIT ? OFFSET ?",
            [*args, q.limit, q.offset],
        )
        return [Alert.from_dict(orjson.loads(r[0])) for r in rows]

    def count(self, q: AlertQuery) -> int:
        where, args = _where(q)
        row = self._db.execute(f"SELECT count(*) FROM alerts {where}", args).fetchone()
        return int(row[0])

    def flush(self) -> bool:
        """Nothing is ever queued: every write is committed when it returns."""
        return True

    def close(self) -> None:
        self._db.close()


def _casefold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def _row(a: Alert) -> tuple[Any, ...]:
    return (
        a.id,
        a.rule_id,
        a.severity,
        SEVERITY_RANK.get(a.severity, SEVERITY_RANK["medium"]),
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
