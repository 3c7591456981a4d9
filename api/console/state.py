"""What the console's routes share, built once by ``api.console.mount.mount_console``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from jinja2 import Environment

from api.console.config import ConsoleConfig
from api.console.throttle import SignInThrottle
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
    throttle: SignInThrottle
    templates: Environment
    secure_cookie: bool
    #: Signed-out sessions (token id → expiry), refused until they expire anyway.
    _revoked: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self, token_id: str, expires: float) -> None:
        now = self.clock()
        with self._lock:
            for jti in [j for j, exp in self._revoked.items() if exp < now]:
                del self._revoked[jti]
            self._revoked[token_id] = expires

    def revoked(self, token_id: str) -> bool:
        with self._lock:
            return token_id in self._revoked


def console(request: Request) -> ConsoleState:
    s: ConsoleState = request.app.state.console
    return s
