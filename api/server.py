"""Serving the API with uvicorn: alone (``phiwatch api``) or beside the pipeline.

``ApiServer(config).serve()`` runs in the calling (main) thread until SIGINT/SIGTERM.
``serve_in_thread(config)`` starts it on a thread and returns once it listens; ``stop()``
asks uvicorn to finish the requests in flight and joins the thread. This is how
``phiwatch run`` serves the API in the same process::

    from api.server import serve_in_thread

    api = serve_in_thread(config) if config.api.serve_with_run else None
    try:
        ...  # the run loop
    finally:
        if api is not None:
            api.stop()

The API opens its own store connection (never the pipeline's), so a slow query does not
hold the pipeline up; with SQLite both share the file in WAL mode.

The socket is bound here, before uvicorn starts, so ``port`` is known at once (port 0
picks a free one: tests) and a taken port fails ``start()`` with the OS's reason.
uvicorn runs with its h11 parser (pure Python, a bounded request head of
``api.max_request_head_bytes``), its access log off (``api.middleware`` logs without
query strings) and no ``Server`` header.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.config import parse_listen
from phiwatch.config import Config
from phiwatch.service import ServiceStore

log = logging.getLogger("phiwatch.api")


class ApiServer:
    """One uvicorn server for the API on ``listen`` (default ``api.listen``)."""

    def __init__(
        self,
        config: Config,
        *,
        listen: str | None = None,
        app: FastAPI | None = None,
        store: ServiceStore | None = None,
    ) -> None:
        api = config.api
        self.host, port = parse_listen(listen or api.listen)
        self.app = app or create_app(config, store=store)
        self.tls = api.tls_cert_file is not None
        self._uvicorn = uvicorn.Config(
            self.app, host=self.host, port=port, http="h11",
            h11_max_incomplete_event_size=api.max_request_head_bytes,
            ssl_certfile=str(api.tls_cert_file) if api.tls_cert_file else None,
            ssl_keyfile=str(api.tls_key_file) if api.tls_key_file else None,
            access_log=False, log_config=None, server_header=False, proxy_headers=False,
            lifespan="on", timeout_graceful_shutdown=5, timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(self._uvicorn)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        self._socket = sock
        return sock

    def serve(self) -> None:
        """Serve in this (main) thread until SIGINT or SIGTERM, then return normally.

        uvicorn shuts down gracefully on either signal and then raises it again for the
        handler that was there before; the handlers installed here take it quietly, so
        ``phiwatch api`` exits 0 after a clean stop.
        """
        sock = self._bind()
        previous = {s: signal.signal(s, _stopped) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._server.run(sockets=[sock])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            sock.close()

    def start(self, timeout: float = 30.0) -> ApiServer:
        """Serve on a thread; return once the server listens (``RuntimeError`` if not)."""
        sock = self._bind()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="phiwatch-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API did not start on {self.url}")
            time.sleep(0.02)
        log.info("phiwatch API listening on %s", self.url)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the requests in flight, close the store (when the app opened it)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _stopped(signum: int, frame: object) -> None:
    """The signal uvicorn raises again after its graceful shutdown: nothing left to do."""


def serve_in_thread(config: Config, *, listen: str | None = None,
                    store: ServiceStore | None = None,
                    on_ingest: Callable[[], None] | None = None) -> ApiServer:
    """The API started on a thread of this process (``phiwatch run``); ``on_ingest``
    wakes the run loop when a remote sensor's batch is journaled."""
    app = create_app(config, store=store, on_ingest=on_ingest)
    return ApiServer(config, listen=listen, app=app).start()
