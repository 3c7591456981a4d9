"""What ``phiwatch run`` does for reports every few seconds, on the wall clock.

A confirmation made outside the API (the command line, another process) is drafted here;
with ``reports.auto_send`` the reports are issued; queued deliveries are attempted (with
their backoff); and the 72-hour warnings due now are raised as alerts and handed to the
notifications like any other. Each step that fails is logged and tried again at the next
beat: a mail relay or the Department being away never stops the pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from alerting.incident_store import IncidentStore
from alerting.store import AlertStore
from phiwatch.config import Config
from phiwatch.report_clock import deadline_alerts
from phiwatch.report_delivery import deliver_due
from phiwatch.report_parts import ReportParts, open_report_parts
from phiwatch.reporting import ReportingStore, tick
from rules.alert import Alert
from sensors.errors import PhiwatchError

log = logging.getLogger(__name__)

#: Seconds between beats: a report is a matter of hours, a beat costs a few queries.
BEAT_SECONDS = 5.0


@dataclass
class ReportBeat:
    parts: ReportParts
    store: ReportingStore
    on_alert: Callable[[Alert], None] | None = None
    every: float = BEAT_SECONDS
    last: float = float("-inf")
    warnings_raised: int = 0
    attempts: int = 0

    @classmethod
    def of(cls, config: Config, store: AlertStore,
           on_alert: Callable[[Alert], None] | None = None) -> ReportBeat | None:
        """The beat of ``config`` (``None`` without ``reports:`` or with a store that keeps
        no incidents)."""
        if config.reports is None or not isinstance(store, IncidentStore):
            return None
        parts = open_report_parts(config)
        if parts is None:
            return None
        return cls(parts, store, on_alert)  # type: ignore[arg-type]  # checked just above

    def maybe(self, now: float | None = None) -> None:
        """A beat, if ``every`` seconds (monotonic) have passed since the last."""
        mono = time.monotonic() if now is None else now
        if mono - self.last < self.every:
            return
        self.last = mono
        self.beat(datetime.now(UTC))

    def beat(self, now: datetime) -> None:
        parts = self.parts
        try:
            tick(parts, self.store, now)
        except (PhiwatchError, OSError) as e:
            log.warning("reports: drafting or issuing failed (%s); retrying", e)
        try:
            self.attempts += len(deliver_due(parts, now))
        except (PhiwatchError, OSError) as e:
            log.warning("reports: delivery failed (%s); retrying", e)
        if not parts.settings.deadline_warnings:
            return
        try:
            raised = deadline_alerts(self.store, now)  # type: ignore[arg-type]
        except (PhiwatchError, OSError) as e:
            log.warning("reports: the 72-hour clock could not be checked (%s); retrying", e)
            return
        self.warnings_raised += len(raised)
        if self.on_alert is not None:
            for alert in raised:
                self.on_alert(alert)

    def close(self) -> None:
        self.parts.close()
