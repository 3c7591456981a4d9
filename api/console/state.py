"""What the console's routes share, built once by ``api.console.mount.mount_console``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from jinja2 import Environment

from api.console.config import ConsoleConfig
from api.console.signins import SignIns
from api.deps import ApiState


@dataclass
class ConsoleState:
    api: ApiState
    config: ConsoleConfig
    #: The embedded issuer's HS* secret; None: the API takes no HS* token, so nobody can
    #: sign in here.
    secret: bytes | None
    #: The HS* algorithm sessions are signed with.
    algorithm: str | None
    #: Key of the CSRF tokens (``<api_dir>/console.key``).
    csrf_key: bytes
    clock: Callable[[], float]
    #: Failed sign-ins and signed-out sessions, on disk (``signins``).
    signins: SignIns
    templates: Environment
    secure_cookie: bool


def console(request: Request) -> ConsoleState:
    s: ConsoleState = request.app.state.console
    return s
