"""Reports to the Department: drafting and approving from an incident's page, sending a
failed delivery again, downloading the documents, and the list of a hospital's reports.

Every action is the API's own route function (``api.routes.reports``) called with the
visitor's ``Caller``: hospital IT drafts (or redrafts) a confirmed leak's report and
breach notification, approves them with a mandatory comment (and, past the 72-hour
deadline, the reason for the delay, which the API requires), and sends failed deliveries
again; inspectors read issued reports; drafts stay in the hospital. A refused action
shows the incident's page again with the API's reason (422 or 409); one done redirects
back to it (post/redirect/get). Documents are the API's responses, streamed as they are,
and written to the access audit by it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.errors import PREFIX
from api.console.filters import choice, text
from api.console.routes.incident import done_redirect, first_error, incident_page
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.errors import late_message
from api.report_models import ApproveIn, DocumentName, DraftIn
from api.routes.reports import approve, draft, get_document, list_reports, retry
from phiwatch.service import reports

router = APIRouter(include_in_schema=False)
IncidentId = Annotated[str, Path(max_length=128)]
ReportId = Annotated[str, Path(max_length=160)]
Text = Annotated[str, Form(max_length=20_000)]
Analyst = Annotated[Viewer, Depends(signed_in("hospital_it"))]
Readers = Annotated[Viewer, Depends(signed_in("hospital_it", "inspector"))]
#: Reports per page of the list (few: a hospital issues a handful a year).
PAGE = 50


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


@router.post(f"{PREFIX}/incidents/{{incident_id}}/reports/draft")
def draft_reports(request: Request, viewer: Analyst, incident_id: IncidentId,
                  measures_taken: Text = "") -> Response:
    form = {"measures_taken": measures_taken}
    try:
        body = DraftIn(measures_taken=_lines(measures_taken))
    except ValidationError as e:
        return incident_page(request, viewer, incident_id, status=422, form=form,
                             error=first_error(e))
    try:
        draft(request, viewer.caller, incident_id, body)
    except reports.ReportStateError as e:
        return incident_page(request, viewer, incident_id, status=409, form=form,
                             error=str(e))
    return done_redirect(incident_id, "draft")


@router.post(f"{PREFIX}/incidents/{{incident_id}}/reports/approve")
def approve_reports(request: Request, viewer: Analyst, incident_id: IncidentId,
                    comment: Text = "", delay_reason: Text = "") -> Response:
    form = {"approve_comment": comment, "delay_reason": delay_reason}
    try:
        body = ApproveIn(comment=comment, delay_reason=delay_reason.strip() or None)
    except ValidationError as e:
        blank = any(err.get("loc") == ("comment",) for err in e.errors())
        return incident_page(request, viewer, incident_id, status=422, form=form,
                             error="reports.comment_required" if blank else first_error(e))
    try:
        approve(request, viewer.caller, incident_id, body)
    except reports.LateWithoutReasonError as e:
        return incident_page(request, viewer, incident_id, status=422, form=form,
                             error=late_message(e))
    except reports.ReportStateError as e:
        return incident_page(request, viewer, incident_id, status=409, form=form,
                             error=str(e))
    return done_redirect(incident_id, "approve")


@router.post(f"{PREFIX}/reports/{{report_id}}/retry")
def retry_report(request: Request, viewer: Analyst, report_id: ReportId,
                 back: Annotated[str, Form(max_length=20)] = "incident") -> Response:
    again = retry(request, viewer.caller, report_id)
    if back == "reports":
        return RedirectResponse(f"{PREFIX}/reports?done=retry", status_code=303)
    return done_redirect(again.incident_id, "retry")


@router.get(f"{PREFIX}/reports/{{report_id}}/documents/{{name}}")
def document(request: Request, viewer: Readers, report_id: ReportId,
             name: DocumentName) -> Response:
    return get_document(request, viewer.caller, report_id, name)


@router.get(f"{PREFIX}/reports")
def report_list(request: Request, viewer: Readers, hospital: str | None = None,
                state: str | None = None, kind: str | None = None,
                offset: Annotated[int, Query(ge=0, le=9500)] = 0,
                done: str | None = None) -> Response:
    filters = {"hospital": text(hospital, "query.hospital"),
               "state": choice(state, "query.state", reports.REPORT_STATES),
               "kind": choice(kind, "query.kind", reports.KINDS)}
    start = offset
    page = list_reports(request, viewer.caller, hospital=filters["hospital"],
                        state_=filters["state"],  # type: ignore[arg-type]
                        kind=filters["kind"],  # type: ignore[arg-type]
                        limit=PAGE, offset=start)
    params = {k: v for k, v in filters.items() if v}
    return render(request, "reports.html", {
        "page": page, "filters": filters, "params": params, "offset": start,
        "next_offset": start + PAGE if start + PAGE < min(page.total, 9500) else None,
        "states": reports.REPORT_STATES, "kinds": reports.KINDS,
        "hospitals": sorted(request.app.state.phiwatch.config.api.hospitals),
        "done": done if done == "retry" else None,
    }, viewer)
