"""The report use cases: draft when a leak is confirmed, approve to issue and send.

``draft_reports`` turns the real incident into facts (its alerts from the store, the
patients from the log lines they point at, ``phiwatch.evidence``) and writes both
documents as drafts: the report to the Department and the breach notification, marked
DỰ THẢO, unnumbered, as often as an analyst wants. ``approve_reports`` issues exactly
the facts that were reviewed: it numbers, renders, signs, stores, queues both for
delivery and moves the incident to ``reported`` (issuing is sending, so the 72-hour
clock stops there; a late one needs its reason). ``status_changed`` is the trigger the
API and the console call after a status change; ``tick`` is what the run loop calls
with "now" to catch what no request triggered (a confirmation from the command line,
critical incidents, ``auto_send``) and to deliver.

A caller limited to one hospital passes its ``Scope``: another hospital's incident or
report is "not found".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from alerting.incident import ConflictError, Incident, IncidentNotFound, TransitionError
from alerting.incident_store import IncidentQuery, IncidentStore
from alerting.reports.deadline import deadline
from alerting.reports.drafting import draft, finalize
from alerting.reports.errors import ReportError, ReportStateError
from alerting.reports.facts import Notification, facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.records import (
    KINDS,
    RecordConflict,
    ReportRecord,
    record_id,
)
from alerting.store import AlertBrowser
from phiwatch.evidence import read_evidence
from phiwatch.report_delivery import enqueue_issued
from phiwatch.report_parts import ReportParts

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "phiwatch"
AUTO_DELAY_REASON = ("Báo cáo được hệ thống phiwatch gửi tự động ngay khi sự cố được xác "
                     "nhận là lộ lọt dữ liệu; việc xác nhận diễn ra sau thời hạn 72 giờ kể từ "
                     "khi phát hiện.")


class Scoped(Protocol):
    """``phiwatch.service.Scope``: which hospitals a caller may read."""

    def allows(self, organization_id: str | None) -> bool: ...


class EveryHospital:
    """The scope of the run loop and the command line."""

    def allows(self, organization_id: str | None) -> bool:
        return True


class ReportingStore(IncidentStore, AlertBrowser, Protocol):
    """What drafting reads: the incident and its alerts."""


def incident_for(store: IncidentStore, incident_id: str, scope: Scoped) -> Incident:
    incident = store.get_incident(incident_id)
    if incident is None or not scope.allows(incident.organization_id):
        raise IncidentNotFound(incident_id)
    return incident


def _own(parts: ReportParts, incident: Incident) -> None:
    hospital = parts.issuer()
    if incident.organization_id != hospital.id:
        raise ReportStateError(f"incident {incident.id}",
                               f"belongs to {incident.organization_id!r}; this phiwatch "
                               f"issues reports for {hospital.id!r} only")


def records_of(parts: ReportParts, incident_id: str) -> list[ReportRecord]:
    """The incident's records (both kinds, those that exist), with their documents."""
    found = (parts.records.get_report(record_id(incident_id, k)) for k in KINDS)
    return [r for r in found if r is not None]


def facts_for(parts: ReportParts, store: ReportingStore, incident: Incident, *,
              now: datetime, measures_taken: Iterable[str] = (),
              measures_planned: Iterable[str] | None = None,
              notified: Iterable[Notification] = ()) -> ReportFacts:
    """The incident's facts, with the patients read back from the logs when possible."""
    hospital = parts.issuer()
    assert parts.pseudonymize is not None
    found = store.get_many(incident.alert_ids)
    alerts = [found[i] for i in incident.alert_ids if i in found]
    evidence = read_evidence(parts.config, alerts,
                             max_lines=parts.settings.evidence_max_lines)
    if not evidence.complete:
        log.info("incident %s: patients counted from the alerts (a lower bound): %s",
                 incident.id, evidence.why)
    return facts_from_incident(
        incident, alerts, hospital, now=now, pseudonymize=parts.pseudonymize,
        evidence=evidence.records if evidence.complete else (), notified=notified,
        measures_taken=measures_taken, measures_planned=measures_planned,
        patient_patterns=parts.patient_patterns())


