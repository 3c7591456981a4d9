"""Sigma ``temporal`` and ``temporal_ordered`` correlations, evaluated as events stream.

"Failed logins, then a success on the same account within 10 minutes" is a sequence, not a
count. Per group, the window keeps the recent matches of each base rule (the last
``timespan`` of event time behind the group's newest event). ``temporal`` holds when the
base rules seen in the window satisfy the condition (by default: all of them; a count
condition counts distinct rules; an extended condition is a boolean expression over rule
names, where ``not`` means "not seen in the window"). ``temporal_ordered`` holds when the
window holds one match of each base rule in the order the rule lists them.

Episodes work as in ``rules.correlation`` — the same ids (rule, group, oldest event of the
window), revisions and closing — so stores, incidents and restarts treat both alike; only
the condition differs. Which events form an episode depends only on the event order, not
on when sweeps run.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from rules.alert import Alert
from rules.alert_events import ALERT_DATASET
from rules.explain import Entry, Numbers, episode_alert, stamp
from rules.limits import DEFAULT_LIMIT, LimitGuard
from rules.model import CorrelationRule, DetectionRule
from rules.state import (
    Adder,
    Chain,
    Episode,
    EpisodeSweep,
    Key,
    entry_in,
    entry_out,
    episode_in,
    episode_out,
    key_text,
)
from sensors.event import Event

_NO_CTX: tuple[Any, ...] = ()


class TemporalGroup:
    """One group's recent matches per base rule (while no episode is open), or its episode."""

    __slots__ = ("episode", "last", "merged", "per_base", "values")

    def __init__(self, values: tuple[str, ...], n_bases: int) -> None:
        self.values = values
        self.per_base: list[deque[Entry]] = [deque() for _ in range(n_bases)]
        self.last = float("-inf")
        self.episode: Episode | None = None
        #: Over correlations (``rules.chain``): the fields of every alert event seen, the
        #: newest winning, so the alert names the user of one step and the bytes of another.
        self.merged: dict[str, Any] = {}


def ordered_chain(per_base: list[deque[Entry]], min_counts: tuple[int, ...] = ()
                  ) -> Entry | None:
    """The first entry of a chain with, per base in order, one entry (or ``min_counts``
    of them) at times non-decreasing; or ``None``. Greedy: the earliest next step after
    each step is never a worse choice."""
    for k, entries in enumerate(per_base):  # cheap first: a step with too few matches
        if len(entries) < (min_counts[k] if min_counts else 1):
            return None
    t = float("-inf")
    first: Entry | None = None
    for k, entries in enumerate(per_base):
        need = min_counts[k] if min_counts else 1
        # Entries are sorted by time: the common case needs no search, the rest a bisect
        # (never a copy of the window: a sustained brute force made that quadratic).
        i = 0 if entries[0][0] >= t else bisect_left(entries, t, key=_time)
        if len(entries) - i < need:
            return None
        t = entries[i + need - 1][0]
        if first is None:
            first = entries[i]
    return first


def _time(entry: Entry) -> float:
    return entry[0]


