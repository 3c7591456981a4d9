"""Headers of every console response: a strict Content Security Policy and the time spent.

The API's ``RequestContext`` already sends ``no-store``, ``nosniff``,
``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY`` on everything. Console
pages add a CSP that allows no script at all, styles only from the console's own
stylesheet (no inline style), forms posting only to this origin and no framing
(``frame-ancestors 'none'``), plus ``Server-Timing`` with the milliseconds the server
spent (``bench/console_pages.py`` reads it).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class ConsoleHeaders:
    def __init__(self, app: ASGIApp, prefix: str = "/console") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000
                names = {h for h, _ in HEADERS}
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                raw += [*HEADERS, (b"server-timing", f"app;dur={spent:.1f}".encode())]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, with_headers)
