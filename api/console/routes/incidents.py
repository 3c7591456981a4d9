"""The incident list: filters (hospital, status, severity, rule, staff member, days,
words), keyset pages that stay put while incidents arrive.

The list is the API's ``GET /incidents`` (``api.routes.incidents.search_incidents``)
called with the visitor's ``Caller``: the same hospital scope, the same pseudonyms, the
same words search over what the caller is shown, the same signed cursors and the same
access record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.console.errors import PREFIX
from api.console.filters import Filters, cursor
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.routes.incidents import search_incidents
from phiwatch.service import INCIDENT_SORTS, SEVERITIES, STATUSES

router = APIRouter(include_in_schema=False)


@router.get(f"{PREFIX}/incidents")
def incidents(
    request: Request,
    viewer: Annotated[Viewer, Depends(signed_in("hospital_it", "inspector", "department"))],
    hospital: str | None = None, status: str | None = None, severity: str | None = None,
    rule: str | None = None, user: str | None = None, start: str | None = None,
    end: str | None = None, words: str | None = None, sort: str | None = None,
    after: str | None = None,
) -> Response:
    f = Filters.read(kind="incidents", hospital=hospital, status=status, severity=severity,
                     rule=rule, user=user, start=start, end=end, words=words, sort=sort)
    page = search_incidents(
        request, viewer.caller, start=f.start_time, end=f.end_time, hospital=f.hospital,
        rule=f.rule, user=f.user, severity=f.severity,  # type: ignore[arg-type]
        status=f.status,  # type: ignore[arg-type]
        words=f.words, sort=f.sort or "newest",  # type: ignore[arg-type]
        limit=None, cursor=cursor(after))
    return render(request, "incidents.html", {
        "page": page, "filters": f, "params": f.params(), "first_page": after is None,
        "statuses": STATUSES, "severities": SEVERITIES, "sorts": tuple(INCIDENT_SORTS),
        "hospitals": sorted(request.app.state.phiwatch.config.api.hospitals),
    }, viewer)
