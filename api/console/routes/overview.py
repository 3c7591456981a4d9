"""The overview: alerts per day by rule and by hospital, open incidents by status and age,
and the open incidents nearest their 72-hour notification deadline.

The charts are counts (the API's ``/stats/alerts``, no identifiers, no access record).
Open incidents are never walked: the store counts them by status and age
(``incident_age_counts``, one aggregation) and returns the ones detected earliest
(``nearest_deadlines``, one sorted query), both limited to the caller's hospital; those
are shown through the caller's view and sealed in the access audit like any API list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.audit import seal
from api.console.charts import day_stacks, row_stacks
from api.console.errors import PREFIX
from api.console.i18n import translator
from api.console.session import Viewer, signed_in
from api.console.state import console
from api.console.templating import render
from api.deps import view
from api.models import AlertStatsOut
from api.render import summary_out
from api.routes.stats import alert_stats
from phiwatch.service import (
    AGE_BUCKETS,
    AlertQuery,
    alerts_of,
    alerts_page,
    incident_age_counts,
    nearest_deadlines,
)

router = APIRouter(include_in_schema=False)
OPEN = ("new", "investigating", "confirmed_leak")


@router.get(f"{PREFIX}/")
def overview(request: Request, viewer: Annotated[Viewer, Depends(signed_in(
        "hospital_it", "inspector", "department", "admin"))]) -> Response:
    if viewer.role == "admin":
        return RedirectResponse(f"{PREFIX}/rules", status_code=303)
    state = console(request)
    api = state.api
    t = translator(viewer.lang)
    zone = ZoneInfo(api.config.timezone)
    now = datetime.fromtimestamp(state.clock(), UTC)
    org = viewer.caller.scope.organization_id
    today = now.astimezone(zone).date()
    days, stats = _alert_days(request, viewer, today, now, state.config.chart_days)
    if stats.total == 0:
        # Nothing lately (a replay of old logs, the demo): the days up to the newest alert.
        newest = alerts_page(api.store, AlertQuery(organization_id=org, limit=1)).items
        if newest:
            last = newest[0].window_end.astimezone(zone).date()
            end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
            days, stats = _alert_days(request, viewer, last, end, state.config.chart_days)

    def label(d: date) -> str:
        return d.strftime("%d/%m" if viewer.lang == "vi" else "%m-%d")

    by_rule = day_stacks(days, ((c.day, c.key or "?", c.count) for c in stats.by_rule),
                         day_label=label, other=t("chart.other"))
    by_hospital = day_stacks(days, ((c.day, c.key or "?", c.count)
                                    for c in stats.by_hospital),
                             day_label=label, other=t("chart.other"))

    ages = [name for name, _ in AGE_BUCKETS]
    counts = incident_age_counts(api.store, org, OPEN, now)
    top = nearest_deadlines(api.store, org, OPEN, state.config.deadline_rows)
    by_status = row_stacks([(t(f"status.{s}"), counts[s]) for s in OPEN],
                           [t(f"age.{a}") for a in ages])
    v = view(request, viewer.caller)
    alerts = alerts_of(api.store, top) if top else {}
    summaries = [summary_out(v, i, alerts) for i in top]
    seal(request, viewer.caller, v, [i.id for i in top])
    return render(request, "overview.html", {
        "by_rule": by_rule, "by_hospital": by_hospital, "by_status": by_status,
        "deadlines": summaries, "alert_total": stats.total,
        "open_total": sum(sum(c) for c in counts.values()), "days": len(days),
        "chart_end": days[-1] if days[-1] != today else None,
    }, viewer)


def _alert_days(request: Request, viewer: Viewer, last: date, end: datetime, count: int
                ) -> tuple[list[date], AlertStatsOut]:
    """The ``count`` days ending with ``last`` and the API's alert counts over them."""
    days = [last - timedelta(days=n) for n in range(count - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time())
    return days, alert_stats(request, viewer.caller, start=start, end=end, hospital=None,
                             rule=None, severity=None)
