"""What every route receives: the application's state and the checked caller.

``allow(*roles)`` is the one way a route declares who may call it. Its dependency reads
the bearer token (401 without one, or with one that does not verify), then the role (403
when the token's role is not among those allowed), and hands the route a ``Caller``: the
principal, the ``Scope`` of hospitals it may read (its own for hospital IT, all for the
others), the request id and the reason the client gave for the access.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, TokenError, TokenVerifier
from api.errors import Forbidden, Invalid, Unauthorized
from api.paging import CursorCodec
from api.pseudonyms import Disclosure, ResponseView
from api.roles import ROLES_ATTRIBUTE, Role
from phiwatch.config import Config
from phiwatch.ingest import Ingest
from phiwatch.service import Scope, ServiceStore, reports

REASON_HEADER = "X-Phiwatch-Reason"
MAX_REASON_CHARS = 500
_bearer = HTTPBearer(auto_error=False, description="A JWT from `phiwatch token issue` or "
                     "the identity provider configured in `api.auth`.")


@dataclass
class ApiState:
    """Everything the routes share, built once by ``api.app.create_app``."""

    config: Config
    store: ServiceStore
    verifier: TokenVerifier
    disclosure: Disclosure
    cursors: CursorCodec
    #: Whether the application opened the store (and so closes it).
    owns_store: bool
    #: Reports and the inbox (``reports:`` of the configuration); None without it.
    reports: reports.ReportParts | None = None
    #: The journal remote sensors' batches go to (``ingest.enabled``), else ``None``.
    ingest: Ingest | None = None
    #: Called after a batch is journaled (``phiwatch run`` wakes its loop).
    on_ingest: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    role: Role
    scope: Scope
    request_id: str
    reason: str | None

    @property
    def subject(self) -> str:
        return self.principal.subject


def state(request: Request) -> ApiState:
    s: ApiState = request.app.state.phiwatch
    return s


def reason(request: Request) -> str | None:
    """The ``X-Phiwatch-Reason`` header: UTF-8 as sent (or percent-encoded), one line."""
    raw = request.headers.get(REASON_HEADER)
    if raw is None:
        return None
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        text = raw
    text = unquote(text)
    text = " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())
    return text[:MAX_REASON_CHARS] or None


def allow(*roles: Role) -> Callable[..., Caller]:
    """The dependency that admits only ``roles``; the application checks every route has
    one (``api.roles.check_routes``)."""
    allowed = frozenset(roles)

    def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if credentials is None:
            raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        try:
            principal = state(request).verifier.verify(credentials.credentials)
        except TokenError as e:
            raise Unauthorized(str(e)) from None
        if principal.role is None:
            raise Forbidden("the token carries no phiwatch role")
        if principal.role not in allowed:
            raise Forbidden(f"the {principal.role} role may not use this route")
        _known_parameters(request)
        scope = Scope(principal.hospital if principal.role == "hospital_it" else None)
        return Caller(principal, principal.role, scope, str(request.state.request_id),
                      reason(request))

    setattr(caller, ROLES_ATTRIBUTE, allowed)
    return caller


def _known_parameters(request: Request) -> None:
    """Refuse a query parameter the route does not take: a misspelt filter
    (``hopsital=``) must not silently widen a search to every hospital."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = _QUERY_NAMES.get(id(dependant))
    if names is None:
        names = frozenset(_query_params(dependant))
        _QUERY_NAMES[id(dependant)] = names
    for key in request.query_params:
        if key not in names:
            field = f"query.{key[:40]}"
            raise Invalid(f"{field}: this route takes no such parameter", field=field)


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_params(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def view(request: Request, caller: Caller) -> ResponseView:
    return state(request).disclosure.view(caller.role)


def hospital_filter(caller: Caller, hospital: str | None) -> str | None:
    """The hospital a query is limited to: the caller's own for hospital IT (asking for
    another is refused), else the one asked for, if any."""
    own = caller.scope.organization_id
    if own is None:
        return hospital
    if hospital is not None and hospital != own:
        raise Forbidden("hospital IT reads its own hospital only", field="query.hospital")
    return own


def aware(value: datetime | None, zone: str, field: str) -> datetime | None:
    """A request time as UTC; one without an offset is read in the configured zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return value.astimezone(ZoneInfo("UTC"))
    except (OverflowError, ValueError):
        raise Invalid(f"{field}: out of range", field=field) from None


def check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and not start < end:
        raise Invalid("query.end: must be after query.start", field="query.end")


def check_limit(request: Request, limit: int | None) -> int:
    api = state(request).config.api
    if limit is None:
        return api.page_size
    if limit > api.max_page_size:
        raise Invalid(f"query.limit: at most {api.max_page_size}", field="query.limit")
    return limit


_TEXT = re.compile(r"^[^\x00]*$")


def filter_text(value: str | None, field: str) -> str | None:
    """A filter value as given (literal; only NUL, which no stored value holds, is refused)."""
    if value is None:
        return None
    if not _TEXT.match(value):
        raise Invalid(f"{field}: must not contain NUL characters", field=field)
    return value


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """The filters alert and incident searches share, checked and normalised."""

    organization_id: str | None
    start: datetime | None
    end: datetime | None
    rule: str | None
    user: str | None
    words: str | None
    size: int


def search_filters(request: Request, caller: Caller, *, hospital: str | None,
                   start: datetime | None, end: datetime | None, rule: str | None,
                   user: str | None, words: str | None, limit: int | None) -> SearchFilters:
    """Hospital scope, times in UTC (those without an offset in the configured zone), a
    time range that is one, literal texts and the page size."""
    zone = state(request).config.timezone
    org = hospital_filter(caller, filter_text(hospital, "query.hospital"))
    start_, end_ = aware(start, zone, "query.start"), aware(end, zone, "query.end")
    check_range(start_, end_)
    return SearchFilters(org, start_, end_, filter_text(rule, "query.rule"),
                         filter_text(user, "query.user"),
                         filter_text(words, "query.words") or None, check_limit(request, limit))
