"""The incident half of the store interface, answered alike by SQLite and Elasticsearch.

Both backends keep incidents as whole documents with a ``version`` and write them only by
compare-and-set (``save_incident(incident, expected_version)``): the grouper adding an
alert and two analysts changing a status all read, change and write back, and whoever
wrote in between makes the later write fail with ``ConflictError`` instead of being
silently overwritten. SQLite checks the version column inside the UPDATE; Elasticsearch
writes with ``if_seq_no``/``if_primary_term`` of the version it read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from alerting.incident import (
    STATUSES,
    ConflictError,
    Incident,
    IncidentNotFound,
    transition,
)
from alerting.store import SEVERITY_RANK, Keyset, check_keyset, micros
from rules.alert import SEVERITIES

_US = timedelta(microseconds=1)

#: Deepest page either backend serves (Elasticsearch's default ``max_result_window``).
MAX_WINDOW = 10_000

#: Orders a search can ask for, as (key, descending) ending with the id (a total order,
#: so a page can continue after its last item).
#: ``detected`` is detected earliest first: the nearest 72-hour deadline first.
IncidentSort = Literal["newest", "oldest", "severity", "active", "detected"]
INCIDENT_SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "newest": (("first", True), ("id", False)),
    "oldest": (("first", False), ("id", False)),
    "severity": (("severity", True), ("first", True), ("id", False)),
    "active": (("last", True), ("id", False)),
    "detected": (("detected", False), ("id", False)),
}


def incident_keyset(incident: Incident, sort: str) -> Keyset:
    """Where ``incident`` stands in ``sort``: the ``after`` that continues past it."""
    values: dict[str, int | str] = {"first": micros(incident.first_seen),
                                    "last": micros(incident.last_seen),
                                    "detected": micros(incident.detected_at),
                                    "severity": incident.severity_rank, "id": incident.id}
    return tuple(values[key] for key, _ in INCIDENT_SORTS[sort])


def incident_text(incident: Incident) -> str:
    """What a words search looks in: principal, rules, titles, explanations."""
    parts = [incident.principal, *incident.rule_ids]
    for a in incident.alerts:
        parts.extend((a.rule_title, a.explanation))
    return "\n".join(parts)


def incident_words(incident: Incident) -> str:
    """``incident_text`` casefolded, as both stores compare it."""
    return incident_text(incident).casefold()


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """A search over incidents. Every filter is optional.

    ``start``/``end`` select incidents whose span (first alert's window start to last
    alert's window end) overlaps ``[start, end)``. ``principal`` is the alert user.
    ``statuses`` keeps incidents in any of them (with ``status``, both must hold).
    ``min_severity`` keeps the incident's highest severity and above. ``rule_id`` keeps
    incidents with an alert of that rule; ``text`` is a case-insensitive substring of
    ``incident_words`` (plain text, never a query language). Order is ``sort``
    (``INCIDENT_SORTS``, default first seen descending, then id); paging is by ``offset``
    (``offset + limit`` at most 10,000) or by ``after``, the ``incident_keyset`` of the
    last incident of the previous page (stable while incidents are added).
    """

    start: datetime | None = None
    end: datetime | None = None
    organization_id: str | None = None
    principal: str | None = None
    status: str | None = None
    statuses: tuple[str, ...] | None = None
    min_severity: str | None = None
    rule_id: str | None = None
    text: str | None = None
    limit: int = 100
    offset: int = 0
    sort: IncidentSort = "newest"
    after: Keyset | None = None

    def __post_init__(self) -> None:
        if self.sort not in INCIDENT_SORTS:
            raise ValueError(f"sort must be one of {', '.join(INCIDENT_SORTS)}, "
                             f"not {self.sort!r}")
        check_keyset(self.after, INCIDENT_SORTS[self.sort])
        if self.after is not None and self.offset:
            raise ValueError("after and offset exclude each other")
        if self.min_severity is not None and self.min_severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}, "
                             f"not {self.min_severity!r}")
        for status in (self.status, *(self.statuses or ())):
            if status is not None and status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}, "
                                 f"not {status!r}")
        if self.statuses is not None and not self.statuses:
            raise ValueError("statuses, when given, names at least one status")
        if not 0 < self.limit <= MAX_WINDOW:
            raise ValueError(f"limit must be between 1 and {MAX_WINDOW}")
        if self.offset < 0 or self.offset + self.limit > MAX_WINDOW:
            raise ValueError(f"offset must be between 0 and {MAX_WINDOW} - limit")


#: Upper bounds (exclusive, ascending) of the age buckets but the last, which is older.
AgeBounds = Sequence[timedelta]


def age_bucket(age: timedelta, bounds: AgeBounds) -> int:
    """Which bucket an incident ``age`` old (``now - detected_at``) falls in (the contract:
    the first whose bound it is under; a negative age is in the first)."""
    return next((n for n, bound in enumerate(bounds) if age < bound), len(bounds))


def detected_after(now: datetime, bounds: AgeBounds) -> list[int]:
    """Per bound, the ``detected_at`` in microseconds that an incident younger than it is
    detected after (``now - detected_at < bound`` is ``detected_us > now_us - bound_us``,
    exactly, in integers)."""
    return [micros(now) - bound // _US for bound in bounds]


def age_query(q: IncidentQuery, statuses: Sequence[str]) -> IncidentQuery:
    """``q``'s filters for ``count_incidents_by_age``: ``statuses`` instead of its own,
    no paging; words refused (see there)."""
    if q.text:
        raise ValueError("incident ages are counted without a text filter")
    return replace(q, status=None, statuses=tuple(statuses), after=None, offset=0)


@runtime_checkable
class IncidentStore(Protocol):
    """What the grouper writes and the command line and API read and change."""

    def get_incident(self, incident_id: str) -> Incident | None: ...

    def incident_of_alert(self, alert_id: str) -> Incident | None:
        """The incident an alert has joined, if any."""
        ...

    def save_incident(self, incident: Incident, expected_version: int | None) -> Incident:
        """Compare-and-set write; ``expected_version`` None creates. Returns the stored
        incident (its new version); ``ConflictError`` when the stored version differs
        (or, on create, when the id exists)."""
        ...

    def query_incidents(self, q: IncidentQuery) -> list[Incident]: ...

    def count_incidents(self, q: IncidentQuery) -> int: ...

    def count_incidents_by_age(self, q: IncidentQuery, statuses: Sequence[str],
                               now: datetime, bounds: AgeBounds) -> dict[str, list[int]]:
        """Incidents matching ``q``'s filters, of each of ``statuses``, per age since
        detection at ``now``: ``len(bounds) + 1`` counts per status, as ``age_bucket``
        places them (every status of ``statuses`` is a key). ``q``'s paging, sort and
        status fields are ignored; ``q.text`` is refused (``ValueError``): counting by
        words means reading every incident, which this exists to avoid."""
        ...

    def change_status(
        self,
        incident_id: str,
        to: str,
        actor: str,
        note: str = "",
        expected_version: int | None = None,
        *,
        role: str | None = None,
        at: datetime | None = None,
    ) -> Incident: ...


def change_status_cas(
    store: IncidentStore,
    incident_id: str,
    to: str,
    actor: str,
    note: str,
    expected_version: int | None,
    *,
    role: str | None = None,
    at: datetime | None = None,
    attempts: int = 5,
) -> Incident:
    """``change_status`` for any store, on top of ``get_incident`` and ``save_incident``.

    With ``expected_version`` the caller decided on what they saw: any other version is a
    ``ConflictError``. Without it, the change applies to whatever is current (the
    transition is checked against that), retried when a concurrent write slips in.
    """
    when = at or datetime.now(UTC)
    for _ in range(attempts):
        current = store.get_incident(incident_id)
        if current is None:
            raise IncidentNotFound(incident_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(incident_id, expected_version, current.version)
        changed = transition(current, to, actor, note, when, role)
        try:
            return store.save_incident(changed, current.version)
        except ConflictError:
            if expected_version is not None:
                raise
    raise ConflictError(incident_id, expected_version, None,
                        f"kept changing during {attempts} attempts; try again")


def stored(incident: Incident, version: int) -> Incident:
    """``incident`` as the store now holds it."""
    return replace(incident, version=version)


Matcher = Callable[[Incident], bool]


def matches(q: IncidentQuery) -> Matcher:
    """The contract in plain Python (tests compare both backends with it)."""
    def keep(i: Incident) -> bool:
        if q.start is not None and not i.last_seen >= q.start:
            return False
        if q.end is not None and not i.first_seen < q.end:
            return False
        if q.organization_id is not None and i.organization_id != q.organization_id:
            return False
        if q.principal is not None and i.principal != q.principal:
            return False
        if q.status is not None and i.status != q.status:
            return False
        if q.statuses is not None and i.status not in q.statuses:
            return False
        if q.rule_id is not None and q.rule_id not in i.rule_ids:
            return False
        if q.text and q.text.casefold() not in incident_words(i):
            return False
        return q.min_severity is None or i.severity_rank >= SEVERITY_RANK[q.min_severity]
    return keep


def ordered(incidents: list[Incident], q: IncidentQuery) -> list[Incident]:
    """``incidents`` in ``q.sort`` order, those after ``q.after`` only (the contract)."""
    keys = INCIDENT_SORTS[q.sort]

    def flip(i: Incident) -> tuple[int | str, ...]:
        return tuple(_desc(v) if desc else v
                     for v, (_, desc) in zip(incident_keyset(i, q.sort), keys, strict=True))

    result = sorted(incidents, key=flip)
    if q.after is not None:
        mark = tuple(_desc(v) if desc else v
                     for v, (_, desc) in zip(q.after, keys, strict=True))
        result = [i for i in result if flip(i) > mark]
    return result


def _desc(v: int | str) -> int | str:
    if isinstance(v, str):
        raise ValueError("only numbers sort descending")
    return -v


class StatusChanges:
    """``change_status`` for a store that has ``get_incident`` and ``save_incident``.

    Both backends inherit it: the compare-and-set loop lives once, in ``change_status_cas``.
    """

    def change_status(
        self,
        incident_id: str,
        to: str,
        actor: str,
        note: str = "",
        expected_version: int | None = None,
        *,
        role: str | None = None,
        at: datetime | None = None,
    ) -> Incident:
        return change_status_cas(self, incident_id, to, actor, note,  # type: ignore[arg-type]
                                 expected_version, role=role, at=at)
