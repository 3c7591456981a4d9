"""The normalized event every sensor emits and every rule reads.

Field names follow the Elastic Common Schema (ECS) so Kibana and Elastic Security read
them as they are; ECS has no patient, so phiwatch adds the ``patient.*`` namespace.

Fields are held *flat*, keyed by their dotted ECS name (``"user.id"``), because the rule
engine looks fields up by name millions of times per replay and one dict lookup is the
cheapest way to do that. ``nested()`` rebuilds the ECS document for storage and display.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: Actions an HIS access event can carry (``event.action``).
HIS_ACTIONS: frozenset[str] = frozenset(
    {"login", "login_failed", "logout", "search", "view", "print", "export", "update"}
)


class Event:
    """One normalized event.

    ``timestamp`` is timezone-aware UTC; ``epoch`` is the same instant in seconds, kept
    because windows compare it on every event. ``ref`` says where the event came from
    (``path:line``) so an alert's evidence can point back at the raw record, and ``id`` is
    a stable fingerprint of the raw record (or the source's own ``event.id``) so that
    replaying the same input yields the same alert ids.
    """

    __slots__ = ("_when", "epoch", "fields", "id", "ref")

    def __init__(
        self, timestamp: datetime, fields: dict[str, Any], ref: str = "", id: str = ""
    ) -> None:
        if timestamp.tzinfo is None:
            raise ValueError("Event timestamps must be timezone-aware")
        # Kept as given: the UTC datetime is only needed for evidence and display, so it
        # is made on demand (``timestamp``) rather than for every event on the hot path.
        self._when = timestamp
        self.epoch = timestamp.timestamp()
        self.fields = fields
        self.ref = ref
        self.id = id

    @property
    def timestamp(self) -> datetime:
        """The event's time, timezone-aware UTC."""
        when = self._when
        return when if when.tzinfo is UTC else when.astimezone(UTC)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of the dotted field ``name`` (``"user.id"``), or ``default``."""
        return self.fields.get(name, default)

    def nested(self) -> dict[str, Any]:
        """The event as a nested ECS document, with ``@timestamp`` in ISO 8601 UTC."""
        doc: dict[str, Any] = {"@timestamp": self.timestamp.isoformat().replace("+00:00", "Z")}
        for dotted, value in self.fields.items():
            node = doc
            *parents, leaf = dotted.split(".")
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[leaf] = value
        return doc

    def __repr__(self) -> str:
        return f"Event({self.timestamp.isoformat()}, {self.fields!r}, ref={self.ref!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.epoch, self.fields, self.id) == (other.epoch, other.fields, other.id)

    __hash__ = None  # type: ignore[assignment]  # mutable
