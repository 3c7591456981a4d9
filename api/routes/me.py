"""``/me``: who the token says the caller is (any role, a remote sensor too; for clients to
check a token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Caller, allow
from api.models import MeOut
from api.roles import ROLES
from api.routes.common import ERRORS

router = APIRouter(tags=["session"])


@router.get("/me", response_model=MeOut, responses=ERRORS, summary="The caller's identity")
def me(caller: Annotated[Caller, Depends(allow(*ROLES))]) -> MeOut:
    p = caller.principal
    return MeOut(subject=p.subject, role=caller.role, hospital=p.hospital, expires=p.expires)
