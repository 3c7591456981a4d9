"""The use cases the command line and the API call: plain data in and out.

Each function takes a store (any backend: ``alerting.store.AlertStore``, and the incident
methods of ``alerting.incident_store.IncidentStore``; the API needs ``ServiceStore``) and
returns plain data; rendering is ``phiwatch.render``'s or ``api``'s job. Errors are the
``PhiwatchError`` family, each with a message meant for the operator
(``IncidentNotFound``, ``TransitionError``, ``ConflictError`` for incidents).

Console accounts (add, sign in, change a password, disable) are ``phiwatch.accounts``'s,
re-exported here.

This module is the API's only door to ``alerting`` and ``rules``: what the API needs of
them (types, constants, errors) is imported here and listed in ``__all__``; the report
use cases are its ``reports`` (``phiwatch.report_service``). Every lookup
of one alert or incident takes the caller's ``Scope`` (the hospital a hospital IT user is
limited to), and something of another hospital is "not found", never "forbidden".
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from alerting.audit import AuditEntry, AuditLog, AuditRecord, AuditVerdict, verify_chain
from alerting.incident import (
    STATUSES,
    TRANSITIONS,
    ConflictError,
    Incident,
    IncidentAlert,
    IncidentError,
    IncidentNotFound,
    StatusChange,
    TransitionError,
)
from alerting.incident_store import (
    INCIDENT_SORTS,
    IncidentQuery,
    IncidentStore,
    incident_keyset,
    incident_text,
    incident_words,
)
from alerting.notes import MAX_NOTE_CHARS, NOTE_KINDS, Note, NoteStore
from alerting.reports.pseudonym import HmacPseudonymizer
from alerting.store import (
    ALERT_SORTS,
    AlertBrowser,
    AlertDayCount,
    AlertQuery,
    AlertStore,
    Keyset,
    alert_keyset,
)
from phiwatch import report_service as reports
from phiwatch.accounts import (
    Account,
    AccountError,
    AccountExists,
    AccountNotFound,
    add_account,
    authenticate,
    get_account,
    list_accounts,
    set_disabled,
    set_password,
)
from phiwatch.config import Config
from phiwatch.rules_state import RulesState, load_rules_state, set_enabled
from rules.alert import SEVERITIES, Alert, EventRef
from rules.loader import RuleError, load_rules
from sensors.errors import PhiwatchError, StoreError

__all__ = [
    "AGE_BUCKETS",
    "ALERT_SORTS",
    "INCIDENT_SORTS",
    "MAX_NOTE_CHARS",
    "NOTE_KINDS",
    "SEVERITIES",
    "STATUSES",
    "TRANSITIONS",
    "Account",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "Alert",
    "AlertDayCount",
    "AlertNotFound",
    "AlertQuery",
    "AuditEntry",
    "AuditRecord",
    "AuditVerdict",
    "ConflictError",
    "EventRef",
    "HmacPseudonymizer",
    "Incident",
    "IncidentAlert",
    "IncidentError",
    "IncidentNotFound",
    "IncidentQuery",
    "Keyset",
    "Note",
    "RuleInfo",
    "RuleNotFound",
    "Scope",
    "ServiceStore",
    "StatusChange",
    "StoreError",
    "TransitionError",
    "add_account",
    "authenticate",
    "get_account",
    "incident_text",
    "incident_words",
    "list_accounts",
    "reports",
    "set_disabled",
    "set_password",
]


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


# -- the API's use cases ---------------------------------------------------------------------

T = TypeVar("T")


class ServiceStore(AlertStore, AlertBrowser, IncidentStore, NoteStore, AuditLog, Protocol):
    """Everything the API asks of a store; both shipped backends are one."""


_SERVICE_METHODS = ("query", "count", "get_many", "day_counts", "get_incident",
                    "query_incidents", "count_incidents", "count_incidents_by_age",
                    "change_status", "add_note",
                    "notes_of", "append_audit", "audit_records", "audit_stored")


def open_api_store(config: Config) -> ServiceStore:
    """The configured store, opened for the API (no alert writing, no spool)."""
    from phiwatch.stores import open_store

    return service_store(open_store(config, read_only=True))


def service_store(store: AlertStore) -> ServiceStore:
    """``store`` as a ``ServiceStore``, or ``StoreError`` naming what it lacks."""
    missing = [m for m in _SERVICE_METHODS if not callable(getattr(store, m, None))]
    if missing:
        raise StoreError(f"the configured store cannot serve the API (it has no "
                         f"{', '.join(missing)})")
    return store  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which hospitals' data a caller may read: one, or all (``organization_id`` None)."""

    organization_id: str | None = None

    def allows(self, organization_id: str | None) -> bool:
        return self.organization_id is None or organization_id == self.organization_id


