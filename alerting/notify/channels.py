"""From a channel's configuration to the outbox ``Channel`` that sends, and its targets.

Email and webhook are the report library's channels (``alerting.reports.smtp``,
``alerting.reports.webhook``) with a notification's message and content type; syslog is
this package's. A channel's targets are the outbox deliveries of each notification: one
per email recipient, the webhook URL, the syslog receiver.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from alerting.notify.config import (
    ChannelConfig,
    EmailChannelConfig,
    SyslogChannelConfig,
    WebhookChannelConfig,
)
from alerting.notify.email import email_channel
from alerting.notify.syslog import SyslogChannel
from alerting.reports.outbox import Channel
from alerting.reports.webhook import WebhookChannel, WebhookSettings

WEBHOOK_ID_HEADER = "X-Phiwatch-Notification"


def phiwatch_version() -> str:
    try:
        return version("phiwatch")
    except PackageNotFoundError:
        return "0"


def build_channel(config: ChannelConfig, *, product_version: str | None = None) -> Channel:
    """The sending side of ``config``; reads secrets from their files now."""
    if isinstance(config, EmailChannelConfig):
        return email_channel(config)
    if isinstance(config, WebhookChannelConfig):
        settings = WebhookSettings(config.secret_bytes(), timeout_s=config.timeout_seconds,
                                   allow_http=config.allow_http,
                                   verify=str(config.ca_file) if config.ca_file else True)
        return WebhookChannel(settings, content_type="application/json",
                              id_header=WEBHOOK_ID_HEADER, user_agent="phiwatch-notify")
    return SyslogChannel(config, version=product_version or phiwatch_version())


def targets(config: ChannelConfig) -> list[str]:
    """Where each notification of this channel goes (one outbox delivery each)."""
    if isinstance(config, EmailChannelConfig):
        return list(config.to)
    if isinstance(config, WebhookChannelConfig):
        return [config.url]
    assert isinstance(config, SyslogChannelConfig)
    return [f"{config.host}:{config.effective_port}"]
