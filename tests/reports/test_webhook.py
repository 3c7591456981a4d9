"""The webhook channel and the outbox against a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alerting.reports import sample
from alerting.reports.outbox import Backoff, Outbox, Parcel, State
from alerting.reports.webhook import (
    SIGNATURE_HEADER,
    WebhookChannel,
    WebhookSettings,
    retry_after,
    signature,
)

SECRET = b"shared-secret-with-the-department"
T0 = sample.local(2026, 12, 5, 10)
PARCEL = Parcel("bv-mau:2026:1/BC-BVPSM", "Báo cáo", "nội dung", b"aaa.bbb.ccc")


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, headers, body); records requests."""

    script: list[tuple[int, dict[str, str], bytes]]
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver([])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.seen.append(({k: v for k, v in self.headers.items()}, body))
            status, headers, answer = rec.script.pop(0) if rec.script else (200, {}, b"ok")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/reports"
    yield rec
    server.shutdown()
    server.server_close()


def _outbox(path: Path) -> Outbox:
    channel = WebhookChannel(WebhookSettings(SECRET, allow_http=True, timeout_s=5))
    return Outbox(path, {"webhook": channel}, backoff=Backoff(base=timedelta(seconds=30)))


def test_fails_twice_then_accepts_with_one_idempotency_key(receiver: Receiver,
                                                          tmp_path: Path) -> None:
    receiver.script = [(503, {}, b"busy"), (429, {"Retry-After": "600"}, b"slow down")]
    box = _outbox(tmp_path / "o.db")
    (did,) = box.enqueue(PARCEL, [("webhook", receiver.url)], now=T0)
    assert [a.result for a in box.run_due(now=T0)] == [State.PENDING]
    assert box.run_due(now=T0 + timedelta(seconds=29)) == []             # backoff 30 s
    assert [a.status for a in box.run_due(now=T0 + timedelta(seconds=30))] == [429]
    d = box.deliveries()[0]
    assert d.next_attempt == T0 + timedelta(seconds=630)                  # Retry-After wins
    assert box.run_due(now=T0 + timedelta(seconds=629)) == []
    assert [a.result for a in box.run_due(now=T0 + timedelta(seconds=630))] == \
        [State.DELIVERED]
    assert box.deliveries()[0].state is State.DELIVERED
    keys = {h["Idempotency-Key"] for h, _ in receiver.seen}
    assert len(receiver.seen) == 3 and len(keys) == 1
    for headers, body in receiver.seen:
        assert body == PARCEL.jws
        assert headers["Content-Type"] == "application/jose"
        assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    log = box.attempts(did)
    assert [(a.n, a.status) for a in log] == [(1, 503), (2, 429), (3, 200)]
    assert "HTTP 503" in log[0].error and "busy" in log[0].error


def test_a_client_error_is_final_with_the_servers_reason(receiver: Receiver,
                                                         tmp_path: Path) -> None:
    receiver.script = [(422, {}, b"unknown hospital bv-mau")]
    box = _outbox(tmp_path / "o.db")
    box.enqueue(PARCEL, [("webhook", receiver.url)], now=T0)
    (a,) = box.run_due(now=T0)
    assert a.result is State.FAILED and a.status == 422
    d = box.deliveries()[0]
    assert d.state is State.FAILED and "unknown hospital bv-mau" in d.last_error
    assert box.run_due(now=T0 + timedelta(days=1)) == []                  # never retried
    box.requeue(d.id, now=T0 + timedelta(days=1))                         # operator fixed it
    assert box.run_due(now=T0 + timedelta(days=1))[0].result is State.DELIVERED


def test_network_errors_retry_and_a_restart_continues(receiver: Receiver,
                                                      tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/reports"  # discard port: connection refused
    box = _outbox(tmp_path / "o.db")
    box.enqueue(PARCEL, [("webhook", dead), ("webhook", receiver.url)], now=T0)
    results = {a.delivery_id: a.result for a in box.run_due(now=T0)}
    assert sorted(results.values()) == [State.DELIVERED, State.PENDING]
    del box
    again = _outbox(tmp_path / "o.db")                                    # a restart
    pending = [d for d in again.deliveries() if d.state is State.PENDING]
    assert [d.target for d in pending] == [dead] and "ConnectError" in pending[0].last_error
    assert again.next_due() == T0 + timedelta(seconds=30)
    assert again.run_due(now=T0 + timedelta(seconds=30))[0].result is State.PENDING
    assert again.deliveries()[0].attempts == 2


def test_enqueue_is_idempotent_and_refuses_unknown_channels(tmp_path: Path) -> None:
    box = _outbox(tmp_path / "o.db")
    first = box.enqueue(PARCEL, [("webhook", "https://a.example/r")], now=T0)
    assert box.enqueue(PARCEL, [("webhook", "https://a.example/r")], now=T0) == first
    from alerting.reports.errors import DeliveryError
    with pytest.raises(DeliveryError, match="not configured"):
        box.enqueue(PARCEL, [("fax", "0283999")], now=T0)


def test_https_is_required_unless_allowed() -> None:
    channel = WebhookChannel(WebhookSettings(SECRET))
    out = channel.send(PARCEL, "http://department.example/r", "k")
    assert out.result is State.FAILED and "https URL" in out.error


def test_retry_after_forms() -> None:
    now = sample.local(2026, 12, 5, 10)
    assert retry_after("120") == timedelta(seconds=120)
    assert retry_after("Sat, 05 Dec 2026 03:02:00 GMT", now) == timedelta(minutes=2)
    assert retry_after("soon") is None and retry_after(None) is None
