"""What ``phiwatch notify status`` shows and what the metrics read: per channel, what is
pending, failed for good, delivered, waiting in a digest, and what happened since start.

``notify_status`` reads the state file only (no channel is built, no secret read), so it
works from a shell while ``phiwatch run`` is sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alerting.notify import policy
from alerting.notify.config import NotifyConfig
from alerting.reports.outbox import Outbox, State
from alerting.reports.outbox_status import summarize


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One channel, from the state file."""

    channel: str
    #: ``email``, ``webhook``, ``syslog``; ``unknown`` for a channel no longer configured
    #: that still has deliveries in the file.
    kind: str
    pending: int
    #: Refused for good or given up after ``max_attempts``: the operator's to look at
    #: (fix the cause, then requeue them).
    failed: int
    delivered: int
    #: Alerts collected in the channel's digest, not yet sent.
    in_digest: int
    oldest_pending: datetime | None
    last_error: str


@dataclass(frozen=True, slots=True)
class NotifyStatus:
    path: Path
    channels: tuple[ChannelStatus, ...]

    @property
    def ok(self) -> bool:
        """Nothing failed for good (pending deliveries are normal while a relay is away)."""
        return all(c.failed == 0 for c in self.channels)


@dataclass(slots=True)
class ChannelCounters:
    """What one channel did since this process started (for the metrics)."""

    queued: int = 0           # notifications enqueued (single alerts and digests)
    digested: int = 0         # alerts collected into a digest
    throttled: int = 0
    duplicate: int = 0
    version_skipped: int = 0
    below_severity: int = 0
    delivered: int = 0        # delivery attempts that succeeded
    retried: int = 0          # temporary failures (retried with backoff)
    failed: int = 0           # refused for good
    #: From the state file at the last ``run_due``: gauges, not counters.
    pending_now: int = 0
    failed_now: int = 0
    in_digest_now: int = 0


def _kinds(config: NotifyConfig | None) -> dict[str, str]:
    return {c.name: c.type for c in config.channels} if config is not None else {}


def read_status(outbox: Outbox, config: NotifyConfig | None) -> NotifyStatus:
    """Status of an open outbox (the notifier's own)."""
    with outbox.transaction() as db:
        policy.create(db)
        waiting = policy.waiting(db)
    kinds = _kinds(config)
    summaries = {s.channel: s for s in summarize(outbox)}
    names = sorted(set(kinds) | set(summaries) | set(waiting))
    rows = []
    for name in names:
        s = summaries.get(name)
        rows.append(ChannelStatus(
            name, kinds.get(name, "unknown"), s.pending if s else 0, s.failed if s else 0,
            s.delivered if s else 0, waiting.get(name, 0), s.oldest_pending if s else None,
            s.last_error if s else ""))
    return NotifyStatus(outbox.path, tuple(rows))


def notify_status(config: NotifyConfig, state_dir: Path) -> NotifyStatus:
    """Per channel pending/failed/delivered/in digest, from ``config``'s state file; all
    zero when phiwatch has not notified anything yet (the file is not created)."""
    path = config.outbox_file(state_dir)
    if not path.exists():
        return NotifyStatus(path, tuple(
            ChannelStatus(c.name, c.type, 0, 0, 0, 0, None, "") for c in config.channels))
    return read_status(Outbox(path, {}), config)


def requeue_failed(config: NotifyConfig, state_dir: Path, *, now: datetime,
                   channel: str | None = None) -> int:
    """Send the failed and given-up deliveries again (after the cause was fixed); returns
    how many. The running notifier picks them up at its next round."""
    path = config.outbox_file(state_dir)
    if not path.exists():
        return 0
    outbox = Outbox(path, {})
    ids = [d.id for d in outbox.deliveries() if d.state in (State.FAILED, State.GAVE_UP)
           and (channel is None or d.channel == channel)]
    for delivery_id in ids:
        outbox.requeue(delivery_id, now=now)
    return len(ids)
