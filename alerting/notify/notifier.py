"""The notifier: alerts in (``submit``), notifications out (``run_due``), durably.

``submit`` is what the pipeline calls with the alerts it has just committed. It never
touches the network: in one SQLite transaction per call it decides, per channel, what
each alert becomes (``alerting.notify.policy``) and queues the notifications in the
outbox (``alerting.reports.outbox``). ``run_due(now)`` closes the digests that are due
and makes one delivery attempt of each due notification (SMTP, HTTPS, syslog), with the
outbox's backoff and leases. Run it from the loop with an explicit ``now`` (tests,
replays), or let ``start()`` run it on a background thread every few seconds, woken at
once by ``submit``, so a slow mail relay never holds back the reading of logs.

A restart continues what was pending: the state is the file. Delivery is at least once;
each email has a stable Message-ID, each webhook POST an ``Idempotency-Key``, each CEF
event the alert id as ``externalId``.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.notify import policy
from alerting.notify.channels import build_channel, targets
from alerting.notify.config import NotifyConfig
from alerting.notify.messages import DIGEST_LIMIT, Notification, Sender
from alerting.notify.policy import Route, Verdict
from alerting.notify.status import ChannelCounters, NotifyStatus, read_status
from alerting.reports.outbox import Attempt, Backoff, Channel, Outbox, Outcome, Parcel, State
from alerting.reports.outbox_status import purge
from rules.alert import Alert

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Counted:
    """Wraps a channel to count its verdicts (the outbox's attempts do not name it)."""

    def __init__(self, name: str, channel: Channel, notifier: Notifier) -> None:
        self.name = name
        self.channel = channel
        self.notifier = notifier

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        try:
            outcome = self.channel.send(parcel, target, idempotency_key)
        except Exception:
            self.notifier._count(self.name, "retried")
            raise  # the outbox records it as a retry
        field = {State.DELIVERED: "delivered", State.PENDING: "retried"}.get(outcome.result,
                                                                              "failed")
        self.notifier._count(self.name, field)
        if outcome.result is not State.DELIVERED:
            log.warning("notification %s to %s on %s not delivered: %s", parcel.report_id,
                        target, self.name, outcome.error)
        return outcome


class Notifier:
    """Alert notifications for one hospital, over the channels of ``config``."""

    def __init__(self, config: NotifyConfig, *, sender: Sender, state_dir: Path,
                 channels: Mapping[str, Channel] | None = None,
                 clock: Clock = utc_now) -> None:
        """``channels`` replaces the configured senders (tests); their names must match."""
        self.config = config
        self.sender = sender
        self.clock = clock
        self.routes = {c.name: Route.of(c, config) for c in config.channels}
        self.targets = {c.name: targets(c) for c in config.channels}
        built = dict(channels) if channels is not None else \
            {c.name: build_channel(c) for c in config.channels}
        self._lock = threading.RLock()
        self._counters = {name: ChannelCounters() for name in self.routes}
        self.outbox = Outbox(
            config.outbox_file(state_dir),
            {name: _Counted(name, ch, self) for name, ch in built.items()},
            backoff=Backoff(base=timedelta(seconds=config.retry_base_seconds),
                            cap=timedelta(seconds=config.retry_max_seconds)),
            max_attempts=config.max_attempts)
        with self.outbox.transaction() as db:
            policy.create(db)
        self._last_purge: datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_gauges()

    # -- the two entry points ---------------------------------------------------------------

    def submit(self, alerts: Sequence[Alert], *, now: datetime | None = None) -> None:
        """Decide and queue, durably; no network. ``now``: when (wall clock by default)."""
        if not alerts:
            return
        now = now or self.clock()
        queued = False
        with self._lock, self.outbox.transaction() as db:
            for route in self.routes.values():
                for alert in alerts:
                    verdict = policy.decide(db, route, alert)
                    if verdict not in (Verdict.SEND, Verdict.UPDATE):  # those: "queued"
                        self._count(route.channel, verdict.value)
                    if verdict in (Verdict.SEND, Verdict.UPDATE):
                        self._enqueue(db, route, (alert,), now, 0)
                        queued = True
                    elif verdict is Verdict.DIGEST:
                        opened = policy.digest_opened(db, route.channel)
                        if opened is not None and \
                                policy.micros(alert.window_end) >= opened + route.digest_us:
                            queued |= self._close_digest(db, route, now)
                        policy.collect(db, route, alert)
        if queued:
            self._wake.set()

    def run_due(self, now: datetime | None = None, *, limit: int = 100) -> list[Attempt]:
        """Send the digests that are due, then attempt each due delivery once."""
        now = now or self.clock()
        now_us = policy.micros(now)
        with self._lock, self.outbox.transaction() as db:
            for route in self.routes.values():
                if route.digest_us and policy.digest_due(db, route, now_us):
                    self._close_digest(db, route, now)
        attempts = self.outbox.run_due(now=now, limit=limit)
        if self._last_purge is None or now - self._last_purge >= timedelta(hours=1):
            self._purge(now)
        self._refresh_gauges()
        return attempts

    # -- operators ----------------------------------------------------------------------------

    def status(self) -> NotifyStatus:
        return read_status(self.outbox, self.config)

    def stats(self) -> dict[str, ChannelCounters]:
        """Counters since start and gauges from the last round, per channel (a copy)."""
        with self._lock:
            return {name: replace(c) for name, c in self._counters.items()}

    def next_due(self) -> datetime | None:
        return self.outbox.next_due()

    # -- background thread ---------------------------------------------------------------

    def start(self, interval_seconds: float = 5.0) -> None:
        """Run ``run_due`` on a daemon thread every ``interval_seconds`` (at once after a
        ``submit`` that queued something) until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval_seconds,),
                                        name="phiwatch-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after its current round; what is pending stays in the file."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_due(self.clock())
            except Exception:  # never let the thread die: the next round tries again
                log.exception("notification round failed")
            self._wake.wait(interval)
            self._wake.clear()

    # -- inside ---------------------------------------------------------------------------------

    def _count(self, channel: str, field: str) -> None:
        with self._lock:
            counters = self._counters.setdefault(channel, ChannelCounters())
            if hasattr(counters, field):
                setattr(counters, field, getattr(counters, field) + 1)

    def _enqueue(self, db: sqlite3.Connection, route: Route, alerts: Sequence[Alert],
                 now: datetime, more: int) -> None:
        if len(alerts) == 1 and not more and not route.digest_us:
            a = alerts[0]
            n = Notification(f"{route.channel}/alert/{a.id}/{a.revision}", "alert",
                             route.channel, now, tuple(alerts))
        else:
            # Named by its content: the same digest queued again after a crash is the same
            # parcel; two digests never share a name.
            content = "\n".join(f"{a.id}:{a.revision}" for a in alerts) + f"\n+{more}"
            digest = hashlib.blake2b(content.encode(), digest_size=8).hexdigest()
            n = Notification(f"{route.channel}/digest/{policy.micros(alerts[0].window_end)}/"
                             f"{digest}", "digest", route.channel, now, tuple(alerts), more)
        self.outbox.enqueue(n.parcel(self.sender),
                            [(route.channel, t) for t in self.targets[route.channel]],
                            now=now, db=db)
        self._count(route.channel, "queued")

    def _close_digest(self, db: sqlite3.Connection, route: Route, now: datetime) -> bool:
        alerts = policy.take_digest(db, route.channel)
        if not alerts:
            return False
        self._enqueue(db, route, alerts[:DIGEST_LIMIT], now, max(0, len(alerts) - DIGEST_LIMIT))
        return True

    def _purge(self, now: datetime) -> None:
        keep = timedelta(days=self.config.keep_days)
        try:
            purge(self.outbox, delivered_before=now - keep)
            with self._lock, self.outbox.transaction() as db:
                policy.forget(db, policy.micros(now - keep))
            self._last_purge = now
        except Exception as e:  # housekeeping only: try again next hour
            log.warning("could not purge old notifications: %s", e)

    def _refresh_gauges(self) -> None:
        try:
            status = self.status()
        except Exception as e:
            log.warning("could not read the notification status: %s", e)
            return
        with self._lock:
            for c in status.channels:
                counters = self._counters.setdefault(c.channel, ChannelCounters())
                counters.pending_now = c.pending
                counters.failed_now = c.failed
                counters.in_digest_now = c.in_digest
