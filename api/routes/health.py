"""``/health`` (the process answers) and ``/ready`` (the store answers): no token, no data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import state
from api.models import HealthOut
from phiwatch.service import store_ready

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="The API process answers")
def health() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/ready", response_model=HealthOut, summary="The alert store answers too",
            responses={503: {"model": HealthOut}})
def ready(request: Request) -> JSONResponse:
    if store_ready(state(request).store):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable"}, status_code=503)
