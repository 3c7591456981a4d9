"""The syslog channel: each alert of a notification as one RFC 5424 message with CEF,
over UDP, TCP or TLS, to the SIEM the hospital already runs.

Syslog has no acknowledgement. Over TCP and TLS a notification is delivered when every
byte was written and the connection closed cleanly; a refused or broken connection is
retried by the outbox (the SIEM may then see an event twice: ``externalId`` is the alert
id, stable, for its deduplication). Over UDP a datagram sent is a datagram delivered:
only local errors (no route, an unknown host) are retried.
"""

from __future__ import annotations

import socket
import ssl
from datetime import datetime

from alerting.notify.cef import octet_frame, printable_hostname, syslog_message
from alerting.notify.config import SyslogChannelConfig
from alerting.notify.messages import read_payload
from alerting.reports.outbox import Outcome, Parcel
from rules.alert import Alert


class SyslogChannel:
    """``Channel`` to one syslog receiver; the target names it (``host:port``)."""

    def __init__(self, config: SyslogChannelConfig, *, version: str,
                 ssl_context: ssl.SSLContext | None = None,
                 hostname: str | None = None) -> None:
        self.config = config
        self.version = version
        self.hostname = printable_hostname(hostname or config.hostname or socket.gethostname())
        if config.transport == "tls" and ssl_context is None:
            ssl_context = ssl.create_default_context(
                cafile=str(config.ca_file) if config.ca_file else None)
        self.ssl_context = ssl_context

    @property
    def target(self) -> str:
        return f"{self.config.host}:{self.config.effective_port}"

    def messages(self, parcel: Parcel) -> list[bytes]:
        """The RFC 5424 messages of ``parcel``, one per alert, unframed."""
        notification, sender = read_payload(parcel.jws)
        return [self.message(a, created=notification.created,
                             organization_id=sender.organization_id)
                for a in notification.alerts]

    def message(self, alert: Alert, *, created: datetime, organization_id: str) -> bytes:
        c = self.config
        return syslog_message(alert, created=created, hostname=self.hostname,
                              app_name=c.app_name, facility=c.facility,
                              organization_id=organization_id, version=self.version,
                              max_bytes=c.max_message_bytes, bom=c.utf8_bom)

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        try:
            messages = self.messages(parcel)
        except (ValueError, KeyError) as e:  # not a notification document: retrying won't help
            return Outcome.failed(f"cannot read the notification: {e}")
        c = self.config
        try:
            if c.transport == "udp":
                self._send_udp(messages)
            else:
                self._send_stream(b"".join(octet_frame(m) for m in messages))
        except (OSError, ssl.SSLError) as e:  # refused, reset, TLS, timeouts, DNS
            return Outcome.retry(f"syslog {c.transport} {self.target}: "
                                 f"{type(e).__name__}: {e}")
        return Outcome.delivered()

    def _send_udp(self, messages: list[bytes]) -> None:
        c = self.config
        family, kind, proto, _, address = socket.getaddrinfo(
            c.host, c.effective_port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(c.timeout_seconds)
            for m in messages:
                sock.sendto(m, address)

    def _send_stream(self, data: bytes) -> None:
        c = self.config
        raw = socket.create_connection((c.host, c.effective_port), timeout=c.timeout_seconds)
        try:
            if c.transport == "tls":
                assert self.ssl_context is not None
                sock: socket.socket = self.ssl_context.wrap_socket(raw, server_hostname=c.host)
            else:
                sock = raw
            sock.sendall(data)
            if not isinstance(sock, ssl.SSLSocket):
                sock.shutdown(socket.SHUT_WR)
            # No TLS close_notify exchange: a receiver that never answers one would make
            # every delivery time out and be sent again.
            sock.close()
        finally:
            raw.close()
