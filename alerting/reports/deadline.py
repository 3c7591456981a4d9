"""The 72-hour clock of Law 91/2025/QH15 Art. 23: pure functions of times given.

The clock starts when phiwatch first processed an alert of the incident
(``Incident.detected_at``, which never moves) and the deadline is 72 hours later. The
state is a function of a given "now" only, so a replay of last month (event time) and the
live service (wall time) agree, and tests need no sleeping: ok, warn from 48 h, urgent
from 70 h, overdue after 72 h; once a notification is sent, sent or sent_late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from alerting.reports.errors import FactsError, LateWithoutReasonError
from alerting.reports.safe_text import clean

NOTIFY_WITHIN = timedelta(hours=72)
WARN_AFTER = timedelta(hours=48)
URGENT_AFTER = timedelta(hours=70)


class ClockState(StrEnum):
    OK = "ok"
    WARN = "warn"
    URGENT = "urgent"
    OVERDUE = "overdue"
    SENT = "sent"
    SENT_LATE = "sent_late"


@dataclass(frozen=True, slots=True)
class Clock:
    """Where an incident stands against its deadline at ``now``."""

    state: ClockState
    detected_at: datetime
    deadline: datetime
    now: datetime
    #: Time left at ``now`` (negative once overdue); at sending time once sent.
    remaining: timedelta
    sent_at: datetime | None = None


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise FactsError(what, "needs a timezone-aware time")
    return dt


def deadline(detected_at: datetime) -> datetime:
    """Detection of the incident's first alert + 72 hours."""
    return _aware(detected_at, "detected_at") + NOTIFY_WITHIN


def is_late(detected_at: datetime, sent_at: datetime) -> bool:
    return _aware(sent_at, "sent_at") > deadline(detected_at)


def clock(detected_at: datetime, now: datetime, *, sent_at: datetime | None = None) -> Clock:
    """The clock's state at ``now``; a notification sent at ``sent_at`` stops it."""
    due = deadline(detected_at)
    now = _aware(now, "now")
    if sent_at is not None:
        state = ClockState.SENT_LATE if is_late(detected_at, sent_at) else ClockState.SENT
        return Clock(state, detected_at, due, now, due - sent_at, sent_at)
    elapsed = now - detected_at
    if now > due:
        state = ClockState.OVERDUE
    elif elapsed >= URGENT_AFTER:
        state = ClockState.URGENT
    elif elapsed >= WARN_AFTER:
        state = ClockState.WARN
    else:
        state = ClockState.OK
    return Clock(state, detected_at, due, now, due - now)


def delay_reason_for(detected_at: datetime, sent_at: datetime,
                     reason: str | None) -> str | None:
    """The cleaned reason to print when sending at ``sent_at`` is late, None when on time;
    ``LateWithoutReasonError`` when late and no reason was given."""
    if not is_late(detected_at, sent_at):
        return clean(reason) if reason and reason.strip() else None
    if not reason or not reason.strip():
        late_by = sent_at - deadline(detected_at)
        raise LateWithoutReasonError(
            "reason for delay",
            f"the notification is {late_by} past the 72-hour deadline "
            f"({deadline(detected_at).isoformat()}); the law requires a reason")
    return clean(reason)
