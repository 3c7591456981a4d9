"""The access audit for responses: one hash-chained record per response that shows
patient identifiers (``alerting.audit`` keeps the chain).

A route that returns alerts, incidents or notes calls ``seal`` (a report route,
whose patients are already pseudonyms, ``record_access`` with their number) with the object ids and
its ``ResponseView`` just before returning. When the view rendered any patient
identifier, real or pseudonymous, the record is appended first; if it cannot be written,
the response is refused (503) rather than sent unrecorded. A response without patient
identifiers leaves no record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import Request

from api.deps import Caller, state
from api.errors import Unavailable
from api.pseudonyms import ResponseView
from phiwatch.service import AuditEntry, AuditRecord, audit
from sensors.errors import PhiwatchError

log = logging.getLogger("phiwatch.api")


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "") or "?")


def seal(request: Request, caller: Caller, view: ResponseView, objects: Iterable[str],
         status: int = 200) -> AuditRecord | None:
    """Append the access record when ``view`` showed patient identifiers."""
    return record_access(request, caller, objects, view.shown, status)


def record_access(request: Request, caller: Caller, objects: Iterable[str],
                  identifiers: int, status: int = 200) -> AuditRecord | None:
    """Append the access record for a response holding ``identifiers`` patient ids (real
    or pseudonymous: a report's annex); none when it holds none."""
    if identifiers == 0:
        return None
    entry = AuditEntry(
        actor=caller.subject, role=caller.role, hospital=caller.principal.hospital,
        method=request.method, route=route_template(request),
        objects=tuple(dict.fromkeys(objects)), identifiers=identifiers,
        request_id=caller.request_id, reason=caller.reason, status=status)
    try:
        return audit(state(request).store, entry)
    except PhiwatchError as e:
        log.error("request %s: the access audit log cannot be written: %s",
                  caller.request_id, e)
        raise Unavailable("the access audit log cannot be written, so nothing with "
                          "patient identifiers is shown; try again shortly") from None
