"""Errors as pages: every error under ``/console`` is HTML in the visitor's language.

The API's handlers (``api.errors.install``) stay as they are for the API; the console
wraps each so that a request under ``/console`` gets the same status with a page instead
of JSON. The message shown is the API's (phrased for the caller, never the backend's own
text). A request without a valid session is sent to the sign-in page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.responses import HTMLResponse

from api.errors import ApiError
from sensors.errors import PhiwatchError

PREFIX = "/console"
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


class SignInRequired(PhiwatchError):
    """No session, or one that ended (expired, signed out, account changed)."""


class CsrfRefused(ApiError):
    status, code = 403, "csrf"

    def __init__(self) -> None:
        super().__init__("the form's security token is missing or stale: reload the page "
                         "and send the form again")


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def safe_next(value: str | None) -> str:
    """A local console path to go back to after signing in, never another site."""
    if (not value or not value.startswith(PREFIX + "/") or value.startswith("//")
            or "\\" in value or any(ord(c) < 0x20 for c in value)):
        return PREFIX + "/"
    return value


def sign_in_redirect(request: Request) -> Response:
    back = request.url.path if request.method == "GET" else PREFIX + "/"
    if request.method == "GET" and request.url.query:
        back += "?" + request.url.query
    target = f"{PREFIX}/login?next={quote(safe_next(back), safe='')}"
    response = RedirectResponse(target, status_code=303)
    from api.console.session import clear_session

    clear_session(response)
    return response


def install(app: FastAPI, page: Callable[[Request, int, str], HTMLResponse]) -> None:
    """Wrap every installed handler: console requests get ``page(request, status,
    message)`` instead of the JSON body."""

    def wrap(handler: Any) -> Any:
        async def console_aware(request: Request, e: Exception) -> Response:
            result = handler(request, e)
            response: Response = await result if hasattr(result, "__await__") else result
            if not is_console(request):
                return response
            if response.status_code == 401:
                return sign_in_redirect(request)
            try:
                message = str(json.loads(bytes(response.body)).get("message", ""))
            except (ValueError, AttributeError):
                message = ""
            return page(request, response.status_code, message)

        return console_aware

    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = wrap(handler)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, e: SignInRequired) -> Response:
        return sign_in_redirect(request)
