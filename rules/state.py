"""What every streaming rule state shares: the adder signature, group keys as text, and
entries and episodes in and out of snapshots.

Windowed correlations (``rules.correlation``), temporal ones (``rules.temporal``), their
chains (``rules.chain``) and the stream extensions (``rules.baseline``, ``rules.enumeration``,
``rules.beacon``) all keep groups of entries and open episodes; this module holds the
pieces they have in common, so that none of them imports another.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from rules.alert import Alert, EventRef
from rules.explain import Entry
from sensors.event import Event

Key = Any  # the group value itself for one group-by field, else a tuple of them


class Episode:
    """An alert in progress: everything its versions report."""

    __slots__ = ("count", "examples", "first", "last", "last_fields", "refs", "sample",
                 "tops", "total", "values")

    def __init__(self, first: Entry, last: Entry, last_fields: dict[str, Any], count: int,
                 values: dict[Any, int] | None, total: float, sample: list[Entry],
                 examples: dict[Any, Entry] | None = None) -> None:
        self.first = first
        self.last = last
        #: The last event's fields (the event's own dict: no copy on the hot path).
        self.last_fields = last_fields
        self.count = count
        self.values = values
        self.total = total
        self.sample = sample
        #: ``value_count``: the first entry of each distinct value (up to ``EXAMPLES``),
        #: so a sentence can name every building, not the first and the last event twice.
        self.examples = examples
        #: ``value_sum`` with a ``{top:FIELD}`` sentence: the sum per value of FIELD, so
        #: the alert names where most of it went, not where the last flow went.
        self.tops: dict[Any, float] | None = None
        #: The references of ``sample`` built so far (``episode_alert``'s cache; ``sample``
        #: only grows at its end). Not in snapshots: rebuilt on the next version.
        self.refs: list[EventRef] = []


#: Distinct values an episode keeps an example entry of.
EXAMPLES = 8
#: Distinct values of a ``top`` field an episode sums (more are not counted apart).
TOPS = 1000


def add_top(tops: dict[Any, float], key: Any, amount: float) -> None:
    if key in tops or len(tops) < TOPS:
        tops[key] = tops.get(key, 0.0) + amount


def examples_of(entries: Iterable[Entry]) -> dict[Any, Entry]:
    """The first entry of each distinct counted value (``Entry[1]``), in time order."""
    out: dict[Any, Entry] = {}
    for e in entries:
        if e[1] not in out:
            out[e[1]] = e
            if len(out) >= EXAMPLES:
                break
    return out


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


def episode_out(ep: Episode, keep: Iterable[str]) -> dict[str, Any]:
    """An open episode as plain JSON, for the snapshot (windowed and temporal rules)."""
    return {
        "first": entry_out(ep.first), "last": entry_out(ep.last),
        "last_fields": {k: v for k in keep if (v := ep.last_fields.get(k)) is not None},
        "count": ep.count, "total": ep.total,
        "values": None if ep.values is None else [[k, n] for k, n in ep.values.items()],
        "sample": [entry_out(e) for e in ep.sample],
        "examples": None if ep.examples is None else [entry_out(e)
                                                      for e in ep.examples.values()],
        "tops": None if ep.tops is None else [[k, v] for k, v in ep.tops.items()],
    }


def episode_in(e: dict[str, Any]) -> Episode:
    """``episode_out`` read back."""
    ep = _episode_in(e)
    if e.get("tops") is not None:
        ep.tops = {k: v for k, v in e["tops"]}
    return ep


def _episode_in(e: dict[str, Any]) -> Episode:
    return Episode(
        entry_in(e["first"]), entry_in(e["last"]), dict(e["last_fields"]), e["count"],
        None if e["values"] is None else {k: n for k, n in e["values"]},
        e.get("total", 0.0), [entry_in(x) for x in e["sample"]],
        None if e.get("examples") is None else {x[1]: entry_in(x) for x in e["examples"]},
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


def entry_out(e: Entry) -> list[Any]:
    """An entry as JSON (tuples become lists)."""
    return [e[0], e[1], e[2], e[3], list(e[4])]


def entry_in(x: list[Any]) -> Entry:
    """``entry_out``'s list read back."""
    return (x[0], x[1], x[2], x[3], tuple(x[4]))
