"""Incidents in the embedded SQLite store: two tables beside ``alerts``, created if missing.

``incidents`` holds each incident as JSON plus the columns queries filter on, times in
integer microseconds (exact, like the Elasticsearch store's ``*_us`` fields). The version
check is the UPDATE's own ``WHERE version = ?``: SQLite runs it under the write lock, so of
two writers holding the same version exactly one changes the row. ``incident_alerts``
maps each alert id to its incident, so re-processing an alert finds where it went.

``detected_us`` (the 72-hour clock's start) came later than the other columns: a file
made before it gets the column, filled from each incident's JSON, when a store opens it
(``ensure_incident_schema``, once, under the write lock).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from alerting.incident import ConflictError, Incident
from alerting.incident_store import (
    INCIDENT_SORTS,
    AgeBounds,
    IncidentQuery,
    StatusChanges,
    age_query,
    detected_after,
    stored,
)
from alerting.sqlite_order import after_clause, order_by
from alerting.store import SEVERITY_RANK

INCIDENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    principal       TEXT NOT NULL,
    status          TEXT NOT NULL,
    severity_rank   INTEGER NOT NULL,
    first_us        INTEGER NOT NULL,
    last_us         INTEGER NOT NULL,
    detected_us     INTEGER,
    version         INTEGER NOT NULL,
    doc             BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_time ON incidents (first_us DESC, id);
CREATE INDEX IF NOT EXISTS incidents_principal ON incidents (principal, last_us);
CREATE TABLE IF NOT EXISTS incident_alerts (
    alert_id    TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL
);
"""

#: Made after the column exists (a file from before ``detected_us`` gets it first).
_DETECTED_INDEX = ("CREATE INDEX IF NOT EXISTS incidents_detected "
                   "ON incidents (detected_us, id)")

