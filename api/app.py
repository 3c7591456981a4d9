"""The FastAPI application: configuration in, a checked application out.

``create_app(config)`` reads the secrets (HS* secret from the environment, the JWKS, the
pseudonym and cursor keys), opens the store unless one is given, mounts the routes and
refuses to build when a route declares no roles. A missing or short secret, an unreadable
key set or a bad key file is a ``ConfigKeyError`` naming the key: the API never starts
half-configured.

OpenAPI is at ``/openapi.json`` (Swagger UI at ``/docs``), served without a token: it
describes the routes, not the data. The web console is mounted under ``/console``
(``api.console.mount``) unless ``api.console.enabled`` is false.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api import errors
from api.auth import TokenVerifier, load_secret
from api.config import ApiConfig
from api.console.mount import mount_console
from api.deps import ApiState
from api.jwks import JwksError, JwksSource
from api.keys import MIN_KEY_BYTES, read_or_create_key
from api.middleware import RequestContext
from api.paging import CursorCodec
from api.pseudonyms import Disclosure
from api.roles import check_routes
from api.routes import ROUTERS
from phiwatch.config import Config
from phiwatch.ingest import Ingest
from phiwatch.service import ServiceStore, open_api_store, reports, service_store
from sensors.errors import ConfigKeyError

DESCRIPTION = """\
phiwatch's HTTP API: alerts and incidents of the hospitals it watches, for hospital IT
(triage, own hospital, real patient identifiers), the Department of Health's Inspectorate
(every hospital, read, pseudonymized patients, notes and evidence requests) and the
Department (incident summaries, statistics, the reports its inbox received). Hospital IT
drafts, approves and sends the reports of its confirmed leaks. Every call but `/health`,
`/ready` and the inbox's `POST /inbox/reports` (whose signed report is its own proof)
needs a bearer token. Every response that shows patient identifiers is written to a hash-chained
access audit log; say why you look with the `X-Phiwatch-Reason` header.
"""


def _pseudonym_key(config: Config, environ: Mapping[str, str]) -> bytes:
    api = config.api
    if api.pseudonym_key_env is not None:
        value = environ.get(api.pseudonym_key_env, "").encode("utf-8")
        if len(value) < MIN_KEY_BYTES:
            raise ConfigKeyError("api.pseudonym_key_env",
                                 f"{api.pseudonym_key_env} must hold at least "
                                 f"{MIN_KEY_BYTES} bytes")
        return value
    path = api.pseudonym_key_file or config.api_dir / "pseudonym.key"
    return _key_file(path, "api.pseudonym_key_file")


def _key_file(path: Path, key: str) -> bytes:
    try:
        return read_or_create_key(path)
    except (OSError, ValueError) as e:
        raise ConfigKeyError(key, f"{path}: {e}") from e


def _jwks(api: ApiConfig) -> JwksSource | None:
    auth = api.auth
    if auth.jwks_file is None and auth.jwks_url is None:
        return None
    source = JwksSource(file=auth.jwks_file, url=auth.jwks_url,
                        refresh_seconds=auth.jwks_cache_seconds)
    try:
        source.load()
    except JwksError as e:
        raise ConfigKeyError("api.auth.jwks_file" if auth.jwks_file else "api.auth.jwks_url",
                             str(e)) from e
    return source


def create_app(
    config: Config,
    *,
    store: ServiceStore | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
    on_ingest: Callable[[], None] | None = None,
) -> FastAPI:
    """The application over ``store`` (opened from ``config`` and closed at shutdown when
    not given); ``on_ingest`` is called after each remote sensor's batch is journaled."""
    env = os.environ if environ is None else environ
    try:
        secret = load_secret(config.api.auth, env)
    except ValueError as e:
        raise ConfigKeyError("api.auth.secret_env", str(e)) from e
    verifier = TokenVerifier(config.api.auth, secret, _jwks(config.api), clock)
    disclosure = Disclosure(_pseudonym_key(config, env), config.api)
    cursors = CursorCodec(_key_file(config.api_dir / "cursor.key", "state_dir"))
    owns = store is None
    opened = open_api_store(config) if store is None else service_store(store)
    journal = Ingest(config) if config.ingest.enabled else None
    report_parts = reports.open_report_parts(config)
    state = ApiState(config, opened, verifier, disclosure, cursors, owns, report_parts,
                     journal, on_ingest)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if state.owns_store:
                state.store.close()
            if journal is not None:
                journal.close()
            if state.reports is not None:
                state.reports.close()
            if console_state is not None:
                console_state.signins.close()

    app = FastAPI(title="phiwatch API", version="1", description=DESCRIPTION,
                  lifespan=lifespan, redoc_url=None)
    app.state.phiwatch = state
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    console_state = mount_console(app, state, secret, clock)
    app.add_middleware(RequestContext,
                       body_limits={"/ingest": config.ingest.max_batch_bytes})
    check_routes(app, ROUTERS)
    return app
