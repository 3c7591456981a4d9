"""Alert search: the API's ``GET /alerts`` (``api.routes.alerts.search_alerts``) with the
visitor's ``Caller``, shown as a table with each alert's explanation sentence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.console.errors import PREFIX
from api.console.filters import Filters, cursor
from api.console.session import Viewer, signed_in
from api.console.templating import render
from api.routes.alerts import search_alerts
from phiwatch.service import ALERT_SORTS, SEVERITIES

router = APIRouter(include_in_schema=False)


@router.get(f"{PREFIX}/alerts")
def alerts(
    request: Request,
    viewer: Annotated[Viewer, Depends(signed_in("hospital_it", "inspector"))],
    hospital: str | None = None, severity: str | None = None, rule: str | None = None,
    user: str | None = None, start: str | None = None, end: str | None = None,
    words: str | None = None, sort: str | None = None, after: str | None = None,
) -> Response:
    f = Filters.read(kind="alerts", hospital=hospital, status=None, severity=severity,
                     rule=rule, user=user, start=start, end=end, words=words, sort=sort)
    page = search_alerts(
        request, viewer.caller, start=f.start_time, end=f.end_time, hospital=f.hospital,
        rule=f.rule, user=f.user, severity=f.severity,  # type: ignore[arg-type]
        words=f.words, sort=f.sort or "newest",  # type: ignore[arg-type]
        limit=None, cursor=cursor(after))
    return render(request, "alerts.html", {
        "page": page, "filters": f, "params": f.params(), "first_page": after is None,
        "severities": SEVERITIES, "sorts": tuple(ALERT_SORTS),
        "hospitals": sorted(request.app.state.phiwatch.config.api.hospitals),
    }, viewer)
