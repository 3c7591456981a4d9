"""``/stats``: numbers for charts — alerts per day by rule and by hospital, incidents by
status and age. Counts only: no identifier of anyone, so no access record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Caller, allow, aware, check_range, filter_text, hospital_filter, state
from api.errors import Invalid
from api.models import AgeCountOut, AlertStatsOut, DayCountOut, IncidentStatsOut, Severity
from api.routes.common import ERRORS, MAX_FILTER
from phiwatch.service import (
    AGE_BUCKETS,
    STATUSES,
    AlertQuery,
    IncidentQuery,
    alert_day_counts,
    incident_stats,
)

router = APIRouter(tags=["statistics"])
Reader = Annotated[Caller, Depends(allow("hospital_it", "inspector", "department"))]
MAX_DAYS = 400


@router.get("/stats/alerts", response_model=AlertStatsOut, responses=ERRORS,
            summary="Alerts per day (configured time zone), by rule and by hospital")
def alert_stats(
    request: Request,
    caller: Reader,
    start: Annotated[datetime | None, Query(description="Default: 30 days before end")] = None,
    end: Annotated[datetime | None, Query(description="Default: now")] = None,
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    rule: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    severity: Annotated[Severity | None, Query(description="This severity and above")] = None,
) -> AlertStatsOut:
    st = state(request)
    zone = st.config.timezone
    org = hospital_filter(caller, filter_text(hospital, "query.hospital"))
    end_ = aware(end, zone, "query.end") or datetime.now(UTC)
    start_ = aware(start, zone, "query.start") or end_ - timedelta(days=30)
    check_range(start_, end_)
    if end_ - start_ > timedelta(days=MAX_DAYS):
        raise Invalid(f"query.start: at most {MAX_DAYS} days before end", field="query.start")
    q = AlertQuery(start=start_, end=end_, organization_id=org,
                   rule_id=filter_text(rule, "query.rule"), min_severity=severity)
    counts = alert_day_counts(st.store, q, zone)
    by_rule: dict[tuple[object, str | None], int] = {}
    by_hospital: dict[tuple[object, str | None], int] = {}
    for c in counts:
        by_rule[(c.day, c.rule_id)] = by_rule.get((c.day, c.rule_id), 0) + c.count
        key = (c.day, c.organization_id)
        by_hospital[key] = by_hospital.get(key, 0) + c.count

    def rows(table: dict[tuple[object, str | None], int]) -> list[DayCountOut]:
        return [DayCountOut(day=d, key=k, count=n)  # type: ignore[arg-type]
                for (d, k), n in sorted(table.items(), key=lambda kv: (str(kv[0][0]),
                                                                      kv[0][1] or ""))]

    return AlertStatsOut(start=start_, end=end_, timezone=zone, by_rule=rows(by_rule),
                         by_hospital=rows(by_hospital), total=sum(c.count for c in counts))


@router.get("/stats/incidents", response_model=IncidentStatsOut, responses=ERRORS,
            summary="Incidents by status, and by status and age (time since detection)")
def incident_statistics(
    request: Request,
    caller: Reader,
    start: datetime | None = None,
    end: datetime | None = None,
    hospital: Annotated[str | None, Query(max_length=MAX_FILTER)] = None,
    severity: Annotated[Severity | None, Query(description="This severity and above")] = None,
) -> IncidentStatsOut:
    st = state(request)
    zone = st.config.timezone
    org = hospital_filter(caller, filter_text(hospital, "query.hospital"))
    start_, end_ = aware(start, zone, "query.start"), aware(end, zone, "query.end")
    check_range(start_, end_)
    stats = incident_stats(st.store, IncidentQuery(start=start_, end=end_,
                                                   organization_id=org,
                                                   min_severity=severity))
    by_age = [AgeCountOut(status=s, age=label, count=stats.by_age[(s, label)])
              for s in STATUSES for label, _ in AGE_BUCKETS if (s, label) in stats.by_age]
    return IncidentStatsOut(by_status=stats.by_status, by_age=by_age,
                            total=sum(stats.by_status.values()))
