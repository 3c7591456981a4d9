"""Alert notifications: email, webhook and syslog/CEF, throttled or digested, durable.

``Notifier.submit(alerts)`` queues (no network), ``Notifier.run_due(now)`` or the
background thread of ``Notifier.start()`` delivers; ``notify_status`` tells an operator
what is pending or failed per channel. See docs/operations.md.
"""

from alerting.notify.config import (
    EmailChannelConfig,
    NotifyConfig,
    SyslogChannelConfig,
    WebhookChannelConfig,
)
from alerting.notify.errors import NotifyError
from alerting.notify.messages import Notification, Sender
from alerting.notify.notifier import Notifier
from alerting.notify.status import (
    ChannelCounters,
    ChannelStatus,
    NotifyStatus,
    notify_status,
    requeue_failed,
)

__all__ = [
    "ChannelCounters", "ChannelStatus", "EmailChannelConfig", "Notification", "Notifier",
    "NotifyConfig", "NotifyError", "NotifyStatus", "Sender", "SyslogChannelConfig",
    "WebhookChannelConfig", "notify_status", "requeue_failed",
]
