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

#: ``event.dataset`` of each kind of event a sensor emits: the rule engine routes an event
#: only to the rules whose Sigma logsource maps to its dataset (``rules.logsource``).
HIS_ACCESS = "his.access"
#: HIS events that are not a person's access (an application starting, a job with no
#: human user): no rule reads them, so they never count as a user's search or view.
HIS_SYSTEM = "his.system"
NETWORK_FLOW = "network.flow"
NETWORK_DNS = "network.dns"
#: Web proxy access logs (Squid).
NETWORK_PROXY = "network.proxy"
#: Every dataset a phiwatch sensor emits.
DATASETS: frozenset[str] = frozenset(
    {HIS_ACCESS, HIS_SYSTEM, NETWORK_FLOW, NETWORK_DNS, NETWORK_PROXY})

#: Actions an HIS access event can carry (``event.action``).
HIS_ACTIONS: frozenset[str] = frozenset(
    {"login", "login_failed", "logout", "search", "view", "print", "export", "update"}
)


class Event:
    """One normalized event.

    ``timestamp`` is timezone-aware UTC; ``epoch`` is the same instant in seconds, kept
    because windows compare it on every event. ``ref`` says where the event came from
    (``path:line``) so an alert's evidence can point back at the raw record, and ``id`` is
    a key of the normalised content (``sensors.parsers.base``): the same access read from
    JSON, CSV or FHIR has the same id, so replaying any shape yields the same alert ids.
    """

    __slots__ = ("_when", "epoch", "fields", "id", "offset", "ref")

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
        #: Byte offset of the record in its file (``ref``), -1 when it has none: a record
        #: dead-lettered after parsing (late) is copied from there as it was written.
        self.offset = -1

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

    def to_record(self) -> dict[str, Any]:
        """The event as plain JSON data, for a snapshot (``from_record`` reads it back)."""
        return {"t": self.epoch, "f": self.fields, "r": self.ref, "i": self.id,
                "o": self.offset}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Event:
        event = cls(datetime.fromtimestamp(float(d["t"]), UTC), dict(d["f"]), str(d["r"]),
                    str(d["i"]))
        event.epoch = float(d["t"])  # exactly as it was (the order key compares it)
        event.offset = int(d.get("o", -1))
        return event

    def __repr__(self) -> str:
        return f"Event({self.timestamp.isoformat()}, {self.fields!r}, ref={self.ref!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.epoch, self.fields, self.id) == (other.epoch, other.fields, other.id)

    __hash__ = None  # type: ignore[assignment]  # mutable
