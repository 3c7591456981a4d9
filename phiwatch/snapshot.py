"""One consistent picture of the running pipeline, kept in SQLite and written in increments.

A snapshot holds, taken at one instant between two batches: the file positions (every
line before them read), the events read but not yet released by the event-time merge,
the rule engine's state, the size of the dead-letter file, and the counters. Restarting
from it and reading the files from those positions gives exactly the alerts an
uninterrupted run would have given: alerts re-raised for the lines after the snapshot carry
the same ids and are absorbed by the store, and dead letters past the recorded size are cut
off first.

Why SQLite and not one JSON file: the engine's state can be large (a rule tracking 50,000
groups during a flood), and a JSON file had to be rewritten whole and fsynced at every
snapshot (94 MB every 5 s in the review's flood). Here each rule's state is a row,
rewritten only when that rule changed (``Engine.snapshot(changed_only=True)``); the rest
is small. One transaction per snapshot, ``synchronous=FULL``: a crash leaves the old
snapshot or the new one, never a mix.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT_VERSION = 2


@dataclass(slots=True)
class Snapshot:
    """What a restart resumes from."""

    positions: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    dead_letter_size: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    rules_digest: str = ""
    #: Events read but not yet released by the event-time merge (``Event.to_record``).
    held: list[dict[str, Any]] = field(default_factory=list)
    #: Remote sensors' streams (``sensor/stream``) → the last batch read from the journal.
    remote: dict[str, int] = field(default_factory=dict)


class SnapshotStore:
    """The snapshot database (``state_dir/state.db``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS rule_state (rule_id TEXT PRIMARY KEY, data BLOB)")

    def save(self, snapshot: Snapshot) -> None:
        """Write ``snapshot`` in one transaction. ``snapshot.engine`` may hold only the
        states that changed (its ``rules`` lists them all: rows of others are dropped)."""
        engine = dict(snapshot.engine)
        states: dict[str, Any] = engine.pop("correlations", {})
        loaded: list[str] = engine.get("rules", sorted(states))
        meta = {
            "version": FORMAT_VERSION,
            "positions": snapshot.positions,
            "engine": engine,
            "dead_letter_size": snapshot.dead_letter_size,
            "counters": snapshot.counters,
            "rules_digest": snapshot.rules_digest,
            "held": snapshot.held,
            "remote": snapshot.remote,
        }
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('snapshot', ?)", (orjson.dumps(meta),))
            db.executemany("INSERT OR REPLACE INTO rule_state VALUES (?, ?)",
                           [(rid, orjson.dumps(data)) for rid, data in states.items()])
            keep = set(loaded)
            gone = [r for (r,) in db.execute("SELECT rule_id FROM rule_state") if r not in keep]
            db.executemany("DELETE FROM rule_state WHERE rule_id = ?", [(r,) for r in gone])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def load(self) -> Snapshot | None:
        """The last snapshot, or ``None`` on a first start."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'snapshot'").fetchone()
        if row is None:
            return None
        meta = orjson.loads(row[0])
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: snapshot format {meta.get('version')!r} is not "
                             f"{FORMAT_VERSION}")
        engine = dict(meta["engine"])
        engine["correlations"] = {rid: orjson.loads(data) for rid, data in
                                  self._db.execute("SELECT rule_id, data FROM rule_state")}
        return Snapshot(
            positions=list(meta["positions"]), engine=engine,
            dead_letter_size=int(meta["dead_letter_size"]),
            counters={k: int(v) for k, v in meta.get("counters", {}).items()},
            rules_digest=str(meta.get("rules_digest", "")), held=list(meta.get("held", [])),
            remote={str(k): int(v) for k, v in meta.get("remote", {}).items()},
        )

    def size(self) -> int:
        """Bytes on disk (database and write-ahead log), for the status page."""
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(
            self.path.name + "-wal")) if p.exists())

    def close(self) -> None:
        self._db.close()


def migrate_json(old: Path, store: SnapshotStore) -> None:
    """A ``state.json`` of phiwatch before 0.2 becomes the first snapshot of the store
    (once: the JSON file is renamed ``state.json.migrated``)."""
    if not old.exists() or store.load() is not None:
        return
    d = orjson.loads(old.read_bytes())
    store.save(Snapshot(
        positions=list(d.get("positions", [])), engine=dict(d.get("engine", {})),
        dead_letter_size=int(d.get("dead_letter_size", 0)),
        counters={k: int(v) for k, v in d.get("counters", {}).items()},
        rules_digest=str(d.get("rules_digest", "")), held=list(d.get("held", []))))
    old.rename(old.with_name(old.name + ".migrated"))
