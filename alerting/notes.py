"""Notes on an incident: what an analyst or an inspector wrote, and evidence requests.

Notes live beside the incident, not inside it: adding one never races the grouper or a
status change for the incident's version, and a note is never rewritten once stored.
An ``evidence_request`` is the Inspectorate asking the hospital for the records behind an
incident (the hospital answers with a note of its own and the evidence outside phiwatch).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

NOTE_KINDS: tuple[str, ...] = ("note", "evidence_request")
MAX_NOTE_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    incident_id: str
    organization_id: str | None
    at: datetime
    actor: str
    role: str | None
    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in NOTE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NOTE_KINDS)}, not {self.kind!r}")
        if not self.text.strip():
            raise ValueError("a note needs some text")
        if len(self.text) > MAX_NOTE_CHARS:
            raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters")
        if not self.actor.strip():
            raise ValueError("a note needs the actor who writes it")
        if self.at.tzinfo is None:
            raise ValueError("a note's time must be timezone-aware")

    @classmethod
    def new(cls, incident_id: str, organization_id: str | None, actor: str,
            role: str | None, kind: str, text: str, at: datetime | None = None) -> Note:
        return cls(uuid.uuid4().hex, incident_id, organization_id,
                   (at or datetime.now(UTC)).astimezone(UTC), actor, role, kind, text.strip())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "incident_id": self.incident_id,
                "organization_id": self.organization_id, "at": self.at.isoformat(),
                "actor": self.actor, "role": self.role, "kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Note:
        return cls(d["id"], d["incident_id"], d.get("organization_id"),
                   datetime.fromisoformat(d["at"]), d["actor"], d.get("role"), d["kind"],
                   d["text"])


class NoteStore(Protocol):
    """Notes, append-only, kept by both stores."""

    def add_note(self, note: Note) -> Note: ...

    def notes_of(self, incident_id: str) -> list[Note]:
        """The incident's notes, oldest first (then by id)."""
        ...
