"""Webhook notifications to a real HTTP server on loopback: the JSON document, its HMAC
signature, one idempotency key across retries, Retry-After, a refusal kept for the
operator."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from opskit import SENDER, T0, alert, notify_config

from alerting.notify.notifier import Notifier
from alerting.reports.outbox import State

SECRET = "a-secret-shared-with-the-siem-0123456789"


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, headers); records requests."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = rec.script.pop(0) if rec.script else (204, {})
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/phiwatch"
    yield rec
    server.shutdown()
    server.server_close()


def _notifier(tmp_path: Path, url: str, **top: Any) -> Notifier:
    channel = {"type": "webhook", "name": "siem", "url": url, "secret": SECRET,
               "allow_http": True, "timeout_seconds": 5}
    return Notifier(notify_config(channel, **top), sender=SENDER, state_dir=tmp_path)


def test_signed_json_with_a_stable_idempotency_key(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script = [(503, {}), (429, {"Retry-After": "120"})]
    n = _notifier(tmp_path, receiver.url, retry_base_seconds=30)
    a = alert(explanation='nv01234 opened "120" records\n{"forged": true}')
    n.submit([a], now=T0)
    assert [x.result for x in n.run_due(T0)] == [State.PENDING]
    assert [x.status for x in n.run_due(T0 + timedelta(seconds=30))] == [429]
    assert n.run_due(T0 + timedelta(seconds=149)) == []      # Retry-After 120 s wins
    assert [x.result for x in n.run_due(T0 + timedelta(seconds=150))] == [State.DELIVERED]
    assert len(receiver.seen) == 3
    keys = {h["idempotency-key"] for h, _ in receiver.seen}
    assert len(keys) == 1
    assert {b for _, b in receiver.seen} == {receiver.seen[0][1]}  # the same bytes each time
    headers, body = receiver.seen[-1]
    assert headers["content-type"] == "application/json"
    assert headers["x-phiwatch-notification"] == f"siem/alert/{a.id}/0"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-phiwatch-signature"], expected)
    doc = orjson.loads(body)
    assert doc["schema"] == "phiwatch.notification/1" and doc["kind"] == "alert"
    assert doc["organization"] == {"id": "bv-tu-du", "name": "Bệnh viện Từ Dũ"}
    (sent,) = doc["alerts"]
    assert sent["id"] == a.id and sent["explanation"] == a.explanation   # data, not markup
    assert sent["sample"][0]["ref"] == "/var/log/his/access.log:1"


def test_a_refusal_is_kept_for_the_operator(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script = [(403, {})]
    n = _notifier(tmp_path, receiver.url)
    n.submit([alert()], now=T0)
    (x,) = n.run_due(T0)
    assert x.result is State.FAILED and x.status == 403
    (st,) = n.status().channels
    assert (st.failed, st.pending) == (1, 0) and st.last_error.startswith("HTTP 403")


def test_an_unreachable_receiver_is_retried(tmp_path: Path) -> None:
    n = _notifier(tmp_path, "http://127.0.0.1:9/phiwatch")      # discard port: refused
    n.submit([alert()], now=T0)
    (x,) = n.run_due(T0)
    assert x.result is State.PENDING and "ConnectError" in x.error
    assert n.stats()["siem"].retried == 1