class TemporalState(EpisodeSweep):
    """The windows and episodes of one ``temporal``/``temporal_ordered`` rule."""

    def __init__(self, rule: CorrelationRule, sample_size: int) -> None:
        assert rule.presence is not None or rule.kind == "temporal_ordered"
        self.rule = rule
        self.sample_size = sample_size
        self.timespan = rule.timespan
        self.groups: OrderedDict[Key, TemporalGroup] = OrderedDict()
        self.guard = LimitGuard(rule.id, rule.title, DEFAULT_LIMIT)
        self.progress: Callable[[Alert], None] | None = None
        self.evicted = 0
        self.opened = 0
        self.closed = 0
        self.names = tuple(b.id for b in rule.bases)
        #: The event counted last in an episode, so one matching two base rules counts once.
        self.last_event: Event | None = None
        #: Set when another correlation references this one (``rules.chain``).
        self.chain: Chain | None = None

    def adder(self, base: DetectionRule) -> Adder:
        """The function recording an event matched by ``base`` (see ``CorrelationState``)."""
        rule = self.rule
        index = self.names.index(base.id)
        names = rule.group_fields[base.id]
        n_bases = len(rule.bases)
        keep_first = rule.spec.keep_first
        timespan = self.timespan
        sample_size = self.sample_size
        ordered = rule.kind == "temporal_ordered"
        min_counts = rule.min_counts
        presence = rule.presence
        groups = self.groups
        #: ``base`` stands in for a correlation, or reads alert events: a later version of
        #: an alert updates the one episode it belongs to rather than counting again.
        chained = base.source is not None or ALERT_DATASET in base.datasets

        def add(event: Event, out: list[Alert]) -> None:
            fields = event.fields
            vals = [fields.get(n) for n in names]
            if None in vals:
                return
            gvalues = tuple(map(key_text, vals))
            key: Key = gvalues[0] if len(gvalues) == 1 else gvalues
            epoch = event.epoch
            entry: Entry = (epoch, index, event.ref, event.id,
                            tuple(map(fields.get, keep_first)) if keep_first else _NO_CTX)
            g = groups.get(key)
            if g is None:
                if len(groups) >= self.guard.limit:
                    self._make_room(event, out)
                g = groups[key] = TemporalGroup(gvalues, n_bases)
            else:
                groups.move_to_end(key)
                ep = g.episode
                if ep is not None:
                    if epoch <= ep.last[0] + timespan:  # joins the open episode
                        assert ep.values is not None
                        ep.values[index] = ep.values.get(index, 0) + 1
                        if self.last_event is event:  # also matched another base rule
                            return
                        self.last_event = event
                        ep.count += 1
                        if chained:  # keep every step's numbers for the sentence
                            ep.last_fields = {**ep.last_fields, **fields}
                        if epoch >= ep.last[0]:
                            ep.last, g.last = entry, epoch
                            if not chained:
                                ep.last_fields = fields
                        if len(ep.sample) < sample_size:
                            ep.sample.append(entry)
                        if self.chain is not None:
                            self.chain(g.values, ep, out)
                        if self.progress is not None:
                            self.progress(self._alert(g, ep, final=False))
                        return
                    out.append(self._close(g, ep))
                    g = groups[key] = TemporalGroup(g.values, n_bases)
            mine = g.per_base[index]
            if chained:  # a newer alert event of the same episode replaces the older one
                for old in [e for e in mine if e[3] == entry[3]]:
                    mine.remove(old)
                g.merged.update(fields)
            i = len(mine)
            while i and mine[i - 1][0] > epoch:
                i -= 1
            mine.insert(i, entry)
            newest = max(g.last, epoch)
            g.last = newest
            cutoff = newest - timespan
            for dq in g.per_base:
                while dq and dq[0][0] < cutoff:
                    dq.popleft()
            if ordered:
                if ordered_chain(g.per_base, min_counts) is None:
                    return
            else:
                assert presence is not None
                if not presence(frozenset(j for j, dq in enumerate(g.per_base) if dq)):
                    return
            window = sorted((e for dq in g.per_base for e in dq), key=lambda e: e[0])
            if n_bases > 1:  # an event matching two base rules is one event
                once: dict[tuple[str, str] | int, Entry] = {}
                for n, e in enumerate(window):
                    once.setdefault((e[2], e[3]) if e[2] or e[3] else n, e)
                window = list(once.values())
            counts: dict[Any, int] = {j: len(dq) for j, dq in enumerate(g.per_base) if dq}
            last_entry = window[-1] if window[-1][0] >= epoch else entry
            ep = g.episode = Episode(window[0], last_entry, g.merged if chained else fields,
                                     len(window), counts, 0.0,
                                     list(islice(window, sample_size)))
            g.per_base = [deque() for _ in range(n_bases)]
            self.opened += 1
            out.append(self._alert(g, ep, final=False))
            if self.chain is not None:
                self.chain(g.values, ep, out)

        return add

    def _make_room(self, event: Event, out: list[Alert]) -> None:
        def evict(key: Key, g: TemporalGroup) -> None:
            if g.episode is not None:
                out.append(self._close(g, g.episode))
            else:
                self.evicted += 1

        self.guard.make_room(self.groups, lambda g: sum(map(len, g.per_base)),
                             lambda g: g.episode is not None, evict, event.epoch,
                             event.fields.get("organization.id"), out)

    def _alert(self, g: TemporalGroup, ep: Episode, *, final: bool) -> Alert:
        rule = self.rule
        seen = ep.values or {}
        matched = [self.names[i] for i in sorted(seen)]
        numbers = Numbers(
            kind=rule.kind, op=rule.op, threshold=rule.threshold, timespan=rule.timespan,
            field=rule.field_name, event_count=ep.count, value_count=len(matched),
            value_sum=None, extra={"rules": ", ".join(matched)},
        )
        group = dict(zip(rule.group_by, g.values, strict=True))
        return episode_alert(rule.spec, numbers, group, ep.first, ep.last, ep.last_fields,
                             ep.sample, revision=ep.count + 1 if final else ep.count,
                             final=final, refs=ep.refs)

    # -- time ----------------------------------------------------------------------------


    # -- snapshot ------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """One line per group: its open episode or the rules seen, for ``rules test``."""
        lines: list[str] = []
        for g in self.groups.values():
            who = ", ".join(f"{n}={v}" for n, v in zip(self.rule.group_by, g.values,
                                                         strict=False)) or "all"
            ep = g.episode
            if ep is not None:
                lines.append(f"{who}: episode open since {stamp(ep.first[0])} with "
                             f"{ep.count} event(s)")
                continue
            seen = [f"{self.names[i]} x{len(dq)}" for i, dq in enumerate(g.per_base) if dq]
            lines.append(f"{who}: seen {', '.join(seen) or 'nothing'} in the window")
        return lines

    def snapshot(self) -> dict[str, Any]:
        keep = self.rule.spec.keep
        groups: list[dict[str, Any]] = []
        for g in self.groups.values():
            d: dict[str, Any] = {"key": list(g.values), "last": g.last}
            ep = g.episode
            if ep is None:
                d["per_base"] = [[entry_out(e) for e in dq] for dq in g.per_base]
                if g.merged:
                    d["merged"] = {k: v for k in keep if (v := g.merged.get(k)) is not None}
            else:
                d["episode"] = episode_out(ep, keep)
            groups.append(d)
        return {"groups": groups, "evicted": self.evicted, "opened": self.opened,
                "closed": self.closed}

    def restore(self, d: dict[str, Any]) -> None:
        self.groups.clear()
        self.evicted, self.opened, self.closed = d["evicted"], d["opened"], d["closed"]
        n = len(self.rule.bases)
        for gd in d["groups"]:
            values = tuple(gd["key"])
            g = TemporalGroup(values, n)
            g.last = gd["last"]
            if "episode" in gd:
                g.episode = episode_in(gd["episode"])
            else:
                g.per_base = [deque(entry_in(x) for x in dq) for dq in gd["per_base"]][:n]
                g.per_base += [deque() for _ in range(n - len(g.per_base))]
                g.merged = dict(gd.get("merged", {}))
            self.groups[values[0] if len(values) == 1 else values] = g
