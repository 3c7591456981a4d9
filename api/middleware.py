"""The outermost layer of every request: its id, size limits, safe headers, a log line.

- ``X-Request-ID``: the client's, when it is a short token, else a new one; sent back on
  every response, written in the access audit and in error bodies.
- A body larger than ``MAX_BODY_BYTES`` is refused with 413 (``body_limits`` raises it
  for a path: 16 MiB for the inbox, whose reports carry their documents, and
  ``ingest.max_batch_bytes`` for ``/ingest``): by ``Content-Length`` before the
  application reads it, and while it is read when it comes in chunks without one
  (``BodyTooLarge``).
- Every response says ``Cache-Control: no-store`` (patient data must not linger in a
  proxy or a browser cache), ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``.
- The log line has the method, the path *without the query string* (filters may hold
  words a user typed), the status and the request id; uvicorn's own access log is off.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20
#: Larger bodies for routes that take documents: a signed report with its DOCX and PDF.
#: Paths that take larger bodies: the inbox's reports carry their DOCX and PDF.
MAX_BODY_BYTES_BY_PATH = {"/inbox/reports": 16 << 20}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
log = logging.getLogger("phiwatch.api.access")


class BodyTooLarge(Exception):
    """A chunked body went past its limit while being read (answered 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


class RequestContext:
    def __init__(self, app: ASGIApp, body_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.body_limits = {**MAX_BODY_BYTES_BY_PATH, **(body_limits or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                raw = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() not in {h for h, _ in SECURITY_HEADERS}]
                raw += [*SECURITY_HEADERS, (b"x-request-id", request_id.encode("ascii"))]
                message = {**message, "headers": raw}
            await send(message)

        limit = self.body_limits.get(scope.get("path", ""), MAX_BODY_BYTES)
        length = headers.get(b"content-length", b"")
        if length and (not length.isdigit() or int(length) > limit):
            await _reject(send_with_headers, request_id, 413, "payload_too_large",
                          f"the request body is larger than {limit} bytes")
        else:
            await self.app(scope, _bounded(receive, limit), send_with_headers)
        log.info("%s %s %s %.1fms %s", scope.get("method"), scope.get("path"), status,
                  (time.perf_counter() - started) * 1000, request_id)


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ``BodyTooLarge`` once more than ``limit`` bytes came."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return bounded


async def _reject(send: Any, request_id: str, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": code, "message": message, "request_id": request_id})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
