"""The alert the rule engine raises and every store keeps.

An alert's id is derived from the rule, the group key and the window start only, so a
retry, a replay of the same logs, or a restart from a snapshot produces the same id and a
store that upserts by id never holds the alert twice.

An alert can be emitted more than once with the same id while its episode grows (first
when the threshold is crossed, so the IT team hears of it at once; again when the episode
closes, with the final numbers). ``revision`` orders those versions: a store keeps the
highest, so a re-emitted early version after a crash never overwrites a later one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

SEVERITIES: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")


def alert_id(rule_id: str, group: Mapping[str, Any], window_start: datetime,
             organization_id: str | None = None) -> str:
    """Deterministic id: the same hospital, rule, group and window always give the same
    id, and two hospitals sharing one store never collide (``nv00001`` works at both)."""
    canonical = orjson.dumps(
        [organization_id or "", rule_id, sorted((k, str(v)) for k, v in group.items()),
         window_start.isoformat()],
    )
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class EventRef:
    """Where one piece of evidence came from: ``path:line``, the event id and its time."""

    ref: str
    event_id: str
    timestamp: datetime

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "id": self.event_id, "@timestamp": self.timestamp.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> EventRef:
        return cls(d["ref"], d["id"], datetime.fromisoformat(d["@timestamp"]))


@dataclass(slots=True)
class Alert:
    """One alert: what fired, for whom, over which window, why, and on what evidence."""

    id: str
    rule_id: str
    rule_title: str
    severity: str
    group: dict[str, str]
    window_start: datetime
    window_end: datetime
    event_count: int
    explanation: str
    first_event: EventRef
    last_event: EventRef
    sample: list[EventRef] = field(default_factory=list)
    value_count: int | None = None
    organization_id: str | None = None
    tags: list[str] = field(default_factory=list)
    #: ECS context copied from the evidence (``user.id``, ``source.ip``, ``host.name`` …).
    context: dict[str, Any] = field(default_factory=dict)
    #: Rule-specific numbers behind the explanation (thresholds, baselines).
    metrics: dict[str, float] = field(default_factory=dict)
    revision: int = 0
    final: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_dict`` reads it back unchanged."""
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "severity": self.severity,
            "group": dict(self.group),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "event_count": self.event_count,
            "value_count": self.value_count,
            "explanation": self.explanation,
            "first_event": self.first_event.to_dict(),
            "last_event": self.last_event.to_dict(),
            "sample": [r.to_dict() for r in self.sample],
            "organization_id": self.organization_id,
            "tags": list(self.tags),
            "context": dict(self.context),
            "metrics": dict(self.metrics),
            "revision": self.revision,
            "final": self.final,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        return cls(
            id=d["id"],
            rule_id=d["rule_id"],
            rule_title=d["rule_title"],
            severity=d["severity"],
            group=dict(d["group"]),
            window_start=datetime.fromisoformat(d["window_start"]),
            window_end=datetime.fromisoformat(d["window_end"]),
            event_count=int(d["event_count"]),
            value_count=d.get("value_count"),
            explanation=d["explanation"],
            first_event=EventRef.from_dict(d["first_event"]),
            last_event=EventRef.from_dict(d["last_event"]),
            sample=[EventRef.from_dict(r) for r in d.get("sample", [])],
            organization_id=d.get("organization_id"),
            tags=list(d.get("tags", [])),
            context=dict(d.get("context", {})),
            metrics=dict(d.get("metrics", {})),
            revision=int(d.get("revision", 0)),
            final=bool(d.get("final", False)),
        )
