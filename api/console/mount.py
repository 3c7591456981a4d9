"""Adding the console to the API's application (``api.app.create_app`` calls
``mount_console``).

The console shares the API's state: its store, token verifier, pseudonym key, cursor
key, clock and error handlers. It adds its routes under ``/console`` (left out of the
OpenAPI schema: they are pages, not API), refuses to mount a route that declares no
roles and is not public (as ``api.roles.check_routes`` does for the API), wraps the
error handlers so console requests get pages, and adds its security headers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi import FastAPI

from api.config import HMAC_ALGORITHMS
from api.console.errors import install as install_errors
from api.console.headers import ConsoleHeaders
from api.console.routes import PUBLIC, ROUTERS
from api.console.signins import SignIns
from api.console.state import ConsoleState
from api.console.templating import environment, error_page
from api.deps import ApiState
from api.keys import read_or_create_key
from api.roles import declared_roles
from sensors.errors import ConfigKeyError


def check_console_routes() -> None:
    """Refuse a console route that is neither public nor declares its roles."""
    table = declared_roles(ROUTERS)
    undeclared = sorted(f"{m} {p}" for (m, p), roles in table.items()
                        if not roles and (m, p) not in PUBLIC)
    if undeclared:
        raise RuntimeError(f"console routes without declared roles: {', '.join(undeclared)}")


def mount_console(app: FastAPI, api: ApiState, secret: bytes | None,
                  clock: Callable[[], float]) -> ConsoleState | None:
    """Mount the console unless ``api.console.enabled`` is false; its state."""
    config = api.config.api.console
    if not config.enabled:
        return None
    check_console_routes()
    path = api.config.api_dir / "console.key"
    try:
        key = read_or_create_key(path)
    except (OSError, ValueError) as e:
        raise ConfigKeyError("state_dir", f"{path}: {e}") from e
    signins_path = api.config.api_dir / "console-signins.db"
    try:
        signins = SignIns(signins_path, per_account=config.signin_failures_per_account,
                          per_address=config.signin_failures_per_address,
                          window=config.signin_window_seconds, clock=clock)
    except (OSError, sqlite3.Error) as e:
        raise ConfigKeyError("state_dir", f"{signins_path}: {e}") from e
    auth = api.config.api.auth
    algorithm = next((a for a in auth.algorithms if a in HMAC_ALGORITHMS), None)
    secure = (config.secure_cookie if config.secure_cookie is not None
              else api.config.api.tls_cert_file is not None)
    state = ConsoleState(
        api=api, config=config, secret=secret if algorithm else None, algorithm=algorithm,
        csrf_key=key, clock=clock,
        signins=signins,
        templates=environment(), secure_cookie=secure)
    app.state.console = state
    for router in ROUTERS:
        app.include_router(router)
    install_errors(app, error_page)
    app.add_middleware(ConsoleHeaders)
    return state