_COLUMNS = {"first": "first_us", "last": "last_us", "detected": "detected_us",
            "severity": "severity_rank", "id": "id"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(dt: datetime) -> int:
    return (dt.astimezone(UTC) - _EPOCH) // _US


def ensure_incident_schema(db: sqlite3.Connection) -> None:
    """The incident tables, and ``detected_us`` filled in a file made before it."""
    db.executescript(INCIDENT_SCHEMA)
    if not _has_detected(db):
        db.create_function("detected_us_of", 1, _detected_us_of, deterministic=True)
        db.execute("BEGIN IMMEDIATE")  # another process may be doing the same
        try:
            if not _has_detected(db):
                db.execute("ALTER TABLE incidents ADD COLUMN detected_us INTEGER")
                db.execute("UPDATE incidents SET detected_us = detected_us_of(doc)")
            db.commit()
        except BaseException:
            db.rollback()
            raise
    db.execute(_DETECTED_INDEX)


def _has_detected(db: sqlite3.Connection) -> bool:
    return any(row[1] == "detected_us"
               for row in db.execute("PRAGMA table_info(incidents)").fetchall())


def _detected_us_of(doc: bytes) -> int:
    return _us(datetime.fromisoformat(orjson.loads(doc)["detected_at"]))


class SQLiteIncidents(StatusChanges):
    """The ``IncidentStore`` methods, mixed into ``SQLiteAlertStore`` (needs ``_db``)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def get_incident(self, incident_id: str) -> Incident | None:
        with self._lock:
            row = self._db.execute("SELECT doc, version FROM incidents WHERE id = ?",
                                   (incident_id,)).fetchone()
        return _load(row) if row else None

    def incident_of_alert(self, alert_id: str) -> Incident | None:
        with self._lock:
            row = self._db.execute(
                "SELECT i.doc, i.version FROM incident_alerts a JOIN incidents i "
                "ON i.id = a.incident_id WHERE a.alert_id = ?", (alert_id,)).fetchone()
        return _load(row) if row else None

    def save_incident(self, incident: Incident, expected_version: int | None) -> Incident:
        with self._lock:
            return self._save_incident(incident, expected_version)

    def _save_incident(self, incident: Incident, expected_version: int | None) -> Incident:
        version = 1 if expected_version is None else expected_version + 1
        new = stored(incident, version)
        doc = orjson.dumps(new.to_dict())
        cols = (incident.organization_id, incident.principal, incident.status,
                SEVERITY_RANK[incident.severity], _us(incident.first_seen),
                _us(incident.last_seen), _us(incident.detected_at), version, doc)
        db = self._db
        with db:
            if expected_version is None:
                try:
                    db.execute(
                        "INSERT INTO incidents (organization_id, principal, status, "
                        "severity_rank, first_us, last_us, detected_us, version, doc, id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*cols, incident.id))
                except sqlite3.IntegrityError:
                    raise ConflictError(incident.id, None, None) from None
            else:
                cur = db.execute(
                    "UPDATE incidents SET organization_id = ?, principal = ?, status = ?, "
                    "severity_rank = ?, first_us = ?, last_us = ?, detected_us = ?, version = ?, "
                    "doc = ? "
                    "WHERE id = ? AND version = ?", (*cols, incident.id, expected_version))
                if cur.rowcount != 1:
                    row = db.execute("SELECT version FROM incidents WHERE id = ?",
                                     (incident.id,)).fetchone()
                    raise ConflictError(incident.id, expected_version,
                                        int(row[0]) if row else None)
            db.executemany(
                "INSERT OR IGNORE INTO incident_alerts (alert_id, incident_id) VALUES (?, ?)",
                [(a, incident.id) for a in incident.alert_ids])
        return new

    def query_incidents(self, q: IncidentQuery) -> list[Incident]:
        where, args = _where(q)
        columns = [(_COLUMNS[key], desc) for key, desc in INCIDENT_SORTS[q.sort]]
        if q.after is not None:
            clause, more = after_clause(columns, q.after)
            where = f"{where} AND {clause}" if where else f"WHERE {clause}"
            args = [*args, *more]
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc, version FROM incidents {where} {order_by(columns)} "
                f"LIMIT ? OFFSET ?", [*args, q.limit, q.offset]).fetchall()
        return [_load(r) for r in rows]

    def count_incidents(self, q: IncidentQuery) -> int:
        where, args = _where(q)
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM incidents {where}",
                                        args).fetchone()[0])

    def count_incidents_by_age(self, q: IncidentQuery, statuses: Sequence[str],
                               now: datetime, bounds: AgeBounds) -> dict[str, list[int]]:
        """One GROUP BY: each incident's bucket is the first bound it is younger than."""
        counts = {s: [0] * (len(bounds) + 1) for s in statuses}
        if not statuses:
            return counts
        where, args = _where(age_query(q, statuses))
        cuts = detected_after(now, bounds)
        bucket = ("CASE " + " ".join(f"WHEN detected_us > ? THEN {n}"
                                     for n in range(len(cuts)))
                  + f" ELSE {len(cuts)} END") if cuts else "0"
        with self._lock:
            rows = self._db.execute(
                f"SELECT status, {bucket} AS bucket, count(*) FROM incidents {where} "
                "GROUP BY status, bucket", [*cuts, *args]).fetchall()
        for status, n, count in rows:
            counts[status][n] = int(count)
        return counts


def _load(row: Any) -> Incident:
    incident = Incident.from_dict(orjson.loads(row[0]))
    incident.version = int(row[1])
    return incident


def _where(q: IncidentQuery) -> tuple[str, list[Any]]:
    """Every value a bound parameter, never spliced in."""
    clauses: list[str] = []
    args: list[Any] = []
    if q.start is not None:
        clauses.append("last_us >= ?")
        args.append(_us(q.start))
    if q.end is not None:
        clauses.append("first_us < ?")
        args.append(_us(q.end))
    for column, value in (("organization_id", q.organization_id),
                          ("principal", q.principal), ("status", q.status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if q.statuses is not None:
        clauses.append(f"status IN ({', '.join('?' * len(q.statuses))})")
        args.extend(q.statuses)
    if q.min_severity is not None:
        clauses.append("severity_rank >= ?")
        args.append(SEVERITY_RANK[q.min_severity])
    if q.rule_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(CAST(doc AS TEXT), '$.rule_ids') "
                       "WHERE value = ?)")
        args.append(q.rule_id)
    if q.text:
        clauses.append("instr(incident_words(doc), ?) > 0")
        args.append(q.text.casefold())
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args
