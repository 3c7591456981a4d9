"""The operations parts of ``phiwatch run``, composed from the configuration.

``Operations.open(config)`` builds what ``notify:``, ``metrics:`` and ``logging:`` ask
for: the notifier (with its background sender), the status board and the ``/metrics``
server. The run loop then needs three calls: ``alert_callback`` as the pipeline's
``on_alert`` (counts alerts by rule and severity, queues notifications), ``publish``
once per loop round (a snapshot of the counters at most every
``metrics.publish_interval_seconds``), and ``close`` on the way out. Nothing here reads
or changes the runner's internals: ``publish`` is handed the pipeline's parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from alerting.notify.messages import Sender
from alerting.notify.notifier import Notifier
from phiwatch.assembly import Pipeline
from phiwatch.config import Config
from phiwatch.metrics import Metrics, MetricsServer
from phiwatch.run_status import AlertTally, RunStatus, StatusBoard, collect_run_status
from rules.alert import Alert

log = logging.getLogger(__name__)


def sender_of(config: Config) -> Sender:
    """Who the notifications speak for: the configured hospital, in its time zone."""
    return Sender(config.organization.id, config.organization.name, config.timezone,
                  config.notify.alert_url if config.notify is not None else None)


def open_notifier(config: Config) -> Notifier | None:
    """The notifier of ``notify:`` (``None`` without the section); reads its secrets now,
    so a missing password file stops the start with ``NotifyError`` (exit code 2)."""
    if config.notify is None:
        return None
    return Notifier(config.notify, sender=sender_of(config), state_dir=config.state_dir)


@dataclass
class Operations:
    """Notifier, status board, metrics endpoint of one ``phiwatch run``."""

    config: Config
    notifier: Notifier | None
    board: StatusBoard = field(default_factory=StatusBoard)
    tally: AlertTally = field(default_factory=AlertTally)
    metrics: Metrics | None = None
    server: MetricsServer | None = None
    started_at: float = field(default_factory=time.time)

    @classmethod
    def open(cls, config: Config, *, notify_interval_seconds: float = 5.0,
             background: bool = True) -> Operations:
        """Build and start what the configuration asks for (threads: the notifier's
        sender, the metrics server). ``background=False``: no sender thread; the caller
        drives ``notifier.run_due(now)`` (tests, a replay that notifies)."""
        ops = cls(config, open_notifier(config))
        try:
            if config.metrics is not None:
                ops.metrics = Metrics(ops.board)
                ops.server = ops.metrics.serve(*config.metrics.address)
                log.info("metrics on %s", ops.server.url)
            if ops.notifier is not None and background:
                ops.notifier.start(notify_interval_seconds)
        except BaseException:
            ops.close()
            raise
        return ops

    def alert_callback(self, then: Callable[[Alert], None] | None = None
                       ) -> Callable[[Alert], None]:
        """An ``on_alert`` for the pipeline: tally, queue the notification, then ``then``
        (the console printer). Queueing writes to SQLite; it never waits for a network."""
        notifier = self.notifier

        def on_alert(alert: Alert) -> None:
            self.tally(alert)
            if notifier is not None:
                notifier.submit([alert])
            if then is not None:
                then(alert)

        return on_alert

    def publish(self, pipeline: Pipeline, *, newest_event: float | None = None,
                snapshots: int = 0, force: bool = False) -> bool:
        """Publish the pipeline's counters for the scrapes if the interval has passed
        (``force``: now). Call it from the loop's thread, every round."""
        if self.metrics is None:
            return False
        interval = self.config.metrics.publish_interval_seconds if self.config.metrics else 1.0

        def build() -> RunStatus:
            return collect_run_status(
                processor=pipeline.processor, inputs=pipeline.inputs, engine=pipeline.engine,
                dead_letter=pipeline.dead_letter, newest_event=newest_event,
                store=pipeline.store, notifier=self.notifier, tally=self.tally,
                snapshots=snapshots, started_at=self.started_at)

        return self.board.publish_due(build, interval=0.0 if force else interval)

    def close(self) -> None:
        """Stop the sender (pending notifications stay in the outbox) and the server."""
        if self.notifier is not None:
            self.notifier.stop()
        if self.server is not None:
            self.server.close()
            self.server = None
