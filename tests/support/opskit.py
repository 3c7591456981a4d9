"""Test kit for the operations tests (tests/ops): alerts, a sender, notification
configurations, a channel that records what it was given, and free local ports."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.notify.config import NotifyConfig
from alerting.notify.messages import Sender
from alerting.reports.outbox import Outcome, Parcel
from rules.alert import Alert, EventRef, alert_id

#: 08:15:02 in Ho Chi Minh City.
T0 = datetime(2026, 11, 22, 1, 15, 2, tzinfo=UTC)
SENDER = Sender("bv-tu-du", "Bệnh viện Từ Dũ", "Asia/Ho_Chi_Minh",
                "https://phiwatch.bv.local/alerts/{id}")

def alert(*, rule: str = "phiwatch-his-bulk-patient-lookup",
          title: str = "Bulk patient lookup by one user", user: str = "nv01234",
          at: datetime = T0, start: timedelta = timedelta(minutes=55),
          severity: str = "high", revision: int = 0, final: bool = False,
          explanation: str | None = None, events: int = 130, distinct: int | None = 120,
          context: dict[str, Any] | None = None, window_start: datetime | None = None) -> Alert:
    """An alert of ``rule`` for ``user`` whose threshold was crossed at ``at``."""
    ws = window_start or at - start
    ref = EventRef("/var/log/his/access.log:1", "e1", ws)
    last = EventRef("/var/log/his/access.log:130", "e130", at)
    return Alert(
        id=alert_id(rule, {"user.id": user}, ws, "bv-tu-du"), rule_id=rule, rule_title=title,
        severity=severity, group={"user.id": user}, window_start=ws, window_end=at,
        event_count=events,
        explanation=explanation if explanation is not None else
        f"{user} (Trần Văn Bình) opened {distinct or events} distinct patients' records in 55 min",
        first_event=ref, last_event=last, sample=[ref, last], value_count=distinct,
        organization_id="bv-tu-du",
        context=context if context is not None else
        {"user.id": user, "user.name": "Trần Văn Bình", "source.ip": "10.20.3.45",
         "host.name": "WS-SAN-A-03"},
        revision=revision, final=final)


def notify_config(*channels: dict[str, Any], **top: Any) -> NotifyConfig:
    return NotifyConfig.model_validate({"channels": list(channels), **top})


@dataclass
class Recorder:
    """A channel that records every send and answers from a script (then delivered)."""

    script: list[Outcome] = field(default_factory=list)
    sent: list[tuple[Parcel, str, str]] = field(default_factory=list)

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        self.sent.append((parcel, target, idempotency_key))
        return self.script.pop(0) if self.script else Outcome.delivered()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
