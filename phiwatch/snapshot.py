"""One consistent picture of the running pipeline, written atomically.

A snapshot holds, taken at one instant between two batches: the file positions (every line
before them fully processed and its alerts committed to the store), the rule engine's window
state, the size of the dead-letter file, and the counters. Restarting from it and reading
the files from those positions gives exactly the alerts an uninterrupted run would have
given: alerts re-raised for the lines after the snapshot carry the same ids and are
absorbed by the store, and dead letters past the recorded size are cut off first.

Written to a temporary file, fsynced, then renamed over the old one (and the folder
fsynced), so a crash at any point leaves either the old snapshot or the new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT_VERSION = 1


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

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "version": FORMAT_VERSION,
                "positions": self.positions,
                "engine": self.engine,
                "dead_letter_size": self.dead_letter_size,
                "counters": self.counters,
                "rules_digest": self.rules_digest,
                "held": self.held,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Snapshot:
        d = orjson.loads(data)
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(f"snapshot format {d.get('version')!r} is not {FORMAT_VERSION}")
        return cls(
            positions=list(d["positions"]),
            engine=dict(d["engine"]),
            dead_letter_size=int(d["dead_letter_size"]),
            counters={k: int(v) for k, v in d.get("counters", {}).items()},
            rules_digest=str(d.get("rules_digest", "")),
            held=list(d.get("held", [])),
        )


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(path: Path, snapshot: Snapshot) -> None:
    write_atomically(path, snapshot.to_bytes())


def load(path: Path) -> Snapshot | None:
    """The snapshot at ``path``, or ``None`` on a first start."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return Snapshot.from_bytes(data)
