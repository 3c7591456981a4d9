"""Errors as JSON: a code, a message meant for the caller, the request id; nothing else.

``{"error": "invalid_request", "message": "query.limit: ...", "field": "query.limit",
"request_id": "..."}``. A 422 names the field. A store that does not answer is a 503 with
a fixed message: the backend's own text (hosts, index names, SQL) stays in the server's
log. Anything unexpected is a 500 with a fixed message and the request id to find it in
the log; no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import BodyTooLarge
from phiwatch.service import (
    AlertNotFound,
    ConflictError,
    IncidentNotFound,
    RuleNotFound,
    StoreError,
    TransitionError,
    reports,
)
from sensors.errors import PhiwatchError

log = logging.getLogger("phiwatch.api")


class ApiError(PhiwatchError):
    """An answer other than success, already phrased for the caller."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={
            "WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Invalid(ApiError):
    status, code = 422, "invalid_request"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


STORE_UNAVAILABLE = "the alert store is not answering; try again shortly"


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def body(code: str, message: str, request: Request, field: str | None = None
         ) -> dict[str, Any]:
    out: dict[str, Any] = {"error": code, "message": message, "request_id": request_id(request)}
    if field is not None:
        out["field"] = field
    return out


def answer(request: Request, status: int, code: str, message: str, *,
           field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(code, message, request, field), status_code=status,
                        headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body" and len(parts) == 1:
        return "body"
    return ".".join(parts)


def late_message(e: reports.ReportError) -> str:
    """What a late approval without its reason is told (the API's 422, the console's page)."""
    return f"body.delay_reason: {e.why}"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON above."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, e: ApiError) -> JSONResponse:
        return answer(request, e.status, e.code, e.message, field=e.field, headers=e.headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, e: BodyTooLarge) -> JSONResponse:
        return answer(request, 413, "payload_too_large", str(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        first = errors[0] if errors else {"loc": ("request",), "msg": "invalid request"}
        field = _field(tuple(first.get("loc", ("request",))))
        message = f"{field}: {first.get('msg', 'invalid value')}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return answer(request, 422, "invalid_request", message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 400:  # FastAPI could not parse the body (not JSON, not UTF-8)
            return answer(request, 422, "invalid_request", "body: not a valid JSON document",
                          field="body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        message = {404: "no such route", 405: "method not allowed on this route"}.get(
            e.status_code, str(e.detail) if isinstance(e.detail, str) else "request refused")
        return answer(request, e.status_code, code, message,
                      headers=dict(e.headers) if e.headers else None)

    @app.exception_handler(IncidentNotFound)
    @app.exception_handler(AlertNotFound)
    @app.exception_handler(RuleNotFound)
    async def _not_found(request: Request, e: PhiwatchError) -> JSONResponse:
        return answer(request, 404, "not_found", str(e))

    @app.exception_handler(TransitionError)
    async def _transition(request: Request, e: TransitionError) -> JSONResponse:
        return answer(request, 409, "illegal_transition", str(e))

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, e: ConflictError) -> JSONResponse:
        return answer(request, 409, "stale_version", str(e))

    @app.exception_handler(reports.ReportNotFound)
    async def _no_report(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 404, "not_found", str(e))

    @app.exception_handler(reports.ReportsNotConfigured)
    async def _not_configured(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 404, "not_configured", str(e))

    @app.exception_handler(reports.ReportStateError)
    async def _report_state(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 409, "report_state", str(e))

    @app.exception_handler(reports.RecordConflict)
    async def _record_conflict(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 409, "stale_version", str(e))

    @app.exception_handler(reports.LateWithoutReasonError)
    async def _late(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 422, "invalid_request", late_message(e),
                      field="body.delay_reason")

    @app.exception_handler(reports.ForgeryError)
    async def _forged(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 401, "not_verified", str(e))

    @app.exception_handler(reports.VerificationError)
    async def _unverifiable(request: Request, e: reports.ReportError) -> JSONResponse:
        return answer(request, 422, "invalid_report", str(e), field="body")

    @app.exception_handler(StoreError)
    async def _store(request: Request, e: StoreError) -> JSONResponse:
        log.warning("request %s: store error: %s", request_id(request), e)
        return answer(request, 503, "store_unavailable", STORE_UNAVAILABLE)

    @app.exception_handler(PhiwatchError)
    async def _phiwatch(request: Request, e: PhiwatchError) -> JSONResponse:
        log.error("request %s: %s", request_id(request), e)
        return answer(request, 500, "internal_error",
                      "the request could not be completed; the server log has the details "
                      "under this request id")

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("request %s failed", request_id(request))
        return answer(request, 500, "internal_error",
                      "the request could not be completed; the server log has the details "
                      "under this request id")
