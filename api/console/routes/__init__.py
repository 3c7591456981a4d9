"""The console's pages, one module per subject; ``ROUTERS`` lists them, ``PUBLIC`` the
routes served without a session (sign-in, language, the stylesheet)."""

from __future__ import annotations

from fastapi import APIRouter

from api.console.routes.alerts import router as alerts_router
from api.console.routes.inbox import router as inbox_router
from api.console.routes.incident import router as incident_router
from api.console.routes.incidents import router as incidents_router
from api.console.routes.overview import router as overview_router
from api.console.routes.reports import router as reports_router
from api.console.routes.rules import router as rules_router
from api.console.routes.signin import PUBLIC
from api.console.routes.signin import router as signin_router

ROUTERS: list[APIRouter] = [signin_router, overview_router, incidents_router,
                            incident_router, alerts_router, rules_router, reports_router,
                            inbox_router]

__all__ = ["PUBLIC", "ROUTERS"]
