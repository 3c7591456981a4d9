"""Incident notes in the embedded SQLite store: one row per note, never updated."""

from __future__ import annotations

import sqlite3
import threading

import orjson

from alerting.notes import Note
from alerting.store import micros

NOTE_SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_notes (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL,
    organization_id TEXT,
    at_us           INTEGER NOT NULL,
    doc             BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_notes_incident ON incident_notes (incident_id, at_us, id);
"""


class SQLiteNotes:
    """The ``NoteStore`` methods, mixed into ``SQLiteAlertStore`` (needs ``_db``, ``_lock``)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def add_note(self, note: Note) -> Note:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO incident_notes (id, incident_id, organization_id, at_us, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (note.id, note.incident_id, note.organization_id, micros(note.at),
                 orjson.dumps(note.to_dict())))
        return note

    def notes_of(self, incident_id: str) -> list[Note]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM incident_notes WHERE incident_id = ? ORDER BY at_us, id",
                (incident_id,)).fetchall()
        return [Note.from_dict(orjson.loads(r[0])) for r in rows]
