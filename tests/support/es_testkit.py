"""Shared by the Elasticsearch store tests: alert factory, configs, a real recording proxy.

The proxy is a small threaded HTTP server that forwards to osmem-server. It records what
reaches it (method, path, headers) and can answer in the server's place (a 503, a bulk
whose items say 429), so the tests see real HTTP on both sides and no mocked client.
"""

from __future__ import annotations

import http.client
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from alerting.elasticsearch.config import ElasticsearchConfig
from rules.alert import Alert, EventRef, alert_id

T0 = datetime(2026, 11, 22, 1, 15, 2, 123456, tzinfo=UTC)


def make_alert(
    n: int,
    *,
    revision: int = 0,
    rule_id: str = "phiwatch-his-bulk-patient-lookup",
    user: str | None = None,
    organization_id: str | None = "tu-du",
    severity: str = "high",
    window_start: datetime | None = None,
    minutes: float = 60,
    explanation: str | None = None,
    context: dict[str, Any] | None = None,
    group: dict[str, str] | None = None,
) -> Alert:
    """Alert number ``n``; the same ``n`` and rule give the same id whatever the revision."""
    start = window_start or T0 + timedelta(minutes=7 * n)
    user = user if user is not None else f"nv{n:05d}"
    group = group if group is not None else {"user.id": user}
    ref = EventRef(f"/var/log/his/access.log:{n + 1}", f"ev{n}", start)
    last = EventRef(f"/var/log/his/access.log:{n + 900}", f"ev{n}-last",
                    start + timedelta(minutes=minutes))
    return Alert(
        id=alert_id(rule_id, group, start),
        rule_id=rule_id,
        rule_title="Bulk patient lookup by one user",
        severity=severity,
        group=group,
        window_start=start,
        window_end=start + timedelta(minutes=minutes),
        event_count=100 + n,
        value_count=120 + n + revision,
        explanation=explanation or (f"{user} viewed {120 + n + revision} patients in 1 h; "
                                    f"own 30-day p99 is 25; nurses in san-a p99 is 41"),
        first_event=ref,
        last_event=last,
        sample=[ref, last],
        organization_id=organization_id,
        tags=["attack.collection"],
        context=context if context is not None else {
            "user.name": "Nguyễn Thị Lan", "user.roles": ["nurse"], "source.ip": "10.20.3.45",
            "host.name": "WS-SAN-A-03",
        },
        metrics={"threshold": 120.0, "own.p99": 25.0},
        revision=revision,
        final=revision > 0,
    )


def start_osmem(**kwargs: Any) -> Any:
    """An osmem-server process, or a skip that says why there is none."""
    osmem = pytest.importorskip("osmem_server",
                                reason="osmem-server is not installed (pip install -e '.[dev]')")
    try:
        return osmem.OsmemServer.start(japanese=False, **kwargs)
    except (osmem.OsmemError, OSError) as e:
        pytest.skip(f"osmem-server cannot start on this machine: {e}")


def es_config(url: str, folder: Path, **overrides: Any) -> ElasticsearchConfig:
    """A config for tests: osmem dialect, immediate refresh, short backoffs."""
    values: dict[str, Any] = {
        "hosts": [url],
        "compat": "opensearch",
        "refresh": "true",
        "spool_dir": folder / "spool",
        "max_retries": 2,
        "initial_backoff_seconds": 0.01,
        "max_backoff_seconds": 0.1,
        "request_timeout": 5,
        "drain_interval_seconds": 0.05,
    }
    values.update(overrides)
    return ElasticsearchConfig(**values)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


#: Answers in the server's place: (status, headers, body), or None to forward.
Responder = Callable[[Seen], tuple[int, dict[str, str], bytes] | None]


@dataclass
class Proxy:
    url: str
    seen: list[Seen] = field(default_factory=list)
    responder: Responder | None = None
    strip_response_headers: tuple[str, ...] = ()


@contextmanager
def recording_proxy(upstream: str, tls: ssl.SSLContext | None = None) -> Iterator[Proxy]:
    """A real HTTP(S) server on a free port that records requests and forwards them."""
    target = urlsplit(upstream)
    state = Proxy(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                        body)
            state.seen.append(seen)
            answer = state.responder(seen) if state.responder else None
            if answer is None:
                conn = http.client.HTTPConnection(target.hostname or "127.0.0.1",
                                                  target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                answer = (resp.status, dict(resp.getheaders()), resp.read())
                conn.close()
            status, headers, payload = answer
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() in ("content-length", "connection", "transfer-encoding"):
                    continue
                if k.lower() in state.strip_response_headers:
                    continue
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def make_test_pki(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=phiwatch test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr",
        "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "ext.cnf")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "node.pem", folder / "node.key")
    return folder / "ca.pem", context
