"""The API's routes, one module per subject; ``ROUTERS`` lists them for ``api.app``."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.access_log import router as access_log_router
from api.routes.alerts import router as alerts_router
from api.routes.health import router as health_router
from api.routes.inbox import router as inbox_router
from api.routes.incidents import router as incidents_router
from api.routes.ingest import router as ingest_router
from api.routes.me import router as me_router
from api.routes.reports import router as reports_router
from api.routes.rules import router as rules_router
from api.routes.stats import router as stats_router

ROUTERS: list[APIRouter] = [health_router, me_router, alerts_router, incidents_router,
                            stats_router, rules_router, access_log_router, reports_router,
                            inbox_router, ingest_router]
