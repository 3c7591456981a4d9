"""Noise control: ``phiwatch.realert``, like ElastAlert's ``realert``.

Once a rule has alerted for a group (a user, for most rules), new alerts of that rule for
that group within the realert period are suppressed: counted, not emitted. The IT team
already knows about this user; a second alert an hour later adds work, not news. What is
suppressed is a whole *episode*: its early version, its final version and any re-emission
at a flush, so a store never holds half of a suppressed alert. Versions of an episode
that was emitted always pass.

Time is event time: a new alert is suppressed when its ``window_end`` (the event that made
it fire) is less than ``realert`` after the ``window_end`` of the last alert emitted for
the group. Decisions depend only on the alerts, which depend only on the events, so a
replay and a restored run suppress the same alerts.

The group of a correlation's alert is its group-by values; a plain rule's alert is one
event, so it is grouped by the ``realert_by`` fields (``user.id`` by default) of its
context. An alert without those fields is never suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rules.alert import Alert

GroupKey = tuple[str, ...]


class Memory:
    """One group of one rule: when it last alerted, and its episodes still open."""

    __slots__ = ("last", "open")

    def __init__(self, last: float) -> None:
        self.last = last
        #: Alert id of an open episode → whether it was emitted (else suppressed).
        self.open: dict[str, bool] = {}


class RuleSuppression:
    """The realert state of one rule."""

    def __init__(self, realert: float, by: Sequence[str] | None) -> None:
        """``by`` is ``None`` for correlations (group by the alert's group)."""
        self.realert = realert
        self.by = tuple(by) if by is not None else None
        self.groups: dict[GroupKey, Memory] = {}
        self.suppressed = 0
        self._due = float("-inf")

    def key(self, alert: Alert) -> GroupKey | None:
        if self.by is None:
            return tuple(f"{k}={v}" for k, v in sorted(alert.group.items()))
        vals = [alert.context.get(f) for f in self.by]
        if any(v is None for v in vals):
            return None
        return tuple(map(str, vals))

    def admit(self, alert: Alert) -> bool:
        """Whether ``alert`` is emitted; updates the state either way."""
        key = self.key(alert)
        if key is None:
            return True
        at = alert.window_end.timestamp()
        mem = self.groups.get(key)
        if mem is not None:
            known = mem.open.get(alert.id)
            if known is not None:  # a later version of an episode already decided
                if alert.final:
                    del mem.open[alert.id]
                return known
            if at - mem.last < self.realert:
                self.suppressed += 1
                if not alert.final:
                    mem.open[alert.id] = False
                return False
            mem.last = at
        else:
            mem = self.groups[key] = Memory(at)
        if not alert.final:
            mem.open[alert.id] = True
        return True

    def sweep(self, watermark: float) -> None:
        """Forget groups that can suppress nothing more (memory only: a new alert fires at
        or after the watermark, so a group older than ``realert`` before it suppresses
        nothing). Runs every quarter of ``realert`` of event time at most."""
        if watermark < self._due:
            return
        self._due = watermark + max(self.realert / 4, 1.0)
        cutoff = watermark - self.realert
        for key in [k for k, m in self.groups.items() if m.last < cutoff and not m.open]:
            del self.groups[key]

    def snapshot(self) -> dict[str, Any]:
        return {"suppressed": self.suppressed,
                "groups": [[list(k), m.last, [[i, e] for i, e in m.open.items()]]
                           for k, m in self.groups.items()]}

    def restore(self, d: Mapping[str, Any]) -> None:
        self.suppressed = int(d["suppressed"])
        self.groups.clear()
        for key, last, open_ in d["groups"]:
            mem = self.groups[tuple(key)] = Memory(float(last))
            mem.open = {i: bool(e) for i, e in open_}


class Suppressor:
    """Realert for every rule that asks for it; the others pass untouched."""

    def __init__(self, rules: Mapping[str, RuleSuppression]) -> None:
        self.rules = dict(rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def filter(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts to emit, in order."""
        rules = self.rules
        return [a for a in alerts if (r := rules.get(a.rule_id)) is None or r.admit(a)]

    def sweep(self, watermark: float) -> None:
        for r in self.rules.values():
            r.sweep(watermark)

    @property
    def suppressed(self) -> int:
        return sum(r.suppressed for r in self.rules.values())

    def snapshot(self) -> dict[str, Any]:
        return {rid: r.snapshot() for rid, r in self.rules.items()}

    def restore(self, d: Mapping[str, Any]) -> None:
        for rid, r in self.rules.items():
            if rid in d:
                r.restore(d[rid])
            else:
                r.groups.clear()
