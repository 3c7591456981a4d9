"""The report use cases as the API and the console call them: the reports' door.

``phiwatch.service`` is the API's only door to ``alerting``; its report half lives here
(``phiwatch.service.reports``) so that neither grows past a screenful of imports. Every
function takes the caller's ``Scope``: a hospital IT user sees and acts on its own
hospital's reports only, an inspector reads every hospital's issued reports (drafts stay
in the hospital), the Department reads what its inbox received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerting.reports.errors import (
    ForgeryError,
    LateWithoutReasonError,
    ReportError,
    ReportNotFound,
    ReportsNotConfigured,
    ReportStateError,
    VerificationError,
)
from alerting.reports.facts import Notification
from alerting.reports.inbox import ENVELOPE_TYPE, JOSE_TYPE, parse_submission, same_content
from alerting.reports.outbox import Attempt, Delivery
from alerting.reports.records import (
    KINDS,
    REPORT_STATES,
    AlreadyReceived,
    DeliveryStatus,
    ReceivedReport,
    RecordConflict,
    ReportQuery,
    ReportRecord,
)
from phiwatch.inbox import InboxPage, receive_report, received_page, received_report
from phiwatch.report_clock import DISMISSED, clock_state, deadline_alerts
from phiwatch.report_delivery import attempts_of, deliver_due, retry
from phiwatch.report_parts import ReportParts, open_report_parts
from phiwatch.reporting import (
    Scoped,
    approve_reports,
    draft_reports,
    records_of,
    report_in_scope,
    status_changed,
    tick,
)

__all__ = [
    "DISMISSED", "ENVELOPE_TYPE", "JOSE_TYPE", "KINDS", "REPORT_STATES", "AlreadyReceived",
    "Attempt", "Delivery", "DeliveryStatus", "ForgeryError", "InboxPage",
    "LateWithoutReasonError", "Notification", "ReceivedReport", "RecordConflict",
    "ReportError", "ReportNotFound", "ReportPage", "ReportParts", "ReportQuery",
    "ReportRecord", "ReportStateError", "ReportsNotConfigured", "VerificationError",
    "approve_reports", "attempts_of", "clock_state", "deadline_alerts", "deliver_due",
    "draft_reports", "incident_reports", "list_reports", "open_report_parts", "parse_jws",
    "parts_of", "receive_report", "received_page", "received_report", "records_of",
    "report_in_scope", "retry_report", "same_content", "status_changed", "tick",
]


def parts_of(parts: ReportParts | None) -> ReportParts:
    """The configured machinery, or ``ReportsNotConfigured``."""
    if parts is None:
        raise ReportsNotConfigured("reports", "this phiwatch has no reports: section")
    return parts


@dataclass(frozen=True, slots=True)
class ReportPage:
    records: list[ReportRecord]
    total: int


def list_reports(parts: ReportParts | None, q: ReportQuery, scope: Scoped, *,
                 drafts: bool) -> ReportPage:
    """Records matching ``q`` within ``scope`` (issued ones only unless ``drafts``)."""
    p = parts_of(parts)
    if q.hospital_id is not None and not scope.allows(q.hospital_id):
        return ReportPage([], 0)
    org = getattr(scope, "organization_id", None)
    q = ReportQuery(hospital_id=q.hospital_id if org is None else org, state=q.state,
                    kind=q.kind, incident_id=q.incident_id, drafts=drafts and q.drafts,
                    limit=q.limit, offset=q.offset)
    return ReportPage(p.records.query_reports(q), p.records.count_reports(q))


def incident_reports(parts: ReportParts | None, incident_organization: str | None,
                     incident_id: str, scope: Scoped, *, drafts: bool) -> list[ReportRecord]:
    """The records of an incident the caller may see (documents left out)."""
    p = parts_of(parts)
    if not scope.allows(incident_organization):
        return []
    return [r.without_documents() for r in records_of(p, incident_id)
            if drafts or r.state != "draft"]


def retry_report(parts: ReportParts | None, report_id: str, scope: Scoped,
                 now: datetime) -> ReportRecord:
    """Send a report's failed deliveries again."""
    p = parts_of(parts)
    record = report_in_scope(p, report_id, scope)
    if record.state == "draft":
        raise ReportStateError(f"report {report_id}", "is a draft: approve it first")
    return retry(p, record, now=now)


def parse_jws(body: bytes, content_type: str) -> bytes:
    """The compact JWS of a posted body (to compare a replay with what was stored)."""
    return parse_submission(body, content_type).jws.strip()
