"""``/alerts``: search (keyset pages, stable while alerts arrive) and one alert.

Hospital IT reads its own hospital's alerts with real patient identifiers; inspectors
read every hospital's, with pseudonyms unless a hospital discloses them. Words are
matched against what the caller is shown: with pseudonyms, a patient id typed in
``words`` finds nothing (and the total is not counted), so the search is no oracle for
whether a given patient appears in the alerts.
"""

from __future__ import annotations

from datetime import datetime
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
from api.models import AlertOut, AlertPageOut, AlertSortName, Severity
from api.paging import fingerprint
from api.render import alert_out, peek_alert_text
from api.routes.common import ERRORS, MAX_FILTER, NOT_FOUND
from phiwatch.service import Alert, AlertQuery, alert_total, alerts_page, get_alert

router = APIRouter(tags=["alerts"])
Reader = Annotated[Caller, Depends(allow("hospital_it", "inspector"))]
Filter = Annotated[str | None, Query(max_length=MAX_FILTER)]


@router.get("/alerts", response_model=AlertPageOut, responses=ERRORS,
            summary="Search alerts, newest first by default")
def search_alerts(
    request: Request,
    caller: Reader,
    start: Annotated[datetime | None, Query(
        description="Alerts whose window ends at or after this time (ISO 8601; without "
                    "an offset: the configured time zone)")] = None,
    end: Annotated[datetime | None, Query(
        description="Alerts whose window starts before this time")] = None,
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER,
                                          description="organization.id")] = None,
    rule: Annotated[str | None, Query(max_length=MAX_FILTER, description="Rule id")] = None,
    user: Annotated[str | None, Query(max_length=MAX_FILTER,
                                      description="Staff user id")] = None,
    severity: Annotated[Severity | None, Query(
        description="This severity and above")] = None,
    words: Annotated[str | None, Query(max_length=MAX_FILTER, description=(
        "Case-insensitive words of the explanation, matched literally"))] = None,
    sort: AlertSortName = "newest",
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    cursor: Annotated[str | None, Query(max_length=2048, description=(
        "next_cursor of the previous page"))] = None,
) -> AlertPageOut:
    st = state(request)
    v = view(request, caller)
    f = search_filters(request, caller, hospital=hospital, start=start, end=end, rule=rule,
                       user=user, words=words, limit=limit)
    org, start_, end_, rule, user, words, size = (
        f.organization_id, f.start, f.end, f.rule, f.user, f.words, f.size)
    print_ = fingerprint(kind="alerts", start=start_, end=end_, org=org, rule=rule,
                         user=user, severity=severity, words=words, sort=sort,
                         scope=caller.scope.organization_id, role=caller.role)
    after = st.cursors.decode(cursor, "alerts", print_) if cursor else None
    try:
        q = AlertQuery(start=start_, end=end_, organization_id=org, rule_id=rule,
                       user_id=user, min_severity=severity, text=words, limit=size,
                       sort=sort, after=after)
    except ValueError as e:
        raise Invalid(f"query: {e}", field="query.cursor" if after else "query") from None
    keep = None
    counted = True
    if words and caller.role != "hospital_it":
        needle = words.casefold()

        def keep_shown(batch: list[Alert]) -> list[bool]:
            return [v.reveals(a.organization_id)
                    or needle in peek_alert_text(v, a).casefold() for a in batch]

        keep, counted = keep_shown, False
    page = alerts_page(st.store, q, keep)
    items = [alert_out(v, a) for a in page.items]
    seal(request, caller, v, [a.id for a in page.items])
    return AlertPageOut(
        items=items,
        next_cursor=(st.cursors.encode("alerts", print_, page.next_after)
                     if page.next_after is not None else None),
        total=alert_total(st.store, q) if counted else None,
        scanned_out=page.scanned_out,
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut,
            responses={**ERRORS, **NOT_FOUND}, summary="One alert with its evidence")
def get_one_alert(
    request: Request,
    caller: Reader,
    alert_id: Annotated[str, Path(max_length=128)],
) -> AlertOut:
    st = state(request)
    v = view(request, caller)
    alert = get_alert(st.store, alert_id, caller.scope)
    out = alert_out(v, alert)
    seal(request, caller, v, [alert.id])
    return out
