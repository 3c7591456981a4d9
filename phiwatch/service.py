"""The use cases the command line calls now and the API calls next: plain data in and out.

Each function takes a store (any backend: ``alerting.store.AlertStore``, and the incident
methods of ``alerting.incident_store.IncidentStore``) and returns plain data; rendering
is ``phiwatch.render``'s job. Errors are the ``PhiwatchError`` family, each with a
message meant for the operator (``IncidentNotFound``, ``TransitionError``,
``ConflictError`` for incidents).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alerting.incident import Incident, IncidentNotFound
from alerting.incident_store import IncidentQuery, IncidentStore
from alerting.store import AlertQuery, AlertStore
from rules.alert import Alert
from rules.loader import RuleError, load_rules


@dataclass(frozen=True, slots=True)
class AlertPage:
    """One page of alerts and how many match in all."""

    query: AlertQuery
    total: int
    alerts: list[Alert]

    @property
    def more(self) -> bool:
        """Whether more alerts match than this page shows."""
        return self.query.offset + len(self.alerts) < self.total


def search_alerts(store: AlertStore, q: AlertQuery) -> AlertPage:
    """A page of alerts matching ``q``, newest first, with the total."""
    return AlertPage(q, store.count(q), store.query(q))


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One page of incidents and how many match in all."""

    query: IncidentQuery
    total: int
    incidents: list[Incident]


def list_incidents(store: IncidentStore, q: IncidentQuery) -> IncidentPage:
    return IncidentPage(q, store.count_incidents(q), store.query_incidents(q))


def show_incident(store: IncidentStore, incident_id: str) -> Incident:
    """The incident, or ``IncidentNotFound``."""
    incident = store.get_incident(incident_id.strip())
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


def change_incident_status(
    store: IncidentStore,
    incident_id: str,
    to: str,
    actor: str,
    note: str = "",
    expected_version: int | None = None,
    role: str | None = None,
) -> Incident:
    """Move the status. Pass ``expected_version`` (as ``show`` printed it) so a change
    made by someone else since is a ``ConflictError`` rather than decided over."""
    return store.change_status(incident_id.strip(), to, actor, note, expected_version,
                               role=role)


@dataclass(frozen=True, slots=True)
class RuleValidation:
    """What ``rules validate`` found: every problem, and how many rules are ready."""

    errors: list[RuleError]
    ready: int

    @property
    def ok(self) -> bool:
        return not any(e.is_error for e in self.errors)


def validate_rules(dirs: Iterable[str | Path]) -> RuleValidation:
    """Parse and compile every rule under ``dirs``."""
    ruleset = load_rules(dirs)
    return RuleValidation(ruleset.errors, len(ruleset))
