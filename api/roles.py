"""The roles, and who may do what: deny by default.

- ``hospital_it``: alerts and incidents of the hospital in its token's ``hospital`` claim;
  triages them (status changes, notes); drafts, approves and sends its reports.
- ``inspector`` (Thanh tra Sở Y tế): every hospital, read-only, plus notes and evidence
  requests; reads the access audit log, every hospital's issued reports and the inbox.
- ``department`` (Sở Y tế): incident summaries and statistics, and the reports the
  Department's inbox received from hospitals.
- ``admin``: rules (list, validate, switch on and off) and the access audit log; no
  patient data.
- ``sensor``: a remote sensor (``phiwatch sensor``); sends event batches of the hospital
  in its token's ``hospital`` claim (``/ingest``) and reads nothing.

Each route names the roles it allows with ``api.deps.allow(...)`` as a dependency; the
application refuses to start when a route names none (``check_routes``), so a route
added without a decision is never served. A token whose role is not one of these (or
names several) has role ``None`` and every route refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

Role = Literal["hospital_it", "inspector", "department", "admin", "sensor"]
ROLES: tuple[Role, ...] = ("hospital_it", "inspector", "department", "admin", "sensor")
#: Roles whose token must name the hospital they act for.
HOSPITAL_BOUND: frozenset[Role] = frozenset({"hospital_it", "sensor"})
#: Roles that read every hospital's data (no hospital claim limits them).
ALL_HOSPITALS: frozenset[Role] = frozenset({"inspector", "department"})

#: Routes served without a token: they carry no data.
PUBLIC_PATHS: frozenset[str] = frozenset({
    "/health", "/ready", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
})
#: Routes (method, path) served without a token: the Department's inbox, where the signed
#: report itself is the proof (verified against the hospital's registered key).
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({("POST", "/inbox/reports")})
#: The attribute ``allow`` puts on its dependency.
ROLES_ATTRIBUTE = "phiwatch_roles"


def _declared(dependant: Dependant) -> frozenset[Role] | None:
    roles = getattr(dependant.call, ROLES_ATTRIBUTE, None)
    if roles is not None:
        return frozenset(roles)
    for sub in dependant.dependencies:
        found = _declared(sub)
        if found is not None:
            return found
    return None


def declared_roles(routers: Iterable[APIRouter]) -> dict[tuple[str, str], frozenset[Role]]:
    """(method, path template) → the roles its route allows, for every route of
    ``routers`` (an empty set: the route declares none)."""
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
                continue
            roles = _declared(route.dependant)
            for method in route.methods or ():
                if (method, router.prefix + route.path) in PUBLIC_ROUTES:
                    continue
                table[(method, router.prefix + route.path)] = roles or frozenset()
    return table


def check_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Refuse an application with a route that declares no roles, or one it serves that
    is neither public nor from ``routers`` (so undeclared)."""
    routers = list(routers)
    table = declared_roles(routers)
    undeclared = sorted(f"{m} {p}" for (m, p), roles in table.items() if not roles)
    served = {(method.upper(), path) for path, item in app.openapi().get("paths", {}).items()
              for method in item if path not in PUBLIC_PATHS}
    undeclared += sorted(f"{m} {p}" for m, p in served - set(table) - PUBLIC_ROUTES)
    if undeclared:
        raise RuntimeError(f"routes without declared roles: {', '.join(undeclared)}")
