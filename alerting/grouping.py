"""Alerts into incidents, as the pipeline commits them: idempotent, deterministic, restartable.

Call ``IncidentGrouper(store, gap).add(alerts)`` after each commit of alerts to the alert
store. For each alert, in the order given:

1. If an incident already holds this alert id, its entry is refreshed when the alert is a
   higher revision, and nothing happens otherwise (a re-emission, a replay, or the
   pipeline re-processing after a crash changes nothing).
2. Else it joins the open incident (``new``, ``investigating``, ``confirmed_leak``) of the
   same organization and principal whose span comes within ``gap`` of the alert's window;
   of several, the one seen first (then the smaller id).
3. Else it opens a new incident, whose id comes from this alert.

All state is in the store, none in the grouper, so a restarted grouper continues exactly
where the last one stopped, and the same alerts in the same order always give the same
incidents with the same ids. Every write is compare-and-set: when an analyst changes the
incident between the grouper's read and write, the grouper reads again and retries, so
neither the alert nor the analyst's change is lost.

Alerts without a principal (no ``user.id`` in the group or the context) join no incident.
If the store fails (a cluster away), ``add`` raises after keeping the alerts it had not
grouped yet in ``pending``; they go first at the next ``add`` or ``retry_pending``. After
a crash, ``backfill`` regroups what the alert store holds (idempotent as well).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from alerting.incident import ConflictError, Incident
from alerting.incident_store import IncidentQuery, IncidentStore
from alerting.store import AlertQuery, alert_user
from rules.alert import Alert

log = logging.getLogger(__name__)

DEFAULT_GAP = timedelta(hours=4)
_US = timedelta(microseconds=1)

Outcome = Literal["created", "extended", "refreshed", "unchanged", "ungrouped"]


class AlertReader(Protocol):
    def query(self, q: AlertQuery) -> list[Alert]: ...


@dataclass
class GroupingResult:
    """What one ``add`` did, per outcome, and the incidents it touched (first touch order)."""

    created: int = 0
    extended: int = 0
    refreshed: int = 0
    unchanged: int = 0
    ungrouped: int = 0
    incident_ids: tuple[str, ...] = ()

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class IncidentGrouper:
    """Groups alerts into incidents in ``store``; ``gap`` is the widest quiet time inside one."""

    def __init__(
        self,
        store: IncidentStore,
        gap: timedelta = DEFAULT_GAP,
        *,
        clock: Callable[[], datetime] | None = None,
        attempts: int = 20,
    ) -> None:
        if gap < timedelta(0):
            raise ValueError("the incident gap must not be negative")
        self.store = store
        self.gap = gap
        self.clock = clock or (lambda: datetime.now(UTC))
        self.attempts = attempts
        self.pending: list[Alert] = []

    def add(self, alerts: Sequence[Alert], now: datetime | None = None) -> GroupingResult:
        """Group ``alerts`` (after any still pending). ``now`` is their processing time,
        which becomes ``detected_at`` of the incidents they open (default: the clock)."""
        when = now or self.clock()
        todo = [*self.pending, *alerts]
        self.pending = []
        result = GroupingResult()
        touched: dict[str, None] = {}
        for i, alert in enumerate(todo):
            try:
                outcome, incident = self._one(alert, when)
            except Exception:
                self.pending = todo[i:]
                log.warning("incident grouping stopped; %d alert(s) pending", len(self.pending))
                raise
            result.count(outcome)
            if incident is not None:
                touched.setdefault(incident.id)
        result.incident_ids = tuple(touched)
        return result

    def retry_pending(self, now: datetime | None = None) -> GroupingResult:
        """Group the alerts a failed ``add`` left pending."""
        return self.add([], now)

    def backfill(
        self, alerts: AlertReader, q: AlertQuery, now: datetime | None = None
    ) -> GroupingResult:
        """Group every alert ``alerts`` holds for ``q``, oldest window first (then id).

        For a start after a crash (alerts stored but not grouped) or after turning
        incidents on: alerts already grouped are no-ops."""
        found: list[Alert] = []
        offset = 0
        while True:
            page = alerts.query(AlertQuery(
                start=q.start, end=q.end, organization_id=q.organization_id,
                rule_id=q.rule_id, user_id=q.user_id, severity=q.severity,
                min_severity=q.min_severity, text=q.text, limit=1000, offset=offset))
            found.extend(page)
            if len(page) < 1000:
                break
            offset += 1000
        found.sort(key=lambda a: (a.window_start, a.id))
        return self.add(found, now)

    # -- one alert ------------------------------------------------------------------------

    def _one(self, alert: Alert, when: datetime) -> tuple[Outcome, Incident | None]:
        principal = alert_user(alert)
        if principal is None:
            return "ungrouped", None
        for _ in range(self.attempts):
            try:
                return self._try(alert, principal, when)
            except ConflictError:
                continue  # someone wrote in between: read again
        raise RuntimeError(f"alert {alert.id}: its incident kept changing during "
                           f"{self.attempts} attempts to group it")

    def _try(
        self, alert: Alert, principal: str, when: datetime
    ) -> tuple[Outcome, Incident | None]:
        store = self.store
        holder = store.incident_of_alert(alert.id)
        if holder is not None:
            changed = holder.with_alert(alert)
            if changed is None:
                return "unchanged", holder
            return "refreshed", store.save_incident(changed, holder.version)
        target = self._candidate(alert, principal)
        if target is not None:
            changed = target.with_alert(alert)
            assert changed is not None  # the alert is not in it
            return "extended", store.save_incident(changed, target.version)
        return "created", store.save_incident(Incident.open(alert, principal, when), None)

    def _candidate(self, alert: Alert, principal: str) -> Incident | None:
        """The open incident of this principal within ``gap`` of the alert, seen first."""
        q = IncidentQuery(
            start=alert.window_start - self.gap,
            end=alert.window_end + self.gap + _US,
            organization_id=alert.organization_id,
            principal=principal,
            limit=1000,
        )
        fits = [i for i in self.store.query_incidents(q)
                if i.is_open and i.organization_id == alert.organization_id
                and i.first_seen - self.gap <= alert.window_end
                and alert.window_start <= i.last_seen + self.gap]
        return min(fits, key=lambda i: (i.first_seen, i.id)) if fits else None
