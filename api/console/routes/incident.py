"""One incident: its alerts and their sentences, the evidence timeline, who did what
when, the status history, notes, and the forms to triage it.

Reading is the API's ``GET /incidents/{id}`` (and ``GET /incidents/{id}/reports`` for
its reports section, ``api.console.report_section``); the forms post to the API's own
functions (status change with a mandatory comment and the version read, notes, evidence
requests; the report forms are ``api.console.routes.reports``), under the visitor's role
and hospital scope. A refused change (an illegal
transition, a stale version, a blank comment) shows the page again with the reason; a
change made redirects back to the page (post/redirect/get).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console.errors import PREFIX
from api.console.report_section import report_section
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.errors import Invalid
from api.models import IncidentOut, NoteIn, StatusChangeIn
from api.routes.incidents import change_status, get_incident, post_evidence_request, post_note
from phiwatch.service import ConflictError, TransitionError

router = APIRouter(include_in_schema=False)
IncidentId = Annotated[str, Path(max_length=128)]
Text = Annotated[str, Form(max_length=20_000)]
Readers = signed_in("hospital_it", "inspector")
DONE = frozenset({"status", "note", "evidence_request", "draft", "approve", "retry"})


@dataclass(frozen=True, slots=True)
class Activity:
    """One line of "who did what when": a status change or a note."""

    at: datetime
    actor: str
    role: str | None
    kind: str
    text: str
    from_status: str | None = None
    to_status: str | None = None


def activity(incident: IncidentOut) -> list[Activity]:
    lines = [Activity(h.at, h.actor, h.role, "status", h.comment, h.from_status, h.to_status)
             for h in incident.history]
    lines += [Activity(n.at, n.actor, n.role, n.kind, n.text) for n in incident.notes]
    return sorted(lines, key=lambda a: a.at)


def incident_page(request: Request, viewer: Viewer, incident_id: str, *,
                  error: str | None = None, status: int = 200, done: str | None = None,
                  form: dict[str, str] | None = None) -> Response:
    incident = get_incident(request, viewer.caller, incident_id)
    choices = [s for s in incident.next_statuses
               if not (incident.status == "closed" and viewer.role != "admin")]
    rules = {a.id: a.rule_id for a in incident.alerts}
    return render(request, "incident.html", {
        "incident": incident, "activity": activity(incident), "choices": choices,
        "rules": rules, "error": error, "done": done if done in DONE else None,
        "form": form or {}, "reports": report_section(request, viewer, incident),
    }, viewer, status)


@router.get(f"{PREFIX}/incidents/{{incident_id}}")
def incident(request: Request, viewer: Annotated[Viewer, Depends(Readers)],
             incident_id: IncidentId, done: str | None = None) -> Response:
    return incident_page(request, viewer, incident_id, done=done)


def done_redirect(incident_id: str, what: str) -> Response:
    return RedirectResponse(f"{PREFIX}/incidents/{incident_id}?done={what}", status_code=303)


def first_error(e: ValidationError) -> str:
    first = e.errors()[0] if e.errors() else {"loc": ("form",), "msg": "invalid"}
    return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"


@router.post(f"{PREFIX}/incidents/{{incident_id}}/status")
def triage(request: Request,
           viewer: Annotated[Viewer, Depends(signed_in("hospital_it"))],
           incident_id: IncidentId, to: Text = "", comment: Text = "",
           expected_version: Text = "") -> Response:
    form = {"to": to, "comment": comment}
    try:
        change = StatusChangeIn(to=to, comment=comment,  # type: ignore[arg-type]
                                expected_version=int(expected_version)
                                if expected_version.isdigit() else None)
    except ValidationError as e:
        blank = any(err.get("loc") == ("comment",) for err in e.errors())
        return incident_page(request, viewer, incident_id, status=422, form=form,
                     error="incident.comment_required" if blank else first_error(e))
    try:
        change_status(request, viewer.caller, incident_id, change)
    except ConflictError:
        return incident_page(request, viewer, incident_id, status=409, form=form,
                     error="incident.stale")
    except TransitionError as e:
        return incident_page(request, viewer, incident_id, status=409, form=form, error=str(e))
    return done_redirect(incident_id, "status")


def _note(request: Request, viewer: Viewer, incident_id: str, text: str, kind: str
          ) -> Response:
    try:
        note = NoteIn(text=text)
    except ValidationError:
        return incident_page(request, viewer, incident_id, status=422,
                     error="incident.note_required", form={kind: text})
    try:
        if kind == "note":
            post_note(request, viewer.caller, incident_id, note)
        else:
            post_evidence_request(request, viewer.caller, incident_id, note)
    except Invalid as e:
        return incident_page(request, viewer, incident_id, status=422, error=e.message)
    return done_redirect(incident_id, kind)


@router.post(f"{PREFIX}/incidents/{{incident_id}}/notes")
def add_note(request: Request, viewer: Annotated[Viewer, Depends(Readers)],
             incident_id: IncidentId, text: Text = "") -> Response:
    return _note(request, viewer, incident_id, text, "note")


@router.post(f"{PREFIX}/incidents/{{incident_id}}/evidence-requests")
def request_evidence(request: Request,
                     viewer: Annotated[Viewer, Depends(signed_in("inspector"))],
                     incident_id: IncidentId, text: Text = "") -> Response:
    return _note(request, viewer, incident_id, text, "evidence_request")
