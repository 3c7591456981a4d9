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
from collections.abc import Callable
from itertools import islice
from typing import Any

from rules.alert import Alert
from rules.explain import Entry, Numbers, episode_alert, show, stamp
from rules.limits import DEFAULT_LIMIT, LimitGuard
from rules.model import CONDITION_OPS, CorrelationRule, DetectionRule
from rules.state import (
    EXAMPLES,
    Adder,
    Chain,
    Episode,
    EpisodeSweep,
    Key,
    add_top,
    counted,
    entry_in,
    entry_out,
    episode_in,
    episode_out,
    examples_of,
    key_text,
)
from sensors.event import Event

_NO_CTX: tuple[Any, ...] = ()

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
        self.guard = LimitGuard(rule.id, rule.title, DEFAULT_LIMIT)
        #: Set by the engine when rules over alerts read this rule's alerts: the current
        #: version of an open episode after each event that joins it (never stored).
        self.progress: Callable[[Alert], None] | None = None
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
        one_kept = keep_first[0] if len(keep_first) == 1 else None  # no map() for one field
        dedupe = len(rule.bases) > 1
        timespan = self.timespan
        sample_size = self.sample_size
        compare, threshold = CONDITION_OPS[rule.op], rule.threshold
        groups = self.groups
        top = rule.spec.top if kind == "value_sum" else None
        top_at = keep_first.index(top) if top is not None else -1
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
                            (fields.get(one_kept),) if one_kept is not None
                            else tuple(map(fields.get, keep_first)) if keep_first else _NO_CTX)
            g = get_group(key)
            if g is None:
                if len(groups) >= self.guard.limit:
                    self._make_room(event, out)
                g = groups[key] = Group(gvalues if gvalues is not None else (key,))
            else:
                touch(key)
                ep = g.episode
                if ep is not None:
                    if epoch <= ep.last[0] + timespan:  # joins the open episode
                        ep.count += 1
                        seen = ep.values
                        if seen is not None:
                            if value not in seen and ep.examples is not None \
                                    and len(ep.examples) < EXAMPLES:
                                ep.examples[value] = entry
                            seen[value] = seen.get(value, 0) + 1
                        elif not is_count:
                            ep.total += value
                            if ep.tops is not None:
                                add_top(ep.tops, entry[4][top_at], value)
                        if epoch >= ep.last[0]:
                            ep.last = entry
                            ep.last_fields = fields
                            g.last = epoch
                        if len(ep.sample) < sample_size:
                            ep.sample.append(entry)
                        if self.chain is not None:
                            self.chain(g.values, ep, out)
                        if self.progress is not None:
                            self.progress(self._alert(g, ep, final=False))
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
                counts if is_values else None, g.total, list(islice(entries, sample_size)),
                examples_of(entries) if is_values else None)
            if top_at >= 0:
                ep.tops = {}
                for e in entries:
                    add_top(ep.tops, e[4][top_at], e[1])
            g.entries = deque_()
            g.counts = {}
            self.opened += 1
            out.append(self._alert(g, ep, final=False))
            if self.chain is not None:
                self.chain(g.values, ep, out)

        return add

    def _make_room(self, event: Event, out: list[Alert]) -> None:
        def evict(key: Key, g: Group) -> None:
            if g.episode is not None:
                out.append(self._close(g, g.episode))
            else:
                self.evicted += 1

        self.guard.make_room(self.groups, lambda g: len(g.entries),
                             lambda g: g.episode is not None, evict, event.epoch,
                             event.fields.get("organization.id"), out)

    def _alert(self, g: Group, ep: Episode, *, final: bool) -> Alert:
        rule = self.rule
        numbers = Numbers(
            kind=rule.kind, op=rule.op, threshold=rule.threshold, timespan=rule.timespan,
            field=rule.field_name, event_count=ep.count,
            value_count=len(ep.values) if ep.values is not None else None,
            value_sum=ep.total if rule.kind == "value_sum" else None,
            examples=list(ep.examples.items()) if ep.examples else (),
            tops=ep.tops or {},
        )
        group = dict(zip(rule.group_by, g.values, strict=True))
        return episode_alert(rule.spec, numbers, group, ep.first, ep.last, ep.last_fields,
                             ep.sample, revision=ep.count + 1 if final else ep.count,
                             final=final, refs=ep.refs)

    # -- time ----------------------------------------------------------------------------


    # -- snapshot ------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """One line per group: its open episode or its window, for ``phiwatch rules test``."""
        rule = self.rule
        lines: list[str] = []
        for g in self.groups.values():
            who = ", ".join(f"{n}={v}" for n, v in zip(rule.group_by, g.values,
                                                         strict=False)) or "all"
            ep = g.episode
            if ep is not None:
                lines.append(f"{who}: episode open since {stamp(ep.first[0])} with "
                             f"{ep.count} event(s)")
                continue
            figure = (len(g.entries) if rule.kind == "event_count"
                      else len(g.counts) if rule.kind == "value_count" else g.total)
            lines.append(f"{who}: {len(g.entries)} event(s) in the window, figure "
                         f"{show(float(figure))} (needs {rule.op} {show(rule.threshold)})")
        return lines

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


def _number(v: Any) -> float | None:
    if v.__class__ in (int, float):
        return float(v)
    if v.__class__ is str:
        try:
            return float(v)
        except ValueError:
            return None
    return None