def draft_reports(parts: ReportParts, store: ReportingStore, incident_id: str, *,
                  scope: Scoped, actor: str, now: datetime,
                  measures_taken: Iterable[str] = (),
                  measures_planned: Iterable[str] | None = None,
                  notified: Iterable[Notification] = (),
                  require_confirmed: bool = True) -> list[ReportRecord]:
    """Draft (or redraft) both documents; an issued one is left as it is."""
    incident = incident_for(store, incident_id, scope)
    _own(parts, incident)
    if require_confirmed and incident.status != "confirmed_leak":
        raise ReportStateError(f"incident {incident.id}",
                               f"is {incident.status}: only a confirmed leak is reported "
                               "(confirm it first)")
    existing = {r.kind: r for r in records_of(parts, incident.id)}
    if existing and all(r.state != "draft" for r in existing.values()) \
            and len(existing) == len(KINDS):
        return list(existing.values())
    hospital = parts.issuer()
    facts = facts_for(parts, store, incident, now=now, measures_taken=measures_taken,
                      measures_planned=measures_planned, notified=notified)
    out: list[ReportRecord] = []
    for kind in KINDS:
        known = existing.get(kind)
        if known is not None and known.state != "draft":
            out.append(known)
            continue
        docs = draft(facts, hospital, kind=kind, issued_at=now)
        record = ReportRecord(
            id=record_id(incident.id, kind), hospital_id=hospital.id, incident_id=incident.id,
            kind=kind, state="draft", facts=facts, drafted_at=now, drafted_by=actor,
        ).with_documents(docs.docx, docs.pdf)
        out.append(parts.records.save_report(record, known.version if known else None))
    return out


def approve_reports(parts: ReportParts, store: ReportingStore, incident_id: str, *,
                    scope: Scoped, actor: str, now: datetime, comment: str,
                    delay_reason: str | None = None, role: str | None = None
                    ) -> list[ReportRecord]:
    """Issue the reviewed drafts: number, sign, store, queue, mark the incident reported.

    Idempotent: approving again returns what was issued. ``LateWithoutReasonError`` past
    the deadline without ``delay_reason``, before any number is drawn."""
    incident = incident_for(store, incident_id, scope)
    _own(parts, incident)
    records = {r.kind: r for r in records_of(parts, incident.id)}
    if len(records) < len(KINDS):
        raise ReportStateError(f"incident {incident.id}",
                               "has no draft to approve: draft the reports first")
    if incident.status not in ("confirmed_leak", "reported", "closed"):
        raise ReportStateError(f"incident {incident.id}",
                               f"is {incident.status}: only a confirmed leak is reported")
    hospital = parts.issuer()
    issued: list[ReportRecord] = []
    for kind in KINDS:
        record = records[kind]
        if record.state == "draft":
            record = _issue(parts, record, actor=actor, now=now, delay_reason=delay_reason)
        issued.append(enqueue_issued(parts, record, now=now))
    if incident.status == "confirmed_leak":
        numbers = ", ".join(r.number_text or "" for r in issued)
        note = f"{comment.strip()} (phiwatch: đã ban hành và gửi văn bản số {numbers})"
        try:
            store.change_status(incident.id, "reported", actor, note, None, role=role, at=now)
        except (TransitionError, ConflictError) as e:
            log.warning("incident %s: reports issued but the status stays: %s", incident.id, e)
    log.info("incident %s of %s: %s issued by %s", incident.id, hospital.id,
             ", ".join(r.number_text or "" for r in issued), actor)
    return issued


def _issue(parts: ReportParts, record: ReportRecord, *, actor: str, now: datetime,
           delay_reason: str | None) -> ReportRecord:
    hospital = parts.issuer()
    done = finalize(record.facts, hospital, kind=record.kind, numbers=parts.numbers,
                    key=parts.signing_key(), issued_at=now, delay_reason=delay_reason)
    p = done.payload
    new = replace(record, state="issued", number=p.number, number_text=p.number_text,
                  year=p.year, issued_at=now, issued_by=actor,
                  delay_reason=p.delay_reason).with_documents(done.docx, done.pdf, done.jws)
    try:
        return parts.records.save_report(new, record.version)
    except RecordConflict:
        current = parts.records.get_report(record.id)
        if current is not None and current.state != "draft":
            return current  # approved at the same moment by someone else: same number
        raise


