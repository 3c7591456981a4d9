"""Alerts, incidents and notes as response models, through the caller's ``ResponseView``.

Every string that may hold a patient identifier goes through the view: explanations,
group and context values, evidence references, summaries, history comments, notes. The
identifiers an incident's alerts name are known for the whole incident, so a note or a
comment that repeats one is pseudonymized too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from api.models import (
    AlertOut,
    EvidenceOut,
    IncidentOut,
    IncidentSummaryOut,
    NoteOut,
    StatusChangeOut,
)
from api.pseudonyms import ResponseView, patient_ids
from phiwatch.service import (
    TRANSITIONS,
    Alert,
    EventRef,
    Incident,
    Note,
    incident_text,
    reports,
)


def alert_ids_known(alert: Alert) -> set[str]:
    return patient_ids(alert.context, alert.group)


def incident_ids_known(incident: Incident, alerts: Mapping[str, Alert]) -> set[str]:
    known: set[str] = set()
    for alert_id in incident.alert_ids:
        alert = alerts.get(alert_id)
        if alert is not None:
            known |= alert_ids_known(alert)
    return known


def evidence(view: ResponseView, org: str | None, ref: EventRef, known: Iterable[str],
             alert_id: str | None = None) -> EvidenceOut:
    return EvidenceOut(timestamp=ref.timestamp, ref=view.text(org, ref.ref, known),
                       event_id=view.text(org, ref.event_id, known), alert_id=alert_id)


def alert_out(view: ResponseView, alert: Alert, known: Iterable[str] | None = None
              ) -> AlertOut:
    org = alert.organization_id
    ids = tuple(known if known is not None else alert_ids_known(alert))
    return AlertOut(
        id=alert.id, organization_id=org, rule_id=alert.rule_id,
        rule_title=alert.rule_title, severity=alert.severity,
        window_start=alert.window_start, window_end=alert.window_end,
        event_count=alert.event_count, value_count=alert.value_count,
        explanation=view.text(org, alert.explanation, ids),
        group=view.mapping(org, alert.group, ids),
        context=view.mapping(org, alert.context, ids),
        metrics={k: float(v) for k, v in alert.metrics.items()
                 if isinstance(v, int | float) and v == v and abs(v) != float("inf")},
        tags=list(alert.tags), revision=alert.revision, final=alert.final,
        first_event=evidence(view, org, alert.first_event, ids),
        last_event=evidence(view, org, alert.last_event, ids),
        sample=[evidence(view, org, r, ids) for r in alert.sample],
    )


def peek_alert_text(view: ResponseView, alert: Alert) -> str:
    """The explanation as this caller would see it, without counting it as shown."""
    return view.text(alert.organization_id, alert.explanation, alert_ids_known(alert),
                     record=False)


def peek_incident_words(view: ResponseView, incident: Incident,
                        alerts: Mapping[str, Alert]) -> str:
    """What a words search matches in an incident, as this caller would see it."""
    known = incident_ids_known(incident, alerts)
    return view.text(incident.organization_id, incident_text(incident), known,
                     record=False)


def summary_out(view: ResponseView, incident: Incident, alerts: Mapping[str, Alert]
                ) -> IncidentSummaryOut:
    org = incident.organization_id
    known = incident_ids_known(incident, alerts)
    due, clock = reports.clock_state(incident, datetime.now(UTC))
    return IncidentSummaryOut(
        id=incident.id, organization_id=org, principal=incident.principal,
        status=incident.status, version=incident.version, severity=incident.severity,
        detected_at=incident.detected_at, deadline=due, clock=clock,
        first_seen=incident.first_seen,
        last_seen=incident.last_seen, alert_count=len(incident.alerts),
        event_count=incident.event_count, rule_ids=incident.rule_ids,
        summary=view.text(org, incident.summary, known),
    )


def note_out(view: ResponseView, note: Note, known: Iterable[str]) -> NoteOut:
    return NoteOut(id=note.id, incident_id=note.incident_id,
                   organization_id=note.organization_id, at=note.at, actor=note.actor,
                   role=note.role, kind=note.kind,
                   text=view.text(note.organization_id, note.text, known))


def incident_out(view: ResponseView, incident: Incident, alerts: Mapping[str, Alert],
                 notes: list[Note]) -> IncidentOut:
    org = incident.organization_id
    known = tuple(incident_ids_known(incident, alerts))
    base = summary_out(view, incident, alerts)
    shown = [alerts[a] for a in incident.alert_ids if a in alerts]
    seen: dict[str, EvidenceOut] = {}
    for a in shown:
        for ref in (a.first_event, *a.sample, a.last_event):
            seen.setdefault(ref.event_id, evidence(view, org, ref, known, a.id))
    timeline = sorted(seen.values(), key=lambda e: (e.timestamp, e.ref, e.event_id))
    return IncidentOut(
        **base.model_dump(),
        next_statuses=sorted(TRANSITIONS.get(incident.status, frozenset())),
        history=[StatusChangeOut(at=h.at, actor=h.actor, role=h.role,
                                 from_status=h.from_status, to_status=h.to_status,
                                 comment=view.text(org, h.note, known))
                 for h in incident.history],
        alerts=[alert_out(view, a, known) for a in shown],
        evidence=timeline,
        notes=[note_out(view, n, known) for n in notes],
    )
