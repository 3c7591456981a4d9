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
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from rules.alert import Alert
from rules.explain import Entry, Numbers, episode_alert
from rules.model import CONDITION_OPS, CorrelationRule, DetectionRule
from sensors.event import Event

Key = Any  # the group value itself for one group-by field, else a tuple of them


class Episode:
    """An alert in progress: everything its versions report."""

    __slots__ = ("count", "first", "last", "last_fields", "sample", "total", "values")

    def __init__(self, first: Entry, last: Entry, last_fields: dict[str, Any], count: int,
                 values: dict[Any, int] | None, total: float, sample: list[Entry]) -> None:
        self.first = first
        self.last = last
        #: The last event's fields (the event's own dict: no copy on the hot path).
        self.last_fields = last_fields
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


Adder = Callable[[Event, list[Alert]], None]
#: Hands a referenced correlation's episode (group values, episode) on (``rules.chain``).
Chain = Callable[[tuple[str, ...], "Episode", list[Alert]], None]
_NO_CTX: tuple[Any, ...] = ()


def episode_out(ep: Episode, keep: Iterable[str]) -> dict[str, Any]:
    """An open episode as plain JSON, for the snapshot (windowed and temporal rules)."""
    return {
        "first": entry_out(ep.first), "last": entry_out(ep.last),
        "last_fields": {k: v for k in keep if (v := ep.last_fields.get(k)) is not None},
        "count": ep.count, "total": ep.total,
        "values": None if ep.values is None else [[k, n] for k, n in ep.values.items()],
        "sample": [entry_out(e) for e in ep.sample],
    }


def episode_in(e: dict[str, Any]) -> Episode:
    """``episode_out`` read back."""
    return Episode(
        entry_in(e["first"]), entry_in(e["last"]), dict(e["last_fields"]), e["count"],
        None if e["values"] is None else {k: n for k, n in e["values"]},
        e.get("total", 0.0), [entry_in(x) for x in e["sample"]],
    )


class EpisodeSweep:
    """Closing and evicting groups on the watermark, shared by every windowed state.

    A state keeps ``groups`` in touch order (an ``OrderedDict`` moved to the end on each
    event), each with ``last`` (event time) and ``episode``, and knows how to ``_close``
    an episode and build its ``_alert``.
    """

    groups: OrderedDict[Key, Any]
    timespan: float
    evicted: int
    closed: int

    def _close(self, g: Any, ep: Episode) -> Alert:
        """The final version of a closing episode's alert."""
        self.closed += 1
        return self._alert(g, ep, final=True)

    def _alert(self, g: Any, ep: Episode, *, final: bool) -> Alert:
        raise NotImplementedError

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


