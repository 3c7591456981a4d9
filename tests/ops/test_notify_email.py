"""Email notifications through a real SMTP server (aiosmtpd) on loopback: STARTTLS and
login, the text and HTML parts, hostile alert text, a retry after a 451, a digest."""

from __future__ import annotations

import email
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from opskit import SENDER, T0, alert, free_port, notify_config

trustme = pytest.importorskip("trustme", reason="pip install trustme")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from alerting.notify.notifier import Notifier  # noqa: E402
from alerting.reports.outbox import State  # noqa: E402

HOSTILE_TITLE = "Bulk\r\nBcc: victim@evil.example\r\n\r\n<b>lookup</b>"
HOSTILE_USER = "nv<img src=x onerror=alert(1)>\x1b[2J"
HOSTILE_EXPLANATION = "opened </td><script>alert(1)</script>\nX-Injected: 1 \u202eevil"


@dataclass
class Mailbox:
    """Answers 451 to the first ``refuse`` DATA commands, then keeps the messages."""

    refuse: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        msg = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"phiwatch",
                                                                             b"mat-khau")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def relay(ca: Any, tmp_path: Path) -> Iterator[tuple[Mailbox, dict[str, Any]]]:
    box = Mailbox()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=ctx,
                            require_starttls=True, authenticator=_auth, auth_required=True)
    controller.start()
    ca_file = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    (tmp_path / "smtp-password").write_text("mat-khau\n", encoding="utf-8")
    channel = {"type": "email", "name": "it-mail", "host": "localhost", "port": port,
               "security": "starttls", "username": "phiwatch",
               "password_file": str(tmp_path / "smtp-password"), "ca_file": str(ca_file),
               "sender": "phiwatch@bvtudu.vn", "to": ["it@bvtudu.vn"], "timeout_seconds": 10}
    yield box, channel
    controller.stop()


def _notifier(tmp_path: Path, channel: dict[str, Any], **top: Any) -> Notifier:
    return Notifier(notify_config(channel, **top), sender=SENDER, state_dir=tmp_path / "state")


def test_one_alert_as_text_and_escaped_html(relay: tuple[Mailbox, dict[str, Any]],
                                            tmp_path: Path) -> None:
    box, channel = relay
    n = _notifier(tmp_path, channel)
    a = alert(title=HOSTILE_TITLE, user=HOSTILE_USER, explanation=HOSTILE_EXPLANATION)
    n.submit([a], now=T0)
    (attempt,) = n.run_due(T0)
    assert attempt.result is State.DELIVERED, attempt.error
    (msg,) = box.messages
    subject = str(msg["Subject"])
    assert "\r" not in subject and "\n" not in subject
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert subject.startswith("[phiwatch] CAO / HIGH: Bulk\\x0d\\x0aBcc: victim@evil.example")
    assert msg["X-Phiwatch-Notification"] == f"it-mail/alert/{a.id}/0"
    assert msg["Message-ID"].endswith("@bvtudu.vn>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert plain.index("Cảnh báo phiwatch — Bệnh viện Từ Dũ") < plain.index("— English —") \
        < plain.index("phiwatch alert — Bệnh viện Từ Dũ")
    assert "Thời gian: 22/11/2026 07:20:02 – 22/11/2026 08:15:02" in plain
    assert "When: 2026-11-22 07:20:02 +0700 – 2026-11-22 08:15:02 +0700" in plain
    assert "\x1b" not in plain and "\u202e" not in plain and "\\x1b[2J" in plain
    assert "X-Injected" in plain and "\nX-Injected" not in plain
    assert f"Xem: https://phiwatch.bv.local/alerts/{a.id}" in plain
    markup = html.get_content()
    assert "<script>" not in markup and "<img" not in markup and "<b>lookup" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "nv&lt;img src=x onerror=alert(1)&gt;\\x1b[2J" in markup


def test_a_busy_relay_is_retried_with_the_same_message_id(
        relay: tuple[Mailbox, dict[str, Any]], tmp_path: Path) -> None:
    box, channel = relay
    box.refuse = 1
    n = _notifier(tmp_path, channel, retry_base_seconds=60)
    n.submit([alert()], now=T0)
    (first,) = n.run_due(T0)
    assert first.result is State.PENDING and first.status == 451
    assert n.status().channels[0].pending == 1
    assert n.run_due(T0 + timedelta(seconds=59)) == []
    (second,) = n.run_due(T0 + timedelta(seconds=60))
    assert second.result is State.DELIVERED
    assert len(box.messages) == 1
    s = n.stats()["it-mail"]
    assert (s.retried, s.delivered, s.pending_now) == (1, 1, 0)


def test_wrong_password_fails_for_good(relay: tuple[Mailbox, dict[str, Any]],
                                       tmp_path: Path) -> None:
    box, channel = relay
    (tmp_path / "smtp-password").write_text("sai\n", encoding="utf-8")
    n = _notifier(tmp_path, channel)
    n.submit([alert()], now=T0)
    (a,) = n.run_due(T0)
    assert a.result is State.FAILED and a.status == 535
    assert n.status().channels[0].failed == 1 and box.messages == []


def test_a_digest_lists_the_alerts_in_both_languages(relay: tuple[Mailbox, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    box, channel = relay
    n = _notifier(tmp_path, {**channel, "digest_minutes": 10}, realert_minutes=0)
    n.submit([alert(user="nv1"), alert(user="nv2", at=T0 + timedelta(minutes=2),
                                       severity="critical")], now=T0 + timedelta(minutes=2))
    n.run_due(T0 + timedelta(minutes=10))
    (msg,) = box.messages
    assert str(msg["Subject"]) == \
        "[phiwatch] Tổng hợp 2 cảnh báo / Digest of 2 alerts — Bệnh viện Từ Dũ"
    body = msg.get_body(("plain",))
    assert body is not None
    plain = body.get_content()
    assert "1. [cao] Bulk patient lookup by one user — user.id=nv1 — 22/11/2026 08:15:02" in plain
    assert "2. [nghiêm trọng]" in plain and "2. [critical]" in plain
    assert plain.index("2. [nghiêm trọng]") < plain.index("— English —") < \
        plain.index("2. [critical]")
