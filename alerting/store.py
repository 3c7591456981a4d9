"""The store interface every backend (embedded SQLite, Elasticsearch) answers the same way.

Writes are upserts by alert id that keep the highest ``revision`` of an alert, so a retry,
a replay, or a re-emission after a crash never duplicates an alert and never replaces a
later version with an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from rules.alert import SEVERITIES, Alert

SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

#: Orders a search can ask for. Each is a list of (key, descending) ending with the id,
#: so that the order is total and a page can continue after its last item (keyset).
AlertSort = Literal["newest", "oldest", "severity"]
ALERT_SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "newest": (("time", True), ("id", False)),
    "oldest": (("time", False), ("id", False)),
    "severity": (("severity", True), ("time", True), ("id", False)),
}
#: A position in an order: the sort values of the last item seen (ints, then the id).
Keyset = tuple[int | str, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(dt: datetime) -> int:
    """Exact microseconds since the epoch (what both stores sort and filter on)."""
    return (dt.astimezone(UTC) - _EPOCH) // _US


def severity_rank(severity: str) -> int:
    """An unknown severity ranks as medium, in every store."""
    return SEVERITY_RANK.get(severity, SEVERITY_RANK["medium"])


def check_keyset(after: Keyset | None, sort: tuple[tuple[str, bool], ...]) -> None:
    """``after`` must have one value per sort key: integers, then the id as a string."""
    if after is None:
        return
    if len(after) != len(sort):
        raise ValueError(f"after needs {len(sort)} values for this sort, not {len(after)}")
    *numbers, last = after
    if not isinstance(last, str) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in numbers):
        raise ValueError("after: integers then an id")


def alert_keyset(alert: Alert, sort: str) -> Keyset:
    """Where ``alert`` stands in ``sort``: the ``after`` that continues past it."""
    values: dict[str, int | str] = {"time": micros(alert.window_start),
                                    "severity": severity_rank(alert.severity),
                                    "id": alert.id}
    return tuple(values[key] for key, _ in ALERT_SORTS[sort])


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
    sort: AlertSort = "newest"
    after: Keyset | None = None

    def __post_init__(self) -> None:
        if self.sort not in ALERT_SORTS:
            raise ValueError(f"sort must be one of {', '.join(ALERT_SORTS)}, not {self.sort!r}")
        check_keyset(self.after, ALERT_SORTS[self.sort])
        if self.after is not None and self.offset:
            raise ValueError("after and offset exclude each other")
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


@dataclass(frozen=True, slots=True)
class AlertDayCount:
    """How many alerts of one rule at one hospital had their window start on one day."""

    day: date
    organization_id: str | None
    rule_id: str
    count: int


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


class AlertBrowser(Protocol):
    """What the API reads beyond ``AlertStore``: alerts by id in bulk, counts for charts."""

    def get_many(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        """The stored alerts among ``alert_ids``, by id (missing ones are absent)."""
        ...

    def day_counts(self, q: AlertQuery, zone: str) -> list[AlertDayCount]:
        """Alerts matching ``q`` (its paging and sort ignored) per local day of their
        window start in the IANA ``zone``, hospital and rule; ordered by those three."""
        ...