class CorrelationState(EpisodeSweep):
    """The windows and episodes of one correlation rule."""

    def __init__(self, rule: CorrelationRule, sample_size: int) -> None:
        self.rule = rule
        self.sample_size = sample_size
        self.timespan = rule.timespan
        self.groups: OrderedDict[Key, Group] = OrderedDict()
        self.evicted = 0
        self.opened = 0
        self.closed = 0
        #: The event counted last, so an event matching two of its base rules counts once.
        self.last_event: Event | None = None
        #: Set when another correlation references this one (``rules.chain``).
        self.chain: Chain | None = None

    # -- streaming ---------------------------------------------------------------------

    def adder(self, base: DetectionRule) -> Adder:
        """The function counting an event matched by ``base``; it appends alerts to ``out``.

        One closure per (correlation, base rule) with everything it needs in local
        variables: this is the engine's hot path.
        """
        rule = self.rule
        names = rule.group_fields[base.id]
        single = names[0] if len(names) == 1 else None
        value_field = rule.value_fields[base.id]
        kind = rule.kind
        is_count, is_values = kind == "event_count", kind == "value_count"
        keep_first = rule.spec.keep_first
        dedupe = len(rule.bases) > 1
        timespan = self.timespan
        sample_size = self.sample_size
        compare, threshold = CONDITION_OPS[rule.op], rule.threshold
        groups = self.groups
        get_group = groups.get
        touch = groups.move_to_end
        deque_ = deque

        def add(event: Event, out: list[Alert]) -> None:
            if dedupe:
                if self.last_event is event:
                    return
                self.last_event = event
            fields = event.fields
            gvalues: tuple[str, ...] | None = None
            if single is not None:
                v = fields.get(single)
                if v is None:
                    return
                key: Key = v if v.__class__ is str else key_text(v)
            else:
                vals = [fields.get(n) for n in names]
                if None in vals:
                    return
                key = gvalues = tuple(map(key_text, vals))
            value: Any = None
            if not is_count:
                raw = fields.get(value_field) if value_field is not None else None
                if raw is None:
                    return
                if is_values:
                    value = raw if raw.__class__ is str else counted(raw)
                else:
                    value = _number(raw)
                if value is None:
                    return
            epoch = event.epoch
            entry: Entry = (epoch, value, event.ref, event.id,
                            tuple(map(fields.get, keep_first)) if keep_first else _NO_CTX)
            g = get_group(key)
            if g is None:
                g = groups[key] = Group(gvalues if gvalues is not None else (key,))
            else:
                touch(key)
                ep = g.episode
                if ep is not None:
                    if epoch <= ep.last[0] + timespan:  # joins the open episode
                        ep.count += 1
                        seen = ep.values
                        if seen is not None:
                            seen[value] = seen.get(value, 0) + 1
                        elif not is_count:
                            ep.total += value
                        if epoch >= ep.last[0]:
                            ep.last = entry
                            ep.last_fields = fields
                            g.last = epoch
                        if len(ep.sample) < sample_size:
                            ep.sample.append(entry)
                        if self.chain is not None:
                            self.chain(g.values, ep, out)
                        return
                    out.append(self._close(g, ep))  # a gap longer than timespan: start anew
                    g = groups[key] = Group(g.values)
            entries = g.entries
            if not entries or epoch >= entries[-1][0]:
                entries.append(entry)
            else:  # out of order (within the lateness): keep the window sorted by time
                i = len(entries)
                while i and entries[i - 1][0] > epoch:
                    i -= 1
                entries.insert(i, entry)
            counts = g.counts
            if is_values:
                counts[value] = counts.get(value, 0) + 1
            elif not is_count:
                g.total += value
            cutoff = entries[-1][0] - timespan
            while entries[0][0] < cutoff:
                old = entries.popleft()
                if is_values:
                    n = counts[old[1]] - 1
                    if n:
                        counts[old[1]] = n
                    else:
                        del counts[old[1]]
                elif not is_count:
                    g.total -= old[1]
            g.last = entries[-1][0]
            figure = len(entries) if is_count else len(counts) if is_values else g.total
            if not compare(figure, threshold):
                return
            ep = g.episode = Episode(
                entries[0], entries[-1], fields, len(entries),
                counts if is_values else None, g.total, list(islice(entries, sample_size)))
            g.entries = deque_()
            g.counts = {}
            self.opened += 1
            out.append(self._alert(g, ep, final=False))
            if self.chain is not None:
                self.chain(g.values, ep, out)

        return add

    def _alert(self, g: Group, ep: Episode, *, final: bool) -> Alert:
        rule = self.rule
        numbers = Numbers(
            kind=rule.kind, op=rule.op, threshold=rule.threshold, timespan=rule.timespan,
            field=rule.field_name, event_count=ep.count,
            value_count=len(ep.values) if ep.values is not None else None,
            value_sum=ep.total if rule.kind == "value_sum" else None,
        )
        group = dict(zip(rule.group_by, g.values, strict=True))
        return episode_alert(rule.spec, numbers, group, ep.first, ep.last, ep.last_fields,
                             ep.sample,
                             revision=ep.count + 1 if final else ep.count, final=final)

    # -- time ----------------------------------------------------------------------------


    # -- snapshot ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        groups: list[dict[str, Any]] = []
        keep = self.rule.spec.keep
        for g in self.groups.values():
            d: dict[str, Any] = {"key": list(g.values), "last": g.last}
            ep = g.episode
            if ep is None:
                d["entries"] = [entry_out(e) for e in g.entries]
                d["total"] = g.total
            else:
                d["episode"] = episode_out(ep, keep)
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
                g.episode = episode_in(gd["episode"])
            else:
                g.entries = deque(entry_in(x) for x in gd["entries"])
                g.total = gd["total"]
                if self.rule.kind == "value_count":
                    for x in g.entries:
                        g.counts[x[1]] = g.counts.get(x[1], 0) + 1
            self.groups[values[0] if single else values] = g


def entry_out(e: Entry) -> list[Any]:
    """An entry as JSON (tuples become lists)."""
    return [e[0], e[1], e[2], e[3], list(e[4])]


def entry_in(x: list[Any]) -> Entry:
    """``entry_out``'s list read back."""
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
