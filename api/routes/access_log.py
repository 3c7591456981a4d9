"""``/audit`` (admin, inspector): the access audit log, oldest first, page by ``after``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import Caller, allow, state
from api.models import AuditPageOut, AuditRecordOut
from api.routes.common import ERRORS
from phiwatch.service import audit_page

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPageOut, responses=ERRORS,
            summary="Who saw patient identifiers, when, and why (hash-chained)")
def access_log(
    request: Request,
    caller: Annotated[Caller, Depends(allow("admin", "inspector"))],
    after: Annotated[int, Query(ge=0, le=2**53, description="Records after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPageOut:
    records = audit_page(state(request).store, after, limit)
    items = [AuditRecordOut(seq=r.seq, at=r.at, actor=r.entry.actor, role=r.entry.role,
                            hospital=r.entry.hospital, method=r.entry.method,
                            route=r.entry.route, objects=list(r.entry.objects),
                            identifiers=r.entry.identifiers, request_id=r.entry.request_id,
                            reason=r.entry.reason, status=r.entry.status, prev=r.prev,
                            hash=r.hash) for r in records]
    return AuditPageOut(items=items,
                        next_after=records[-1].seq if len(records) == limit else None)
