"""The 72-hour clock as hospital IT sees it: a state per incident, and warnings as alerts.

An incident's clock starts at ``detected_at`` and stops when the incident is reported
(approving the reports issues and sends them, and moves it to ``reported``; the
history's first ``reported`` entry is when). A dismissed incident (``false_positive``,
or closed without being reported) has no clock.

``deadline_alerts(store, now)`` is what the run loop calls with "now" — event time in a
replay, the wall clock live — to warn at 48 and 70 hours while nothing was sent. A
warning is an alert of its own, rule ``phiwatch-report-deadline`` (no Sigma rule behind
it), one per incident and stage with a deterministic id, so calling again, a restart or
a replay never raises it twice; it names no user in its group or context, so it joins no
incident. The function returns the warnings it raised so the caller can notify them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from alerting.incident import OPEN_STATUSES, Incident
from alerting.incident_store import IncidentQuery, IncidentStore
from alerting.reports.deadline import URGENT_AFTER, WARN_AFTER, clock, deadline
from alerting.store import AlertStore
from rules.alert import Alert, EventRef, alert_id

RULE_ID = "phiwatch-report-deadline"
RULE_TITLE = "Report deadline: no notification sent"
#: (stage, elapsed since detection, severity).
STAGES: tuple[tuple[str, timedelta, str], ...] = (
    ("48h", WARN_AFTER, "high"), ("70h", URGENT_AFTER, "critical"))
DISMISSED = "dismissed"


def sent_at(incident: Incident) -> datetime | None:
    """When the incident was reported (the reports issued and sent), if it was."""
    return next((c.at for c in incident.history if c.to_status == "reported"), None)


def clock_state(incident: Incident, now: datetime) -> tuple[datetime, str]:
    """The deadline and the clock's state at ``now``: ok, warn, urgent, overdue, sent,
    sent_late, or dismissed (no leak to notify)."""
    due = deadline(incident.detected_at)
    sent = sent_at(incident)
    if sent is None and incident.status in ("false_positive", "closed"):
        return due, DISMISSED
    return due, str(clock(incident.detected_at, now, sent_at=sent).state)


class DeadlineStore(IncidentStore, AlertStore, Protocol):
    """Reads open incidents, writes the warnings."""


def warning(incident: Incident, stage: str, after: timedelta, severity: str,
            now: datetime) -> Alert:
    """The warning of ``stage`` for ``incident`` (its id fixed by incident and stage)."""
    due = deadline(incident.detected_at)
    at = incident.detected_at + after
    group = {"phiwatch.incident.id": incident.id, "phiwatch.deadline.stage": stage}
    left = due - max(now, at)
    hours = max(left, timedelta(0)) / timedelta(hours=1)
    ref = f"phiwatch:incident/{incident.id}"
    return Alert(
        id=alert_id(RULE_ID, group, incident.detected_at, incident.organization_id),
        rule_id=RULE_ID, rule_title=RULE_TITLE, severity=severity, group=group,
        window_start=incident.detected_at, window_end=at, event_count=len(incident.alerts),
        explanation=(f"incident {incident.id} ({incident.principal}, {incident.severity}, "
                     f"{incident.status}) was detected at {incident.detected_at.isoformat()} "
                     f"and no notification has been sent; the 72-hour deadline of Law "
                     f"91/2025 Art. 23 is {due.isoformat()}, {hours:.1f} h left"),
        first_event=EventRef(ref, incident.id, incident.detected_at),
        last_event=EventRef(ref, incident.id, at),
        organization_id=incident.organization_id, tags=["phiwatch.report-deadline"],
        context={"phiwatch.incident.id": incident.id, "phiwatch.deadline": due.isoformat(),
                 "phiwatch.deadline.stage": stage},
        metrics={"hours_left": round(hours, 2),
                 "hours_since_detection": after / timedelta(hours=1)},
        revision=1, final=True)


def due_warnings(incidents: Sequence[Incident], now: datetime) -> list[Alert]:
    """The warnings ``incidents`` have earned at ``now`` (whether raised before or not)."""
    out: list[Alert] = []
    for incident in incidents:
        if incident.status not in OPEN_STATUSES or sent_at(incident) is not None:
            continue
        elapsed = now - incident.detected_at
        for stage, after, severity in STAGES:
            if elapsed >= after:
                out.append(warning(incident, stage, after, severity, now))
    return out


def deadline_alerts(store: DeadlineStore, now: datetime, *,
                    organization_id: str | None = None) -> list[Alert]:
    """Raise the 48 h and 70 h warnings due at ``now``; returns those new this time."""
    incidents: list[Incident] = []
    for status in sorted(OPEN_STATUSES):
        incidents += store.query_incidents(IncidentQuery(
            status=status, organization_id=organization_id, limit=1000))
    new = [a for a in due_warnings(incidents, now) if store.get(a.id) is None]
    if new:
        store.write(new)
    return new
