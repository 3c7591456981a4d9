"""The notifier's error: a channel that cannot be built as configured, a state file that
cannot be used. Delivery problems are never errors: they are retried and counted."""

from __future__ import annotations

from sensors.errors import PhiwatchError


class NotifyError(PhiwatchError):
    """A notification channel or the notifier's state is unusable; names file and key."""

    exit_code = 2
