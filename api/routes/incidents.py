"""``/incidents``: search, one incident with its alerts, evidence and notes, status
changes, notes and evidence requests.

Hospital IT triages its own hospital's incidents (status changes with a mandatory
comment; the actor is the token's subject). Inspectors read every hospital's and may add
notes and request evidence. The Department reads the list (summaries) only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from api.audit import seal
from api.deps import (
    Caller,
    allow,
    search_filters,
    state,
    view,
)
from api.errors import Invalid
from api.models import (
    IncidentOut,
    IncidentPageOut,
    IncidentSortName,
    NoteIn,
    NoteOut,
    Severity,
    Status,
    StatusChangeIn,
)
from api.paging import fingerprint
from api.pseudonyms import ResponseView
from api.render import incident_ids_known, incident_out, note_out, peek_incident_words, summary_out
from api.routes.common import CONFLICT, ERRORS, MAX_FILTER, NOT_FOUND
from phiwatch.service import (
    Incident,
    IncidentQuery,
    ServiceStore,
    add_note,
    alerts_of,
    change_status_in_scope,
    incident_in_scope,
    incident_total,
    incidents_page,
    notes_of,
    reports,
)

router = APIRouter(tags=["incidents"])
IncidentId = Annotated[str, Path(max_length=128)]


@router.get("/incidents", response_model=IncidentPageOut, responses=ERRORS,
            summary="Search incidents (summaries), newest first by default")
def search_incidents(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector", "department"))],
    start: Annotated[datetime | None, Query(
        description="Incidents whose last alert window ends at or after this time")] = None,
    end: Annotated[datetime | None, Query(
        description="Incidents whose first alert window starts before this time")] = None,
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    rule: Annotated[str | None, Query(max_length=MAX_FILTER,
                                      description="Has an alert of this rule")] = None,
    user: Annotated[str | None, Query(max_length=MAX_FILTER,
                                      description="The staff member concerned")] = None,
    severity: Annotated[Severity | None, Query(description="This severity and above")] = None,
    status: Status | None = None,
    words: Annotated[str | None, Query(max_length=MAX_FILTER, description=(
        "Case-insensitive words of the alerts' explanations, titles, rule ids or the user, "
        "matched literally"))] = None,
    sort: IncidentSortName = "newest",
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> IncidentPageOut:
    st = state(request)
    v = view(request, caller)
    f = search_filters(request, caller, hospital=hospital, start=start, end=end, rule=rule,
                       user=user, words=words, limit=limit)
    org, start_, end_, rule, user, words, size = (
        f.organization_id, f.start, f.end, f.rule, f.user, f.words, f.size)
    print_ = fingerprint(kind="incidents", start=start_, end=end_, org=org, rule=rule,
                         user=user, severity=severity, status=status, words=words, sort=sort,
                         scope=caller.scope.organization_id, role=caller.role)
    after = st.cursors.decode(cursor, "incidents", print_) if cursor else None
    try:
        q = IncidentQuery(start=start_, end=end_, organization_id=org, principal=user,
                          status=status, min_severity=severity, rule_id=rule, text=words,
                          limit=size, sort=sort, after=after)
    except ValueError as e:
        raise Invalid(f"query: {e}", field="query.cursor" if after else "query") from None
    keep = None
    counted = True
    if words and caller.role != "hospital_it":
        needle = words.casefold()

        def keep_shown(batch: list[Incident]) -> list[bool]:
            alerts = alerts_of(st.store, [i for i in batch
                                          if not v.reveals(i.organization_id)])
            return [v.reveals(i.organization_id)
                    or needle in peek_incident_words(v, i, alerts).casefold() for i in batch]

        keep, counted = keep_shown, False
    page = incidents_page(st.store, q, keep)
    alerts = alerts_of(st.store, page.items)
    items = [summary_out(v, i, alerts) for i in page.items]
    seal(request, caller, v, [i.id for i in page.items])
    return IncidentPageOut(
        items=items,
        next_cursor=(st.cursors.encode("incidents", print_, page.next_after)
                     if page.next_after is not None else None),
        total=incident_total(st.store, q) if counted else None,
        scanned_out=page.scanned_out,
    )


def _full(request: Request, caller: Caller, v: ResponseView, store: ServiceStore,
          incident: Incident, status: int = 200) -> IncidentOut:
    alerts = alerts_of(store, [incident])
    out = incident_out(v, incident, alerts, notes_of(store, incident))
    seal(request, caller, v, [incident.id, *incident.alert_ids], status)
    return out


@router.get("/incidents/{incident_id}", response_model=IncidentOut,
            responses={**ERRORS, **NOT_FOUND},
            summary="One incident: its alerts, their explanations, the evidence timeline, "
                    "the status history and the notes")
def get_incident(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    incident_id: IncidentId,
) -> IncidentOut:
    st = state(request)
    incident = incident_in_scope(st.store, incident_id, caller.scope)
    return _full(request, caller, view(request, caller), st.store, incident)


@router.post("/incidents/{incident_id}/status", response_model=IncidentOut,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT},
             summary="Move the status (comment mandatory; pass expected_version)")
def change_status(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it"))],
    incident_id: IncidentId,
    change: StatusChangeIn,
) -> IncidentOut:
    st = state(request)
    incident = change_status_in_scope(st.store, incident_id, caller.scope, change.to,
                                      caller.subject, caller.role, change.comment,
                                      change.expected_version)
    # A confirmed leak gets its report drafts now (``reports.draft_on_confirm``).
    reports.status_changed(st.reports, st.store, incident, actor=caller.subject,
                           now=datetime.now(UTC))
    return _full(request, caller, view(request, caller), st.store, incident)


def _note(request: Request, caller: Caller, incident_id: str, kind: str, text: str
          ) -> NoteOut:
    st = state(request)
    v = view(request, caller)
    incident = incident_in_scope(st.store, incident_id, caller.scope)
    note = add_note(st.store, incident.id, caller.scope, caller.subject, caller.role, kind,
                    text)
    out = note_out(v, note, incident_ids_known(incident, alerts_of(st.store, [incident])))
    seal(request, caller, v, [incident.id, note.id], 201)
    return out


@router.post("/incidents/{incident_id}/notes", response_model=NoteOut, status_code=201,
             responses={**ERRORS, **NOT_FOUND}, summary="Add a note to an incident")
def post_note(
    request: Request,
    caller: Annotated[Caller, Depends(allow("hospital_it", "inspector"))],
    incident_id: IncidentId,
    note: NoteIn,
) -> NoteOut:
    return _note(request, caller, incident_id, "note", note.text)


@router.post("/incidents/{incident_id}/evidence-requests", response_model=NoteOut,
             status_code=201, responses={**ERRORS, **NOT_FOUND},
             summary="Ask the hospital for the evidence behind an incident (Inspectorate)")
def post_evidence_request(
    request: Request,
    caller: Annotated[Caller, Depends(allow("inspector"))],
    incident_id: IncidentId,
    note: NoteIn,
) -> NoteOut:
    return _note(request, caller, incident_id, "evidence_request", note.text)
