"""Bounded rule state: how many groups one rule may track, which go first, and the alert
that says a limit was reached.

An attacker controls the values rules group by: 300,000 failed logins with random user
names create 300,000 groups in every rule keyed by ``user.id``. Unbounded, that took
1.1–1.6 GB and a snapshot rewritten at 94 MB. Each state therefore has a ``LimitGuard``:
when a new group would pass the limit, a group is evicted first, chosen to lose the least
— among the least recently touched, the one with the fewest events and no open episode
(a flood's one-event groups go before a real user's window; an open episode is closed
with its final alert rather than dropped). Reaching a limit is itself suspicious, so the
guard raises one alert per rule per hour while it evicts. The engine also keeps a total
over all rules and lowers the limits of the largest states when the total is passed.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from rules.alert import Alert, EventRef, alert_id

#: Groups one rule tracks at most, unless the configuration says otherwise
#: (``rules.max_groups_per_rule``): far above a hospital's staff or workstations.
DEFAULT_LIMIT = 50_000
#: Groups all rules together track at most (``rules.max_groups_total``).
DEFAULT_TOTAL = 400_000
#: Groups looked at, least recently touched first, when one must make room.
EVICTION_SCAN = 64
#: A guard raises at most one limit alert per rule in this much event time.
ALERT_EVERY = 3600.0
LIMIT_RULE_ID = "phiwatch-engine-state-limit"
LIMIT_TITLE = "A rule reached its limit of tracked groups"


class LimitGuard:
    """The group limit of one rule's state, and the alerts it raises when it evicts."""

    __slots__ = ("_alerted", "evictions", "limit", "rule_id", "rule_title")

    def __init__(self, rule_id: str, rule_title: str, limit: int) -> None:
        self.rule_id = rule_id
        self.rule_title = rule_title
        self.limit = limit
        self.evictions = 0
        self._alerted = float("-inf")

    def make_room(self, groups: MutableMapping[Any, Any], weight: Callable[[Any], int],
                  busy: Callable[[Any], bool], evict: Callable[[Any, Any], None],
                  epoch: float, org: Any, out: list[Alert]) -> None:
        """Evict until a new group fits (at most two per call: a lowered limit is reached
        gradually); ``evict(key, group)`` closes or drops the chosen group."""
        for _ in range(2):
            if len(groups) < self.limit:
                return
            key, group = choose(groups, weight, busy)
            del groups[key]
            evict(key, group)
            self.evictions += 1
            if epoch - self._alerted >= ALERT_EVERY:
                self._alerted = epoch
                out.append(self.alert(epoch, len(groups) + 1, org))

    def alert(self, epoch: float, tracked: int, org: Any) -> Alert:
        """The alert that says this rule is evicting groups, and why that matters."""
        when = datetime.fromtimestamp(epoch, UTC)
        bucket = datetime.fromtimestamp(epoch - epoch % ALERT_EVERY, UTC)
        organization = org if isinstance(org, str) else None
        group = {"rule.id": self.rule_id}
        ref = EventRef("", "", when)
        return Alert(
            id=alert_id(LIMIT_RULE_ID, group, bucket, organization), rule_id=LIMIT_RULE_ID,
            rule_title=LIMIT_TITLE, severity="high", group=group, window_start=when,
            window_end=when, event_count=self.evictions,
            explanation=(f"rule {self.rule_id!r} ({self.rule_title}) tracks {tracked:,} "
                         f"groups, its limit of {self.limit:,}, and has evicted "
                         f"{self.evictions:,} so far: a flood of distinct values (user "
                         "names, addresses) is reaching it, which is an attack in itself "
                         "or a hospital bigger than the limit; the least active groups "
                         "are dropped first"),
            first_event=ref, last_event=ref, sample=[], organization_id=organization,
            tags=["phiwatch.engine"], context={"rule.id": self.rule_id},
            metrics={"tracked": float(tracked), "limit": float(self.limit),
                     "evictions": float(self.evictions)},
            revision=self.evictions, final=False,
        )


def choose(groups: MutableMapping[Any, Any], weight: Callable[[Any], int],
           busy: Callable[[Any], bool]) -> tuple[Any, Any]:
    """Among the ``EVICTION_SCAN`` first groups (the least recently touched, for an
    ``OrderedDict`` kept in touch order), the lightest that is not busy; else the first."""
    best: tuple[Any, Any] | None = None
    best_weight = 0
    first: tuple[Any, Any] | None = None
    for n, (key, group) in enumerate(groups.items()):
        if n >= EVICTION_SCAN:
            break
        if first is None:
            first = (key, group)
        if busy(group):
            continue
        w = weight(group)
        if best is None or w < best_weight:
            best, best_weight = (key, group), w
            if w <= 1:
                break
    chosen = best or first
    assert chosen is not None
    return chosen