def status_changed(parts: ReportParts | None, store: ReportingStore, incident: Incident, *,
                   actor: str, now: datetime) -> list[ReportRecord]:
    """After a status change: a confirmed leak of this hospital gets its drafts (and is
    sent at once with ``auto_send``). Never raises: the change itself has happened; a
    failure is logged and ``tick`` tries again."""
    if parts is None or parts.hospital is None or incident.status != "confirmed_leak" \
            or not parts.settings.draft_on_confirm \
            or incident.organization_id != parts.hospital.id:
        return []
    try:
        records = draft_reports(parts, store, incident.id, scope=EveryHospital(),
                                actor=actor, now=now)
        if parts.settings.auto_send:
            records = approve_reports(parts, store, incident.id, scope=EveryHospital(),
                                      actor=SYSTEM_ACTOR, now=now, comment=_auto_note(),
                                      delay_reason=_auto_delay(incident, now))
        return records
    except ReportError as e:
        log.error("incident %s: the reports could not be drafted yet: %s", incident.id, e)
        return []


def _auto_note() -> str:
    return "Gửi tự động theo cấu hình (reports.auto_send)"


def _auto_delay(incident: Incident, now: datetime) -> str | None:
    return AUTO_DELAY_REASON if now > deadline(incident.detected_at) else None


@dataclass
class TickResult:
    """What one ``tick`` did."""

    drafted: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _incidents(store: IncidentStore, q: IncidentQuery) -> list[Incident]:
    """Up to a thousand (more confirmed, unreported leaks at once is not a hospital's day)."""
    return store.query_incidents(q)


def tick(parts: ReportParts, store: ReportingStore, now: datetime) -> TickResult:
    """Draft what the trigger missed, send what ``auto_send`` allows. The run loop calls
    it with "now" (event time in a replay) every few seconds; cheap when nothing is due."""
    result = TickResult()
    hospital = parts.hospital
    if hospital is None:
        return result
    s = parts.settings
    candidates: dict[str, Incident] = {}
    if s.draft_on_confirm:
        for i in _incidents(store, IncidentQuery(organization_id=hospital.id,
                                                 status="confirmed_leak", limit=1000)):
            candidates[i.id] = i
    if s.draft_critical:
        for i in _incidents(store, IncidentQuery(organization_id=hospital.id,
                                                 min_severity="critical", limit=1000)):
            if i.is_open:
                candidates.setdefault(i.id, i)
    for incident in candidates.values():
        try:
            _tick_one(parts, store, incident, now, result)
        except ReportError as e:
            result.errors.append(f"incident {incident.id}: {e}")
            log.error("incident %s: %s", incident.id, e)
    return result


def _tick_one(parts: ReportParts, store: ReportingStore, incident: Incident, now: datetime,
              result: TickResult) -> None:
    records = records_of(parts, incident.id)
    if len(records) < len(KINDS):
        draft_reports(parts, store, incident.id, scope=EveryHospital(), actor=SYSTEM_ACTOR,
                      now=now, require_confirmed=False)
        result.drafted.append(incident.id)
    if not parts.settings.auto_send:
        return
    if incident.status != "confirmed_leak":
        if not (parts.settings.draft_critical and incident.severity == "critical"):
            return
        store.change_status(incident.id, "confirmed_leak", SYSTEM_ACTOR,
                            "Tự động xác nhận: sự cố mức nghiêm trọng (critical); cấu hình "
                            "reports.draft_critical và reports.auto_send", None, at=now)
    approve_reports(parts, store, incident.id, scope=EveryHospital(), actor=SYSTEM_ACTOR,
                    now=now, comment=_auto_note(), delay_reason=_auto_delay(incident, now))
    result.issued.append(incident.id)


def report_in_scope(parts: ReportParts, report_id: str, scope: Scoped, *,
                    drafts: bool = True) -> ReportRecord:
    """One record with its documents; a draft only when ``drafts`` (the hospital's own)."""
    from alerting.reports.errors import ReportNotFound

    record = parts.records.get_report(report_id)
    if record is None or not scope.allows(record.hospital_id) \
            or (record.state == "draft" and not drafts):
        raise ReportNotFound(f"report {report_id}", "no such report")
    return record


def write_documents(records: list[ReportRecord], out: Path) -> list[Path]:
    """Each record's documents into ``out``, named after the document; the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for r in records:
        word = "bao-cao" if r.kind == "department_report" else "thong-bao"
        stem = (f"{word}-{r.number_text.replace('/', '-')}-{r.year}" if r.number_text
                else f"{word}-du-thao-{r.incident_id[:12]}")
        for ext, data in (("docx", r.docx), ("pdf", r.pdf), ("jws", r.jws)):
            if data:
                path = out / f"{stem}.{ext}"
                path.write_bytes(data)
                written.append(path)
    return written
