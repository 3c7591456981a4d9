"""The incident half of the store interface, answered alike by SQLite and Elasticsearch.

Both backends keep incidents as whole documents with a ``version`` and write them only by
compare-and-set (``save_incident(incident, expected_version)``): the grouper adding an
alert and two analysts changing a status all read, change and write back, and whoever
wrote in between makes the later write fail with ``ConflictError`` instead of being
silently overwritten. SQLite checks the version column inside the UPDATE; Elasticsearch
writes with ``if_seq_no``/``if_primary_term`` of the version it read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from alerting.incident import (
    STATUSES,
    ConflictError,
    Incident,
    IncidentNotFound,
    transition,
)
from alerting.store import SEVERITY_RANK
from rules.alert import SEVERITIES

#: Deepest page either backend serves (Elasticsearch's default ``max_result_window``).
MAX_WINDOW = 10_000


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """A search over incidents. Every filter is optional.

    ``start``/``end`` select incidents whose span (first alert's window start to last
    alert's window end) overlaps ``[start, end)``. ``principal`` is the alert user.
    ``min_severity`` keeps the incident's highest severity and above. Order is stable:
    first seen descending, then id; ``offset + limit`` is at most 10,000.
    """

    start: datetime | None = None
    end: datetime | None = None
    organization_id: str | None = None
    principal: str | None = None
    status: str | None = None
    min_severity: str | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.min_severity is not None and self.min_severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}, "
                             f"not {self.min_severity!r}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, "
                             f"not {self.status!r}")
        if not 0 < self.limit <= MAX_WINDOW:
            raise ValueError(f"limit must be between 1 and {MAX_WINDOW}")
        if self.offset < 0 or self.offset + self.limit > MAX_WINDOW:
            raise ValueError(f"offset must be between 0 and {MAX_WINDOW} - limit")


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
        return q.min_severity is None or i.severity_rank >= SEVERITY_RANK[q.min_severity]
    return keep


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
