"""The email channel for notifications: the report library's SMTP channel, with a message
of a text part (what the parcel says) and an HTML alternative made from its JSON.

Headers are the report builder's (``alerting.reports.smtp.build_message``): the subject
cleaned to one line and RFC 2047-encoded, so no alert text can add a header; the
Message-ID from the delivery's idempotency key, so a retried message is recognisably the
same one.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage

from alerting.notify.config import EmailChannelConfig
from alerting.notify.messages import html_body, read_payload
from alerting.reports.outbox import Parcel
from alerting.reports.smtp import SmtpChannel, SmtpSettings, build_message

HEADER = "X-Phiwatch-Notification"


def build_notification(parcel: Parcel, sender: str, to: str, idempotency_key: str) -> EmailMessage:
    """Text part from the parcel, HTML alternative from its JSON document."""
    msg = build_message(parcel, sender, to, idempotency_key)
    del msg["X-Phiwatch-Report"]
    msg[HEADER] = parcel.report_id
    notification, who = read_payload(parcel.jws)
    msg.add_alternative(html_body(notification, who), subtype="html", charset="utf-8")
    return msg


def email_channel(config: EmailChannelConfig,
                  ssl_context: ssl.SSLContext | None = None) -> SmtpChannel:
    """The SMTP channel ``config`` describes (``ssl_context`` overrides ``ca_file``)."""
    if ssl_context is None and config.ca_file is not None:
        ssl_context = ssl.create_default_context(cafile=str(config.ca_file))
    password = config.secret()
    settings = SmtpSettings(host=config.host, port=config.port, sender=config.sender,
                            security=config.security, username=config.username,
                            password=password, timeout_s=config.timeout_seconds,
                            ssl_context=ssl_context)
    return SmtpChannel(settings, build=build_notification)
