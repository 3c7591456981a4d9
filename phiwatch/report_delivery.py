"""Issued reports into the outbox, the outbox's work, and what each record says about it.

An issued record is queued once per configured target of its kind (the queue is
idempotent: a record queued twice is one delivery per target). ``deliver_due(now)`` —
which the run loop and ``phiwatch report send --due`` call — first queues any issued
record the outbox does not hold yet (a crash between issuing and queueing loses
nothing), then runs the outbox (every attempt recorded, failures retried with backoff),
then writes each touched record's delivery summary and state: ``delivered`` once every
delivery landed, ``failed`` when one was refused for good or given up (``retry``
queues it again after the cause is fixed).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from alerting.reports.drafting import IssuedReport, parcel_of
from alerting.reports.outbox import Attempt, Delivery, State
from alerting.reports.payload import SignedReport
from alerting.reports.records import (
    DeliveryStatus,
    RecordConflict,
    ReportQuery,
    ReportRecord,
    ReportState,
)
from phiwatch.report_parts import ReportParts

log = logging.getLogger(__name__)


def _issued(record: ReportRecord) -> IssuedReport:
    from alerting.reports.signing import peek

    _, claims = peek(record.jws)
    return IssuedReport(SignedReport.model_validate(claims), record.docx, record.pdf,
                        record.jws)


def enqueue_issued(parts: ReportParts, record: ReportRecord, *, now: datetime
                   ) -> ReportRecord:
    """Queue ``record`` for its kind's targets (once) and note the deliveries on it."""
    if record.state == "draft":
        return record
    targets = parts.targets(record.kind)
    if not targets or record.deliveries:
        return record
    if not record.jws:
        full = parts.records.get_report(record.id)
        if full is None:
            return record
        record = full
    parcel = replace(parcel_of(_issued(record), parts.issuer()), report_id=record.id)
    parts.outbox.enqueue(parcel, targets, now=now)
    return _summarize(parts, record)


def _status(parts: ReportParts, d: Delivery) -> DeliveryStatus:
    delivered_at = None
    if d.state is State.DELIVERED:
        attempts = parts.outbox.attempts(d.id)
        delivered_at = attempts[-1].at if attempts else None
    waiting = d.state in (State.PENDING, State.SENDING)
    return DeliveryStatus(d.channel, d.target, str(d.state), d.attempts, d.last_error,
                          d.next_attempt if waiting else None, delivered_at)


def _state(deliveries: tuple[DeliveryStatus, ...]) -> ReportState:
    if not deliveries:
        return "issued"
    states = {d.state for d in deliveries}
    if states <= {State.DELIVERED}:
        return "delivered"
    if states & {State.FAILED, State.GAVE_UP}:
        return "failed"
    return "issued"


def _summarize(parts: ReportParts, record: ReportRecord, attempts: int = 5) -> ReportRecord:
    """Write the outbox's view of ``record``'s deliveries onto it (compare-and-set)."""
    for _ in range(attempts):
        deliveries = tuple(_status(parts, d) for d in parts.outbox.deliveries(record.id))
        state = _state(deliveries)
        delivered_at = max((d.delivered_at for d in deliveries if d.delivered_at),
                           default=None) if state == "delivered" else None
        if deliveries == record.deliveries and state == record.state:
            return record
        new = replace(record, deliveries=deliveries, state=state, delivered_at=delivered_at)
        if not record.jws:
            full = parts.records.get_report(record.id)
            if full is None:
                return record
            new = replace(new, docx=full.docx, pdf=full.pdf, jws=full.jws)
        try:
            return parts.records.save_report(new, record.version)
        except RecordConflict:
            current = parts.records.get_report(record.id)
            if current is None:
                return new
            record = current
    log.warning("report %s: its delivery summary kept changing; left for the next run",
                record.id)
    return record


def deliver_due(parts: ReportParts, now: datetime, *, limit: int = 100) -> list[Attempt]:
    """Queue what is issued but not queued, attempt what is due at ``now``, and bring
    the touched records up to date. Safe to call from several processes."""
    hospital = parts.hospital
    if hospital is not None:
        for record in parts.records.query_reports(ReportQuery(hospital_id=hospital.id,
                                                               state="issued", limit=100)):
            if not record.deliveries and parts.targets(record.kind):
                enqueue_issued(parts, record, now=now)
    done = parts.outbox.run_due(now=now, limit=limit)
    touched = {d.report_id for d in (parts.outbox.delivery(a.delivery_id) for a in done)
               if d is not None}
    for report_id in sorted(touched):
        found = parts.records.get_report(report_id)
        if found is not None:
            _summarize(parts, found)
    return done


def retry(parts: ReportParts, record: ReportRecord, *, now: datetime) -> ReportRecord:
    """Queue the failed or given-up deliveries of ``record`` again, due now."""
    for d in parts.outbox.deliveries(record.id):
        if d.state in (State.FAILED, State.GAVE_UP):
            parts.outbox.requeue(d.id, now=now)
    return _summarize(parts, record)


def attempts_of(parts: ReportParts, record: ReportRecord) -> list[tuple[Delivery, list[Attempt]]]:
    """Every delivery of ``record`` and each of its attempts (time, result, error)."""
    return [(d, parts.outbox.attempts(d.id)) for d in parts.outbox.deliveries(record.id)]
