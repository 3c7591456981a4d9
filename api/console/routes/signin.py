"""Signing in and out, the language switch and the stylesheet.

A failed sign-in says only that the name or password is wrong (never which), counts
against the name and the client address (``api.console.signins``), and is logged
without the password. While a name or address is over its limit, sign-ins are refused
with 429 and a ``Retry-After`` without the password being looked at.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import issue_token
from api.console.errors import PREFIX, CsrfRefused, SignInRequired, safe_next
from api.console.i18n import language
from api.console.session import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    Viewer,
    clear_session,
    csrf_for_sign_in,
    current,
    new_pre_session,
    same,
    set_cookie,
    signed_in,
)
from api.console.state import console
from api.console.templating import render
from api.errors import NotFound
from phiwatch.service import authenticate
from phiwatch.text import printable

log = logging.getLogger("phiwatch.console")
router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent.parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
#: (method, path) served without a session.
PUBLIC: frozenset[tuple[str, str]] = frozenset({
    ("GET", f"{PREFIX}/login"), ("POST", f"{PREFIX}/login"),
    ("GET", f"{PREFIX}/lang/{{code}}"), ("GET", f"{PREFIX}/static/{{name}}"),
})
Field = Annotated[str, Form(max_length=1024)]


def _form(request: Request, next_: str, error: str | None = None, status: int = 200,
          wait_minutes: int | None = None) -> Response:
    state = console(request)
    pre = request.cookies.get(PRE_COOKIE) or new_pre_session()
    response = render(request, "login.html", {
        "csrf": csrf_for_sign_in(state, pre), "next": safe_next(next_), "error": error,
        "wait_minutes": wait_minutes, "available": state.secret is not None,
    }, status=status)
    set_cookie(response, state, PRE_COOKIE, pre, 3600)
    if wait_minutes is not None:
        response.headers["Retry-After"] = str(wait_minutes * 60)
    return response


@router.get(f"{PREFIX}/login")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    try:
        current(request, None)
    except SignInRequired:
        return _form(request, next or "")
    return RedirectResponse(safe_next(next), status_code=303)


@router.post(f"{PREFIX}/login")
def sign_in(request: Request, username: Field = "", password: Field = "", csrf: Field = "",
            next: Field = "") -> Response:
    state = console(request)
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or not same(csrf, csrf_for_sign_in(state, pre)):
        raise CsrfRefused()
    if state.secret is None or state.algorithm is None:
        return _form(request, next, "signin.unavailable", 503)
    name = username.strip().lower()
    address = request.client.host if request.client else "unknown"
    wait = state.signins.retry_after(name, address)
    if wait is not None:
        log.warning("sign-in refused for %s from %s: too many failures", printable(name),
                    address)
        return _form(request, next, "signin.throttled", 429, math.ceil(wait / 60))
    account = authenticate(state.api.store, name, password)
    if account is None:
        state.signins.failed(name, address)
        log.warning("failed sign-in for %s from %s", printable(name, one_line=True), address)
        return _form(request, next, "signin.failed", 401)
    state.signins.succeeded(name)
    now = datetime.fromtimestamp(state.clock(), UTC)
    ttl = timedelta(minutes=state.config.session_minutes)
    token = issue_token(state.api.config.api.auth, state.secret, subject=account.username,
                        role=account.role,  # type: ignore[arg-type]  # checked when added
                        hospital=account.hospital, ttl=ttl, now=now,
                        algorithm=state.algorithm)
    log.info("%s signed in to the console from %s", account.username, address)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, state, SESSION_COOKIE, token, int(ttl.total_seconds()))
    response.delete_cookie(PRE_COOKIE, path=PREFIX)
    return response


@router.post(f"{PREFIX}/logout")
def sign_out(request: Request, viewer: Annotated[Viewer, Depends(signed_in(
        "hospital_it", "inspector", "department", "admin"))]) -> Response:
    principal = viewer.caller.principal
    if principal.token_id is not None:
        console(request).signins.revoke(principal.token_id, principal.expires.timestamp())
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    clear_session(response)
    return response


@router.get(f"{PREFIX}/lang/{{code}}")
def switch_language(request: Request, code: str, next: str | None = None) -> Response:
    state = console(request)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, state, LANG_COOKIE, language(code, state.config.language),
               365 * 86_400)
    return response


@router.get(f"{PREFIX}/static/{{name}}")
def static(name: str) -> Response:
    path = STATIC / name
    if name not in {p.name for p in STATIC.iterdir()} or path.suffix not in _TYPES:
        raise NotFound("no such file")
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix])
