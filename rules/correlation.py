"""One Sigma correlation evaluated as events stream: sliding windows and alert episodes.

Per group (the values of the ``group-by`` fields) a window holds the matching events of the
last ``timespan`` of event time, sorted by time. When the condition first holds, an episode
opens and its alert is emitted at once (``final=False``): the IT team hears of a harvest
while it is going on. Later events of the group join the episode silently. The episode
closes when the watermark passes its last event + ``timespan`` (nothing more can join it),
or when an event of the group arrives more than ``timespan`` after its last one; the alert
is then emitted again, same id, with the full numbers and ``final=True``, and the group
starts afresh. Which events belong to which episode depends only on the order of events,
never on when sweeps run, so a replay, a live run and a run restored from a snapshot give
the same alerts.

Revisions: a version emitted while the episode is open carries the number of its events;
the final version carries that number + 1, so a store that keeps the highest revision
always ends with the final one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from itertools import islice
from typing import Any

from rules.alert import Alert
from rules.explain import Entry, Numbers, episode_alert
from rules.model import CorrelationRule, DetectionRule
from sensors.event import Event

Key = Any  # the group value itself for one group-by field, else a tuple of them


class Episode:
    """An alert in progress: everything its versions report."""

    __slots__ = ("count", "first", "last", "sample", "total", "values")

    def __init__(self, first: Entry, last: Entry, count: int, values: dict[Any, int] | None,
                 total: float, sample: list[Entry]) -> None:
        self.first = first
        self.last = last
        self.count = count
        self.values = values
        self.total = total
        self.sample = sample


class Group:
    """One group's window (while no episode is open) or its open episode."""

    __slots__ = ("counts", "entries", "episode", "last", "total", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.entries: deque[Entry] = deque()
        self.counts: dict[Any, int] = {}
        self.total = 0.0
        self.last = float("-inf")
        self.episode: Episode | None = None


def key_text(v: Any) -> str:
    """A group-by value as text (alert groups are text; lists are joined)."""
    if v.__class__ is str:
        return v
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def counted(v: Any) -> Any:
    """A counted value as a hashable JSON scalar (a list becomes its joined text)."""
    if v.__class__ in (str, int, float, bool):
        return v
    return key_text(v)


class CorrelationState:
    """The windows and episodes of one correlation rule."""

    def __init__(self, rule: CorrelationRule, sample_size: int) -> None:
        self.rule = rule
        self.sample_size = sample_size
        self.timespan = rule.timespan
        self.keep = rule.spec.keep
        self.groups: OrderedDict[Key, Group] = OrderedDict()
        self.evicted = 0
        self.opened = 0
        self.closed = 0
        #: Last event sequence number seen, so an event matching two base rules counts once.
        self.stamp = -1

    # -- streaming ---------------------------------------------------------------------

    def add(self, base: DetectionRule, event: Event, out: list[Alert]) -> None:
        """Count ``event`` (matched by ``base``) in its group; append any alert to ``out``."""
        rule = self.rule
        fields = event.fields
        names = rule.group_fields[base.id]
        if len(names) == 1:
            v = fields.get(names[0])
            if v is None:
                return
            key: Key = v if v.__class__ is str else key_text(v)
            gvalues: tuple[str, ...] | None = None
        else:
            vals = [fields.get(n) for n in names]
            if None in vals:
                return
            gvalues = tuple(map(key_text, vals))
            key = gvalues
        value: Any = None
        kind = rule.kind
        if kind != "event_count":
            vf = rule.value_fields[base.id]
            raw = fields.get(vf) if vf is not None else None
            if raw is None:
                return
            if kind == "value_count":
                value = counted(raw)
            else:
                value = _number(raw)
                if value is None:
                    return
        epoch = event.epoch
        entry: Entry = (epoch, value, event.ref, event.id, tuple(map(fields.get, self.keep)))
        groups = self.groups
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(gvalues if gvalues is not None else (key,))
        else:
            groups.move_to_end(key)
            ep = g.episode
            if ep is not None:
                if epoch <= ep.last[0] + self.timespan:
                    self._extend(g, ep, entry)
                    return
                out.append(self._close(g, ep))  # a gap longer than timespan: a new window
                g = groups[key] = Group(g.values)
        self._window(g, entry, out)

    def _extend(self, g: Group, ep: Episode, entry: Entry) -> None:
        ep.count += 1
        if ep.values is not None:
            ep.values[entry[1]] = ep.values.get(entry[1], 0) + 1
        elif self.rule.kind == "value_sum":
            ep.total += entry[1]
        if entry[0] >= ep.last[0]:
            ep.last = entry
            g.last = entry[0]
        if len(ep.sample) < self.sample_size:
            ep.sample.append(entry)

    def _window(self, g: Group, entry: Entry, out: list[Alert]) -> None:
        entries = g.entries
        epoch = entry[0]
        if not entries or epoch >= entries[-1][0]:
            entries.append(entry)
        else:  # out of order (within the lateness): keep the window sorted by time
            i = len(entries)
            while i and entries[i - 1][0] > epoch:
                i -= 1
            entries.insert(i, entry)
        kind = self.rule.kind
        counts = g.counts
        if kind == "value_count":
            counts[entry[1]] = counts.get(entry[1], 0) + 1
        elif kind == "value_sum":
            g.total += entry[1]
        cutoff = entries[-1][0] - self.timespan
        while entries[0][0] < cutoff:
            old = entries.popleft()
            if kind == "value_count":
                n = counts[old[1]] - 1
                if n:
                    counts[old[1]] = n
                else:
                    del counts[old[1]]
            elif kind == "value_sum":
                g.total -= old[1]
        g.last = entries[-1][0]
        figure = len(entries) if kind == "event_count" else (
            len(counts) if kind == "value_count" else g.total)
        if not entries or not self.rule.holds(figure):
            return
        ep = Episode(entries[0], entries[-1], len(entries),
                     counts if kind == "value_count" else None, g.total,
                     list(islice(entries, self.sample_size)))
        g.episode = ep
        g.entries = deque()
        g.counts = {}
        self.opened += 1
        out.append(self._alert(g, ep, final=False))

    def _close(self, g: Group, ep: Episode) -> Alert:
        self.closed += 1
        return self._alert(g, ep, final=True)

    def _alert(self, g: Group, ep: Episode, *, final: bool) -> Alert:
        rule = self.rule
        numbers = Numbers(
            kind=rule.kind, op=rule.op, threshold=rule.threshold, timespan=rule.timespan,
            field=rule.field_name, event_count=ep.count,
            value_count=len(ep.values) if ep.values is not None else None,
            value_sum=ep.total if rule.kind == "value_sum" else None,
        )
        group = dict(zip(rule.group_by, g.values, strict=True))
        return episode_alert(rule.spec, numbers, group, ep.first, ep.last, ep.sample,
                             revision=ep.count + 1 if final else ep.count, final=final)

    # -- time ----------------------------------------------------------------------------

    def due(self) -> float:
        """When the oldest-touched group may expire (a sweep before then finds nothing)."""
        for g in self.groups.values():
            return g.last + self.timespan
        return float("inf")

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        """Close the episodes and drop the windows that nothing can join any more.

        A quick sweep stops at the first live group in touch order (bounded work per call);
        a ``full`` one looks at every group (before a flush).
        """
        timespan = self.timespan
        groups = self.groups
        dead: list[Key] = []
        for key, g in groups.items():
            if g.last + timespan < watermark:
                dead.append(key)
            elif not full:
                break
        for key in dead:
            g = groups.pop(key)
            if g.episode is not None:
                out.append(self._close(g, g.episode))
            else:
                self.evicted += 1

    def open_alerts(self) -> list[Alert]:
        """The current version of every open episode, which stays open."""
        return [self._alert(g, g.episode, final=False)
                for g in self.groups.values() if g.episode is not None]

    # -- snapshot ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        groups: list[dict[str, Any]] = []
        for g in self.groups.values():
            d: dict[str, Any] = {"key": list(g.values), "last": g.last}
            ep = g.episode
            if ep is None:
                d["entries"] = [_entry_out(e) for e in g.entries]
                d["total"] = g.total
            else:
                d["episode"] = {
                    "first": _entry_out(ep.first), "last": _entry_out(ep.last),
                    "count": ep.count, "total": ep.total,
                    "values": None if ep.values is None else [[k, n] for k, n in ep.values.items()],
                    "sample": [_entry_out(e) for e in ep.sample],
                }
            groups.append(d)
        return {"groups": groups, "evicted": self.evicted, "opened": self.opened,
                "closed": self.closed}

    def restore(self, d: dict[str, Any]) -> None:
        self.groups.clear()
        self.evicted, self.opened, self.closed = d["evicted"], d["opened"], d["closed"]
        single = len(self.rule.group_by) == 1
        for gd in d["groups"]:
            values = tuple(gd["key"])
            g = Group(values)
            g.last = gd["last"]
            if "episode" in gd:
                e = gd["episode"]
                g.episode = Episode(
                    _entry_in(e["first"]), _entry_in(e["last"]), e["count"],
                    None if e["values"] is None else {k: n for k, n in e["values"]},
                    e["total"], [_entry_in(x) for x in e["sample"]],
                )
            else:
                g.entries = deque(_entry_in(x) for x in gd["entries"])
                g.total = gd["total"]
                if self.rule.kind == "value_count":
                    for x in g.entries:
                        g.counts[x[1]] = g.counts.get(x[1], 0) + 1
            self.groups[values[0] if single else values] = g


def _entry_out(e: Entry) -> list[Any]:
    return [e[0], e[1], e[2], e[3], list(e[4])]


def _entry_in(x: list[Any]) -> Entry:
    return (x[0], x[1], x[2], x[3], tuple(x[4]))


def _number(v: Any) -> float | None:
    if v.__class__ in (int, float):
        return float(v)
    if v.__class__ is str:
        try:
            return float(v)
        except ValueError:
            return None
    return None
