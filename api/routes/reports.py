"""Reports of confirmed leaks: draft, review, approve (issue and send), follow delivery.

Hospital IT drafts its own hospital's reports (the report to the Department and the
breach notification, both marked DỰ THẢO), reads them, approves them — which numbers,
signs, stores and queues both for delivery and marks the incident reported — and sends
failed deliveries again. Inspectors read every hospital's issued reports; drafts stay in
the hospital. A report's facts name patients by pseudonym only, and every response that
carries them (a report, a document) is written to the access audit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.audit import record_access
from api.deps import Caller, allow, filter_text, hospital_filter, state
from api.errors import Invalid
from api.report_models import (
    ApproveIn,
    DocumentName,
    DraftIn,
    KindName,
    ReportOut,
    ReportPageOut,
    ReportStateName,
    ReportSummaryOut,
    report_out,
    report_summary,
)
from api.routes.common import CONFLICT, ERRORS, MAX_FILTER, NOT_FOUND
from phiwatch.service import incident_in_scope, reports

router = APIRouter(tags=["reports"])
IncidentId = Annotated[str, Path(max_length=128)]
ReportId = Annotated[str, Path(max_length=160)]
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA: dict[str, str] = {"docx": DOCX_TYPE, "pdf": "application/pdf",
                         "jws": "application/jose"}
LATE: dict[int | str, dict[str, Any]] = {
    422: {"model": ERRORS[422]["model"], "description": "A parameter is invalid, or the "
          "reports are late and no delay_reason was given (field body.delay_reason)"},
}
DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {"description": "The document (DOCX, PDF, or the signed JSON copy as a compact JWS)",
          "content": {m: {"schema": {"type": "string", "format": "binary"}}
                      for m in MEDIA.values()}},
}


def _now() -> datetime:
    return datetime.now(UTC)


def _drafts(caller: Caller) -> bool:
    """Drafts are the hospital's own working documents."""
    return caller.role == "hospital_it"


def attachment(data: bytes, media: str, filename: str) -> Response:
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/incidents/{incident_id}/reports", response_model=list[ReportSummaryOut],
            responses={**ERRORS, **NOT_FOUND},
            summary="The reports of an incident (drafts too, for its hospital's IT)")
def incident_reports(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    incident_id: IncidentId,
) -> list[ReportSummaryOut]:
    st = state(request)
    incident = incident_in_scope(st.store, incident_id, caller.scope)
    found = reports.incident_reports(st.reports, incident.organization_id, incident.id,
                                     caller.scope, drafts=_drafts(caller))
    return [report_summary(r) for r in found]


@router.post("/incidents/{incident_id}/reports/draft", response_model=list[ReportSummaryOut],
             status_code=201, responses={**ERRORS, **NOT_FOUND, **CONFLICT},
             summary="Draft (or redraft) the report and the breach notification of a "
                     "confirmed leak")
def draft(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it"))],
    incident_id: IncidentId,
    body: DraftIn | None = None,
) -> list[ReportSummaryOut]:
    st = state(request)
    given = body or DraftIn()
    records = reports.draft_reports(
        reports.parts_of(st.reports), st.store, incident_id, scope=caller.scope,
        actor=caller.subject, now=_now(), measures_taken=given.measures_taken,
        measures_planned=given.measures_planned,
        notified=[reports.Notification(n.recipient, n.at, n.channel) for n in given.notified])
    return [report_summary(r) for r in records]


@router.post("/incidents/{incident_id}/reports/approve", response_model=list[ReportSummaryOut],
             responses={**ERRORS, **NOT_FOUND, **CONFLICT, **LATE},
             summary="Approve the drafts: number, sign, store and send both; the incident "
                     "becomes reported")
def approve(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it"))],
    incident_id: IncidentId,
    body: ApproveIn,
) -> list[ReportSummaryOut]:
    st = state(request)
    records = reports.approve_reports(
        reports.parts_of(st.reports), st.store, incident_id, scope=caller.scope,
        actor=caller.subject, now=_now(), comment=body.comment,
        delay_reason=body.delay_reason, role=caller.role)
    return [report_summary(r) for r in records]


@router.get("/reports", response_model=ReportPageOut, responses=ERRORS,
            summary="Reports, newest first (inspectors: every hospital's issued reports)")
def list_reports(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    state_: Annotated[ReportStateName | None, Query(alias="state")] = None,
    kind: KindName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=9500)] = 0,
) -> ReportPageOut:
    st = state(request)
    org = hospital_filter(caller, filter_text(hospital, "query.hospital"))
    try:
        q = reports.ReportQuery(hospital_id=org, state=state_, kind=kind, limit=limit,
                                offset=offset)
    except ValueError as e:
        raise Invalid(f"query: {e}", field="query") from None
    page = reports.list_reports(st.reports, q, caller.scope, drafts=_drafts(caller))
    return ReportPageOut(items=[report_summary(r) for r in page.records], total=page.total)


@router.get("/reports/{report_id}", response_model=ReportOut,
            responses={**ERRORS, **NOT_FOUND},
            summary="One report: its facts (patients by pseudonym), deliveries and attempts")
def get_report(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    report_id: ReportId,
) -> ReportOut:
    st = state(request)
    parts = reports.parts_of(st.reports)
    record = reports.report_in_scope(parts, report_id, caller.scope, drafts=_drafts(caller))
    out = report_out(record, reports.attempts_of(parts, record))
    record_access(request, caller, [record.id, record.incident_id],
                  len(record.facts.affected_patients))
    return out


@router.get("/reports/{report_id}/documents/{name}", response_class=Response,
            responses={**ERRORS, **NOT_FOUND, **DOCUMENT},
            summary="Download a report's DOCX, PDF or signed JSON copy (JWS)")
def get_document(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    report_id: ReportId,
    name: DocumentName,
) -> Response:
    st = state(request)
    record = reports.report_in_scope(reports.parts_of(st.reports), report_id, caller.scope,
                                     drafts=_drafts(caller))
    data = {"docx": record.docx, "pdf": record.pdf, "jws": record.jws}[name]
    if not data:
        raise reports.ReportNotFound(f"report {report_id}", f"has no {name} (a draft is "
                                     "not signed)")
    record_access(request, caller, [record.id, record.incident_id],
                  len(record.facts.affected_patients))
    stem = f"{record.id}{'-du-thao' if record.state == 'draft' else ''}"
    return attachment(data, MEDIA[name], f"{stem}.{name}")


@router.post("/reports/{report_id}/retry", response_model=ReportSummaryOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT},
             summary="Send a report's failed deliveries again (after fixing the cause)")
def retry(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it"))],
    report_id: ReportId,
) -> ReportSummaryOut:
    st = state(request)
    return report_summary(reports.retry_report(st.reports, report_id, caller.scope, _now()))
