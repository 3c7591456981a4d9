"""The email channel: the report as a Vietnamese message with DOCX, PDF and JWS attached.

Standard library only (``smtplib``, ``email``). Attachments go as base64, the Vietnamese
subject as RFC 2047 encoded words (made by ``email.header.Header``, see
``build_message``); the Message-ID comes from the delivery's idempotency key, so a retried
message is recognisably the same message. STARTTLS or implicit TLS with the system's (or
a given) CA store; a password is never sent over a connection that is not encrypted. The
SMTP reply decides the verdict: 2xx delivered, 4xx (and any network or TLS error) retry,
5xx failed.

The channel is not tied to reports: ``SmtpChannel(settings, build=…)`` sends whatever
message ``build`` makes of a parcel (alert notifications build a text and HTML one)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Literal

from alerting.reports.errors import DeliveryError
from alerting.reports.outbox import Outcome, Parcel
from alerting.reports.safe_text import clean


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    #: None: the system's CA store with hostname checks.
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.security == "none" and self.username:
            raise DeliveryError(f"SMTP {self.host}:{self.port}",
                                "refusing to authenticate without TLS (security='none')")
        if (self.username is None) != (self.password is None):
            raise DeliveryError(f"SMTP {self.host}:{self.port}",
                                "username and password go together")


def build_message(parcel: Parcel, sender: str, to: str, idempotency_key: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    # Encoded here, not by the policy: CPython's folding of long non-ASCII headers puts
    # the spaces between words outside the encoded words, where RFC 2047 decoders drop
    # them ("dữ liệungười bệnh"). Header keeps each space inside its encoded word.
    subject = Header(clean(parcel.subject, limit=500), "utf-8", header_name="Subject")
    msg.set_raw("Subject", subject.encode())
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "phiwatch.invalid"
    msg["Message-ID"] = f"<{idempotency_key}@{domain}>"
    msg["X-Phiwatch-Report"] = parcel.report_id
    msg.set_content(parcel.body, charset="utf-8")
    for a in parcel.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


def _reply_outcome(code: int, text: object, what: str) -> Outcome:
    message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    error = f"{what}: {code} {message}"
    return Outcome.retry(error, status=code) if 400 <= code < 500 else \
        Outcome.failed(error, status=code)


#: Makes the message for one parcel: (parcel, sender, recipient, idempotency key).
MessageBuilder = Callable[[Parcel, str, str, str], EmailMessage]


class SmtpChannel:
    """``Channel`` over SMTP; targets are email addresses."""

    def __init__(self, settings: SmtpSettings, *, build: MessageBuilder = build_message) -> None:
        self.settings = settings
        self.build = build

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = s.ssl_context or ssl.create_default_context()
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        if s.security == "starttls":
            client.ehlo()
            client.starttls(context=context)
            client.ehlo()
        return client

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        s = self.settings
        msg = self.build(parcel, s.sender, target, idempotency_key)
        try:
            with self._connect() as client:
                if s.username is not None and s.password is not None:
                    client.login(s.username, s.password)
                refused = client.send_message(msg, from_addr=s.sender, to_addrs=[target])
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            return _reply_outcome(code, text, f"recipient {target} refused")
        except smtplib.SMTPSenderRefused as e:
            return _reply_outcome(e.smtp_code, e.smtp_error, f"sender {s.sender} refused")
        except smtplib.SMTPResponseException as e:  # auth, DATA, …: the server's own code
            return _reply_outcome(e.smtp_code, e.smtp_error, "server replied")
        except (smtplib.SMTPException, OSError) as e:  # disconnects, refused, TLS, timeouts
            return Outcome.retry(f"{type(e).__name__}: {e}")
        if refused:
            code, text = next(iter(refused.values()))
            return _reply_outcome(code, text, f"recipient {target} refused")
        return Outcome.delivered(250)
