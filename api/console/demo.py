"""The console at the end of ``phiwatch demo``: served over the demo's store, with a
ready account.

``serve_demo(config, store_path, host, port)`` adds (or resets) the account ``demo-it``
— hospital IT of the hospital the demo's incidents belong to, so it can triage — with a
fresh random password, starts the API and console on a thread and returns
``DemoConsole(url, username, password, server)``. The session secret is drawn for this
run when the environment has none (``PHIWATCH_JWT_SECRET``), so the demo needs no
setup; ``server.stop()`` ends it, ``wait_for_interrupt(server)`` serves until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import NamedTuple

from api.app import create_app
from api.auth import MIN_SECRET_BYTES
from api.server import ApiServer
from phiwatch.config import Config
from phiwatch.service import (
    AccountNotFound,
    IncidentQuery,
    add_account,
    open_api_store,
    set_disabled,
    set_password,
)

DEMO_USER = "demo-it"


class DemoConsole(NamedTuple):
    url: str
    username: str
    password: str
    server: ApiServer


def _demo_hospital(config: Config) -> str:
    """The hospital of the newest incident in the store, else the configured one."""
    store = open_api_store(config)
    try:
        found = store.query_incidents(IncidentQuery(limit=1))
    finally:
        store.close()
    org = found[0].organization_id if found else None
    return org or config.organization.id


def serve_demo(config: Config, store_path: Path | None = None, host: str = "127.0.0.1",
               port: int = 8080) -> DemoConsole:
    """Serve the console over ``store_path`` (default: the configuration's SQLite file)
    on ``host:port`` (0: any free port) with a ready ``demo-it`` account."""
    if store_path is not None:
        config = config.model_copy(update={"store": config.store.model_copy(
            update={"sqlite_path": store_path})})
    auth = config.api.auth
    if "HS256" not in auth.algorithms:
        auth = auth.model_copy(update={"algorithms": ["HS256", *auth.algorithms]})
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    config = config.model_copy(update={"api": config.api.model_copy(
        update={"auth": auth, "listen": listen})})
    environ = dict(os.environ)
    if len(environ.get(auth.secret_env, "").encode()) < MIN_SECRET_BYTES:
        environ[auth.secret_env] = secrets.token_urlsafe(48)
    password = secrets.token_urlsafe(12)
    hospital = _demo_hospital(config)
    store = open_api_store(config)
    try:
        try:
            set_password(store, DEMO_USER, password)
            set_disabled(store, DEMO_USER, False)
        except AccountNotFound:
            add_account(store, DEMO_USER, "hospital_it", hospital, password)
    finally:
        store.close()
    server = ApiServer(config, app=create_app(config, environ=environ)).start()
    return DemoConsole(f"{server.url}/console/", DEMO_USER, password, server)


def wait_for_interrupt(server: ApiServer) -> None:
    """Serve until Ctrl-C (SIGINT), then stop the server."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