class AlertNotFound(PhiwatchError, LookupError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert {alert_id}")


class RuleNotFound(PhiwatchError, LookupError):
    def __init__(self, rule_id: str) -> None:
        super().__init__(f"no rule {rule_id} in the configured rule folders")


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One page, and where the next starts (``None``: this was the last).

    ``scanned_out`` says the page stopped early because a filter applied here (words in
    what the caller is shown) rejected too many candidates in a row; ``next_after``
    continues from the last candidate looked at.
    """

    items: list[T]
    next_after: Keyset | None
    scanned_out: bool = False


#: Decides, for a batch of candidates, which to keep (one call per batch, so a filter
#: that needs a round trip of its own makes one per batch, not one per item).
Keep = Callable[[list[T]], list[bool]]


def _keyset_page(
    fetch: Callable[[Keyset | None, int], list[T]],
    key: Callable[[T], Keyset],
    after: Keyset | None,
    limit: int,
    keep: Keep[T] | None,
    max_scan: int,
) -> KeysetPage[T]:
    items: list[T] = []
    scanned = 0
    while True:
        want = limit - len(items) + 1  # one more than needed: is there a next page?
        size = want if keep is None else max(want, 100)
        batch = fetch(after, size)
        verdicts = [True] * len(batch) if keep is None else keep(batch)
        for item, kept in zip(batch, verdicts, strict=True):
            if kept:
                if len(items) == limit:
                    return KeysetPage(items, key(items[-1]))
                items.append(item)
            after = key(item)
        scanned += len(batch)
        if len(batch) < size:
            return KeysetPage(items, None)
        if scanned >= max_scan:
            return KeysetPage(items, after, scanned_out=True)


def alerts_page(store: AlertStore, q: AlertQuery, keep: Keep[Alert] | None = None,
                max_scan: int = 5000) -> KeysetPage[Alert]:
    """A keyset page of alerts (``q.after`` onwards); ``keep`` filters further here."""
    return _keyset_page(lambda after, n: store.query(replace(q, after=after, limit=n,
                                                             offset=0)),
                        lambda a: alert_keyset(a, q.sort), q.after, q.limit, keep, max_scan)


def incidents_page(store: IncidentStore, q: IncidentQuery, keep: Keep[Incident] | None = None,
                   max_scan: int = 5000) -> KeysetPage[Incident]:
    """A keyset page of incidents (``q.after`` onwards); ``keep`` filters further here."""
    return _keyset_page(
        lambda after, n: store.query_incidents(replace(q, after=after, limit=n,
                                                       offset=0)),
        lambda i: incident_keyset(i, q.sort), q.after, q.limit, keep, max_scan)


def alert_total(store: AlertStore, q: AlertQuery) -> int:
    """How many alerts match ``q`` in all (paging ignored)."""
    return store.count(q)


def incident_total(store: IncidentStore, q: IncidentQuery) -> int:
    return store.count_incidents(q)


def notes_of(store: ServiceStore, incident: Incident) -> list[Note]:
    return store.notes_of(incident.id)


def get_alert(store: AlertStore, alert_id: str, scope: Scope) -> Alert:
    alert = store.get(alert_id)
    if alert is None or not scope.allows(alert.organization_id):
        raise AlertNotFound(alert_id)
    return alert


def incident_in_scope(store: IncidentStore, incident_id: str, scope: Scope) -> Incident:
    incident = store.get_incident(incident_id)
    if incident is None or not scope.allows(incident.organization_id):
        raise IncidentNotFound(incident_id)
    return incident


def alerts_of(store: ServiceStore, incidents: Iterable[Incident]) -> dict[str, Alert]:
    """The stored alerts of ``incidents``, by id (one round trip)."""
    return store.get_many([a for i in incidents for a in i.alert_ids])


def change_status_in_scope(store: ServiceStore, incident_id: str, scope: Scope, to: str,
                           actor: str, role: str, comment: str,
                           expected_version: int | None) -> Incident:
    """A status change by a caller limited to ``scope``; the comment is mandatory."""
    incident_in_scope(store, incident_id, scope)
    if not comment.strip():
        raise TransitionError("a status change needs a comment saying why")
    return store.change_status(incident_id, to, actor, comment, expected_version, role=role)


def add_note(store: ServiceStore, incident_id: str, scope: Scope, actor: str, role: str,
             kind: str, text: str) -> Note:
    incident = incident_in_scope(store, incident_id, scope)
    return store.add_note(Note.new(incident.id, incident.organization_id, actor, role,
                                   kind, text))


# -- statistics --------------------------------------------------------------------------------

#: Age buckets of incidents: (label, upper bound) — age is time since detection.
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)), ("1-3d", timedelta(days=3)), ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)), (">30d", None),
)
#: The bounds of ``AGE_BUCKETS`` as the stores take them (all but the last, open one).
AGE_BOUNDS: tuple[timedelta, ...] = tuple(b for _, b in AGE_BUCKETS if b is not None)

#: Per status, incidents per bucket of ``AGE_BUCKETS`` (in its order).
AgeCounts = dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class IncidentStats:
    by_status: dict[str, int]
    #: (status, age bucket) → count.
    by_age: dict[tuple[str, str], int] = field(default_factory=dict)


def alert_day_counts(store: ServiceStore, q: AlertQuery, zone: str) -> list[AlertDayCount]:
    return store.day_counts(q, zone)


def incident_stats(store: IncidentStore, q: IncidentQuery, now: datetime | None = None
                   ) -> IncidentStats:
    """Incidents matching ``q`` by status, and by status and age (since detection),
    counted by the store (one query, no incident read; ``q.text`` is refused)."""
    counts = store.count_incidents_by_age(q, STATUSES, now or datetime.now(UTC), AGE_BOUNDS)
    by_status = {s: sum(counts[s]) for s in STATUSES}
    by_age = {(s, label): n for s in STATUSES
              for (label, _), n in zip(AGE_BUCKETS, counts[s], strict=True) if n}
    return IncidentStats(by_status, by_age)


def incident_age_counts(store: IncidentStore, organization_id: str | None,
                        statuses: Sequence[str], now: datetime) -> AgeCounts:
    """Incidents in each of ``statuses`` (of one hospital, or all) per ``AGE_BUCKETS``
    since detection at ``now``, counted by the store (one query, no incident read)."""
    return store.count_incidents_by_age(IncidentQuery(organization_id=organization_id),
                                        statuses, now, AGE_BOUNDS)


def nearest_deadlines(store: IncidentStore, organization_id: str | None,
                      statuses: Sequence[str], limit: int) -> list[Incident]:
    """The ``limit`` incidents in ``statuses`` detected earliest (the nearest 72-hour
    deadlines), earliest first, then by id: one query."""
    if not statuses or limit <= 0:
        return []
    return store.query_incidents(IncidentQuery(organization_id=organization_id,
                                               statuses=tuple(statuses), sort="detected",
                                               limit=limit))


def walk_incidents(store: IncidentStore, q: IncidentQuery) -> Iterator[Incident]:
    after: Keyset | None = None
    while True:
        page = store.query_incidents(replace(q, after=after, limit=1000, offset=0))
        yield from page
        if len(page) < 1000:
            return
        after = incident_keyset(page[-1], q.sort)


# -- the access audit log ------------------------------------------------------------------

def audit(store: ServiceStore, entry: AuditEntry) -> AuditRecord:
    return store.append_audit(entry)


def audit_page(store: ServiceStore, after_seq: int, limit: int) -> list[AuditRecord]:
    return store.audit_records(after_seq, limit)


def verify_audit(store: ServiceStore, anchor: tuple[int, str] | None = None) -> AuditVerdict:
    return verify_chain(store.audit_stored(), anchor)


# -- rules ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    title: str
    severity: str
    kind: str
    path: str
    #: Raises alerts of its own (building blocks of correlations do not).
    alerts: bool
    enabled: bool
    disabled_by: str | None = None
    disabled_at: datetime | None = None
    comment: str | None = None


def list_rules(dirs: Iterable[str | Path], state_path: Path) -> list[RuleInfo]:
    """Every rule that loads from ``dirs``, with its on/off state."""
    ruleset = load_rules(dirs)
    state = load_rules_state(state_path)
    found: list[RuleInfo] = []
    for rule in ruleset.rules:
        off = state.disabled.get(rule.id)
        kind = "detection" if rule in ruleset.detections else "correlation"
        found.append(RuleInfo(rule.id, rule.title, rule.spec.severity, kind, rule.path,
                              rule.alerts, off is None, off.by if off else None,
                              off.at if off else None, off.comment if off else None))
    found.sort(key=lambda r: r.id)
    return found


def validate_rule_text(text: str) -> RuleValidation:
    """Parse and compile one rule file's text (nothing is installed)."""
    with tempfile.TemporaryDirectory(prefix="phiwatch-rule-") as tmp:
        (Path(tmp) / "rule.yml").write_text(text, encoding="utf-8")
        result = validate_rules([tmp])
    errors = [replace(e, path="rule.yml") for e in result.errors]
    return RuleValidation(errors, result.ready)


def set_rule_enabled(dirs: Iterable[str | Path], state_path: Path, rule_id: str,
                     enabled: bool, actor: str, comment: str) -> RuleInfo:
    """Switch a known rule on or off in the rules state the engine reads."""
    rules = {r.id: r for r in list_rules(dirs, state_path)}
    if rule_id not in rules:
        raise RuleNotFound(rule_id)
    state: RulesState = set_enabled(state_path, rule_id, enabled, actor, comment)
    off = state.disabled.get(rule_id)
    return replace(rules[rule_id], enabled=off is None, disabled_by=off.by if off else None,
                   disabled_at=off.at if off else None, comment=off.comment if off else None)


def store_ready(store: ServiceStore) -> bool:
    """Whether the store answers a query now (readiness; no data leaves)."""
    try:
        store.count_incidents(IncidentQuery(limit=1))
    except PhiwatchError:
        return False
    return True
