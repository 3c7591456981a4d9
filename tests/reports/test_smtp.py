"""The email channel against a real SMTP server (aiosmtpd) on loopback, TLS by trustme."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="pip install aiosmtpd")
trustme = pytest.importorskip("trustme", reason="pip install trustme")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from alerting.reports import sample  # noqa: E402
from alerting.reports.outbox import Attachment, Outbox, Parcel, State  # noqa: E402
from alerting.reports.smtp import SmtpChannel, SmtpSettings  # noqa: E402

SUBJECT = "Báo cáo sự cố lộ lọt dữ liệu người bệnh – số 1/BC-BVPSM – Bệnh viện Phụ sản Mẫu"
PARCEL = Parcel("bv-mau:2026:1/BC-BVPSM", SUBJECT, "Kính gửi: Sở Y tế Thành phố Hồ Chí Minh\n",
                b"aaa.bbb.ccc",
                (Attachment("bao-cao-1.docx", "application/vnd.openxmlformats-officedocument."
                            "wordprocessingml.document", b"PK\x03\x04docx"),
                 Attachment("bao-cao-1.pdf", "application/pdf", b"%PDF-1.4"),
                 Attachment("bao-cao-1.jws", "application/jose", b"aaa.bbb.ccc")))
T0 = sample.local(2026, 12, 5, 10)


@dataclass
class Mailbox:
    """Refuses the first ``refuse`` DATA commands with 451, then keeps the messages."""

    refuse: int = 0
    reject_with: str = ""
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject_with:
            return self.reject_with
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str,
          auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login, auth_data.password) == (b"bv-mau", b"dung-mat-khau")
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture
def client_context(ca: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def _server_context(ca: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture
def starttls_server(ca: Any) -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    c = Controller(box, hostname="127.0.0.1", port=port, tls_context=_server_context(ca),
                   require_starttls=True, authenticator=_auth, auth_required=True)
    c.start()
    yield box, port
    c.stop()


def _settings(port: int, ctx: ssl.SSLContext, **kw: Any) -> SmtpSettings:
    base: dict[str, Any] = {"host": "localhost", "port": port, "sender": "phiwatch@bvpsmau.vn",
                            "security": "starttls", "username": "bv-mau",
                            "password": "dung-mat-khau", "ssl_context": ctx, "timeout_s": 10}
    return SmtpSettings(**{**base, **kw})


def test_starttls_auth_and_a_vietnamese_message(starttls_server: tuple[Mailbox, int],
                                                client_context: ssl.SSLContext) -> None:
    box, port = starttls_server
    out = SmtpChannel(_settings(port, client_context)).send(PARCEL, "so-y-te@hcm.example",
                                                            "k123")
    assert out.result is State.DELIVERED
    (msg,) = box.messages
    assert str(msg["Subject"]) == SUBJECT          # RFC 2047 decoded by the parser
    assert msg["Subject"].defects == ()
    assert msg["Message-ID"] == "<k123@bvpsmau.vn>"
    assert msg["X-Phiwatch-Report"] == PARCEL.report_id
    parts = [p for p in msg.iter_attachments()]
    assert [p.get_filename() for p in parts] == ["bao-cao-1.docx", "bao-cao-1.pdf",
                                                 "bao-cao-1.jws"]
    assert parts[1].get_content() == b"%PDF-1.4"
    assert parts[2].get_content_type() == "application/jose"
    body = msg.get_body(("plain",))
    assert body is not None and "Sở Y tế Thành phố Hồ Chí Minh" in body.get_content()


def test_wrong_password_is_final(starttls_server: tuple[Mailbox, int],
                                 client_context: ssl.SSLContext) -> None:
    _, port = starttls_server
    out = SmtpChannel(_settings(port, client_context, password="sai")).send(PARCEL, "a@b.vn",
                                                                           "k")
    assert out.result is State.FAILED and out.status == 535


def test_an_untrusted_certificate_is_retried_not_ignored(
        starttls_server: tuple[Mailbox, int]) -> None:
    _, port = starttls_server
    out = SmtpChannel(_settings(port, ssl.create_default_context())).send(PARCEL, "a@b.vn", "k")
    assert out.result is State.PENDING and "CERTIFICATE_VERIFY_FAILED" in out.error


def test_refused_then_accepted_through_the_outbox(starttls_server: tuple[Mailbox, int],
                                                  client_context: ssl.SSLContext,
                                                  tmp_path: Path) -> None:
    box, port = starttls_server
    box.refuse = 2
    outbox = Outbox(tmp_path / "o.db", {"email": SmtpChannel(_settings(port, client_context))})
    (did,) = outbox.enqueue(PARCEL, [("email", "so-y-te@hcm.example")], now=T0)
    t = T0
    for _ in range(3):
        outbox.run_due(now=t)
        t += timedelta(hours=1)
    attempts = outbox.attempts(did)
    assert [(a.result, a.status) for a in attempts] == [
        (State.PENDING, 451), (State.PENDING, 451), (State.DELIVERED, 250)]
    assert len(box.messages) == 1
    assert outbox.deliveries()[0].state is State.DELIVERED


def test_a_permanent_refusal_is_final(starttls_server: tuple[Mailbox, int],
                                      client_context: ssl.SSLContext) -> None:
    box, port = starttls_server
    box.reject_with = "554 5.7.1 Rejected by policy"
    out = SmtpChannel(_settings(port, client_context)).send(PARCEL, "a@b.vn", "k")
    assert out.result is State.FAILED and out.status == 554 and "policy" in out.error


def test_implicit_tls(ca: Any, client_context: ssl.SSLContext) -> None:
    box = Mailbox()
    port = _free_port()
    c = Controller(box, hostname="127.0.0.1", port=port, ssl_context=_server_context(ca),
                   server_hostname="localhost", authenticator=_auth, auth_required=True,
                   # aiosmtpd only counts STARTTLS as TLS; here the whole transport is TLS.
                   auth_require_tls=False)
    c.start()
    try:
        out = SmtpChannel(_settings(port, client_context, security="tls")).send(
            PARCEL, "a@b.vn", "k")
    finally:
        c.stop()
    assert out.result is State.DELIVERED and len(box.messages) == 1


def test_no_password_over_plain_text() -> None:
    from alerting.reports.errors import DeliveryError
    with pytest.raises(DeliveryError, match="without TLS"):
        SmtpSettings("localhost", 25, "a@b.vn", security="none", username="u", password="p")


def test_a_server_that_is_down_is_retried(client_context: ssl.SSLContext) -> None:
    out = SmtpChannel(_settings(_free_port(), client_context)).send(PARCEL, "a@b.vn", "k")
    assert out.result is State.PENDING and "Connection refused" in out.error
