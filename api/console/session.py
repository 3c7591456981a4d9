"""Sessions: the API's own JWT in a cookie, checked on every request, with CSRF tokens.

Signing in issues a token of the embedded issuer (``api.auth.issue_token``: the same
issuer, audience and HS* algorithm as ``phiwatch token issue``) and sets it as the
``phiwatch_session`` cookie: ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
other site's page sends it), ``Secure`` when served over TLS, path ``/console``, living
as long as the token.

Each request verifies the token with the API's ``TokenVerifier`` (same algorithm list,
issuer, audience, expiry on the injected clock), then checks that it was not signed out
and that its account still exists, is enabled, has the token's role and hospital and has
not changed its password since (``Account.sessions_after``). Any failure sends the
visitor to the sign-in page.

CSRF: every form carries ``csrf``, an HMAC of the session's token id (a synchronizer
token bound to the session: a token from another session, or none, is refused with 403).
The sign-in form is bound the same way to a random pre-session cookie.
``signed_in(*roles)`` checks it for every method but GET and HEAD, so no form of the
console can be posted without it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from jose import jwt

from api.auth import TokenError
from api.console.config import Language
from api.console.errors import CsrfRefused, SignInRequired
from api.console.i18n import language
from api.console.state import ConsoleState, console
from api.deps import Caller
from api.errors import Forbidden
from api.roles import ROLES_ATTRIBUTE, Role
from phiwatch.service import Account, Scope, get_account

SESSION_COOKIE = "phiwatch_session"
PRE_COOKIE = "phiwatch_pre"
LANG_COOKIE = "phiwatch_lang"
COOKIE_PATH = "/console"
MAX_COOKIE_CHARS = 8192


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in visitor: the API's ``Caller`` plus what pages need."""

    caller: Caller
    account: Account
    csrf: str
    lang: Language

    @property
    def subject(self) -> str:
        return self.caller.subject

    @property
    def role(self) -> Role:
        return self.caller.role

    @property
    def hospital(self) -> str | None:
        return self.caller.principal.hospital


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def csrf_for_session(state: ConsoleState, token_id: str) -> str:
    return _mac(state.csrf_key, "session", token_id)


def csrf_for_sign_in(state: ConsoleState, pre_session: str) -> str:
    return _mac(state.csrf_key, "sign-in", pre_session)


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def lang_of(request: Request) -> Language:
    return language(request.cookies.get(LANG_COOKIE), console(request).config.language)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(response: Response, state: ConsoleState, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=state.secure_cookie)


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True,
                           samesite="strict")


async def posted_csrf(request: Request) -> str | None:
    """The ``csrf`` field of a posted form (None for GET and HEAD; "" when absent)."""
    if request.method in ("GET", "HEAD"):
        return None
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded",
                                    "multipart/form-data")):
        return ""
    value = (await request.form()).get("csrf")
    return value if isinstance(value, str) else ""


def current(request: Request, csrf: str | None) -> Viewer:
    """The visitor's checked session (``SignInRequired`` without one), and the CSRF
    token checked when ``csrf`` is not None."""
    state = console(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > MAX_COOKIE_CHARS:
        raise SignInRequired("no session")
    try:
        principal = state.api.verifier.verify(token)
    except TokenError as e:
        raise SignInRequired(str(e)) from None
    jti = principal.token_id
    if jti is None or state.signins.revoked(jti) or principal.role is None:
        raise SignInRequired("session ended")
    account = get_account(state.api.store, principal.subject)
    issued = jwt.get_unverified_claims(token).get("iat")
    if (account is None or account.disabled or account.role != principal.role
            or account.hospital != principal.hospital or not isinstance(issued, int | float)
            or issued < int(account.sessions_after.timestamp())):
        raise SignInRequired("the account changed")
    expected = csrf_for_session(state, jti)
    if csrf is not None and not same(csrf, expected):
        raise CsrfRefused()
    scope = Scope(principal.hospital if principal.role == "hospital_it" else None)
    caller = Caller(principal, principal.role, scope, str(request.state.request_id), None)
    return Viewer(caller, account, expected, lang_of(request))


def signed_in(*roles: Role) -> Callable[..., Viewer]:
    """The dependency that admits a signed-in visitor of ``roles`` (403 for another
    role) and checks the CSRF token of anything posted."""
    allowed = frozenset(roles)

    def viewer(request: Request,
               csrf: Annotated[str | None, Depends(posted_csrf)]) -> Viewer:
        v = current(request, csrf)
        if v.role not in allowed:
            raise Forbidden(f"the {v.role} role may not use this page")
        return v

    setattr(viewer, ROLES_ATTRIBUTE, allowed)
    return viewer
