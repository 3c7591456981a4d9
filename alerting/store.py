"""The store interface every backend (embedded SQLite, Elasticsearch) answers the same way.

Writes are upserts by alert id that keep the highest ``revision`` of an alert, so a retry,
a replay, or a re-emission after a crash never duplicates an alert and never replaces a
later version with an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rules.alert import SEVERITIES, Alert

SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """A search over alerts. Every filter is optional; results are newest first.

    ``start``/``end`` select alerts whose window overlaps ``[start, end)``.
    ``min_severity`` keeps that severity and above. ``text`` is a case-insensitive
    substring of the explanation (plain text, never a query language). Paging is by
    ``offset`` over a stable order: window start descending, then id.
    """

    start: datetime | None = None
    end: datetime | None = None
    organization_id: str | None = None
    rule_id: str | None = None
    user_id: str | None = None
    severity: str | None = None
    min_severity: str | None = None
    text: str | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        for name in ("severity", "min_severity"):
            value = getattr(self, name)
            if value is not None and value not in SEVERITY_RANK:
                raise ValueError(f"{name} must be one of {', '.join(SEVERITIES)}, not {value!r}")
        if not 0 < self.limit <= 10_000:
            raise ValueError("limit must be between 1 and 10000")
        if self.offset < 0:
            raise ValueError("offset must not be negative")


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: new alerts, newer revisions of known ones, and no-ops.

    A store with a server behind it may also have queued alerts on local disk to send
    later (``spooled``) or set aside alerts the server refused for good (``rejected``,
    kept in a dead-letter file); the embedded store leaves both at zero.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    spooled: int = 0
    rejected: int = 0


def alert_user(alert: Alert) -> str | None:
    """The user an alert is about: its group's ``user.id``, else its context's."""
    value = alert.group.get("user.id") or alert.context.get("user.id")
    return str(value) if value else None


class AlertStore(Protocol):
    """What the pipeline writes to and the API and the command line read from."""

    def write(self, alerts: Sequence[Alert]) -> WriteResult: ...

    def get(self, alert_id: str) -> Alert | None: ...

    def query(self, q: AlertQuery) -> list[Alert]: ...

    def count(self, q: AlertQuery) -> int: ...

    def flush(self) -> bool:
        """Deliver what is queued (a server store's spool); ``True`` when nothing waits."""
        ...

    def close(self) -> None: ...
