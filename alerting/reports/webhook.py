"""The HTTPS webhook channel: POST the signed JWS, once, however often it is retried.

The Department's instance (or any receiver) gets the compact JWS as the body
(``Content-Type: application/jose``) with an ``Idempotency-Key`` stable per report and
target, so a retry after a lost response is recognised, and ``X-Phiwatch-Signature:
sha256=<hex>``, an HMAC-SHA256 of the body with a secret shared with that receiver, so it
can refuse a body from anyone else before parsing it. Verdicts: 2xx delivered; network
errors, timeouts, 408, 425, 429 and 5xx retry (honouring Retry-After, seconds or an HTTP
date); any other status failed, with the server's reason kept. Redirects are not
followed: a report is never re-posted somewhere the configuration did not name.

With ``documents=True`` the body is the inbox envelope instead
(``application/vnd.phiwatch.report+json``: the JWS with the DOCX and the PDF in base64),
so the Department's phiwatch receives the documents with the proof of their hashes; a
``bearer_token`` is sent as ``Authorization: Bearer …`` when the receiver wants one. The
Department's inbox answers a report it already holds with 409 ``already_received``; when
it says the stored copy is byte for byte this one (``identical``), the earlier attempt
did land (its answer was lost), and the delivery counts as delivered.

Alert notifications use the same channel with ``content_type="application/json"`` and
their own id header: the body is then the notification's JSON document.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from alerting.reports.errors import DeliveryError
from alerting.reports.inbox import ENVELOPE_TYPE, envelope
from alerting.reports.outbox import Outcome, Parcel

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
SIGNATURE_HEADER = "X-Phiwatch-Signature"


@dataclass(frozen=True)
class WebhookSettings:
    secret: bytes = field(repr=False)
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    #: Plain http only for tests on loopback; reports travel over HTTPS.
    allow_http: bool = False
    #: TLS verification: True (system CAs), a CA bundle path, or an ``ssl.SSLContext``.
    verify: object = True
    #: Post the inbox envelope (JWS, DOCX and PDF) rather than the JWS alone.
    documents: bool = False
    #: Sent as ``Authorization: Bearer <token>`` when the receiver asks for one.
    bearer_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise DeliveryError("webhook secret", "needs at least 16 bytes")


def signature(secret: bytes, body: bytes) -> str:
    """The value of ``X-Phiwatch-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After as a delay: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))


def _landed_before(r: httpx.Response) -> bool:
    """A 409 from phiwatch's inbox saying it holds exactly these bytes already."""
    if r.status_code != 409:
        return False
    try:
        answer = r.json()
    except ValueError:
        return False
    return (isinstance(answer, dict) and answer.get("error") == "already_received"
            and answer.get("identical") is True)


class WebhookChannel:
    """``Channel`` over HTTPS; targets are URLs."""

    def __init__(self, settings: WebhookSettings, *,
                 transport: httpx.BaseTransport | None = None,
                 content_type: str = "application/jose",
                 id_header: str = "X-Phiwatch-Report",
                 user_agent: str = "phiwatch-reports") -> None:
        self.settings = settings
        self._transport = transport
        self.content_type = content_type
        self.id_header = id_header
        self.user_agent = user_agent

    def _bad_url(self, url: str) -> str:
        parts = urlsplit(url)
        allowed = {"https", "http"} if self.settings.allow_http else {"https"}
        if parts.scheme not in allowed or not parts.hostname:
            return f"webhook target {url!r} is not an {' or '.join(sorted(allowed))} URL"
        return ""

    def _body(self, parcel: Parcel) -> tuple[bytes, str]:
        if not self.settings.documents:
            return parcel.jws, self.content_type
        docs = {a.content_type: a.data for a in parcel.attachments}
        return (envelope(parcel.jws, docs.get(DOCX_TYPE), docs.get("application/pdf")),
                ENVELOPE_TYPE)

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        if bad := self._bad_url(target):
            return Outcome.failed(bad)
        s = self.settings
        body, content_type = self._body(parcel)
        headers = {"Content-Type": content_type, "Idempotency-Key": idempotency_key,
                   SIGNATURE_HEADER: signature(s.secret, body),
                   self.id_header: parcel.report_id, "User-Agent": self.user_agent}
        if s.bearer_token:
            headers["Authorization"] = f"Bearer {s.bearer_token}"
        timeout = httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s)
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, transport=self._transport,
                              verify=s.verify) as client:  # type: ignore[arg-type]
                r = client.post(target, content=body, headers=headers)
        except httpx.HTTPError as e:  # connect, read, TLS errors and timeouts
            return Outcome.retry(f"{type(e).__name__}: {e}")
        if 200 <= r.status_code < 300 or _landed_before(r):
            return Outcome.delivered(r.status_code)
        reason = f"HTTP {r.status_code} {r.reason_phrase}: {r.text[:500]}"
        if r.status_code in RETRY_STATUSES or r.status_code >= 500:
            return Outcome.retry(reason, status=r.status_code,
                                 retry_after=retry_after(r.headers.get("Retry-After")))
        return Outcome.failed(reason, status=r.status_code)
