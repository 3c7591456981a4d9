"""Runs of consecutive identifiers: a ``phiwatch.sequence`` rule catches enumeration.

A scraper walks an id space: patient ``BN2026004512``, ``…4513``, ``…4514`` … at whatever
pace it likes, so a count or rate threshold misses it when it goes slowly. Clinical work
never looks like that: a ward's patients, a clinic's queue and a search result list are
scattered across the id space. The block::

    phiwatch:
      sequence:
        field: patient.id      # the identifier walked
        by: [user.id]          # whose walk
        min_run: 40            # fire when a run holds this many distinct ids
        max_step: 3            # next id within 1..3 of the last, same direction (gaps are
                               # ids that do not exist or were skipped)
        max_gap: 10m           # a pause this long ends the run
        tracks: 4              # runs followed at once per user (interleaved work)

An id is read as a prefix and its trailing digits (``BN2026004512`` → ``BN2026``, 4512); an
event extends the user's run with the same prefix whose last number is 1..``max_step``
away in the run's direction, repeats of the last id are counted but not new, anything else
starts a new run (the least recently extended of ``tracks`` runs gives way). The first
time a run holds ``min_run`` distinct ids its alert is raised (``final: false``, id from
rule, user and the run's first event); when the run ends (``max_gap`` without extension,
measured against the watermark, or pushed out) the final version follows. Memory: at most
``tracks`` runs per user, users with no live run forgotten at the sweep.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.alert import Alert
from rules.baseline_spec import SpecError, field_list, parse_duration
from rules.explain import Entry, Numbers, episode_alert
from rules.limits import DEFAULT_LIMIT, LimitGuard
from rules.model import DetectionRule
from rules.state import Adder, entry_in, entry_out, key_text
from rules.stream import Clock, StreamExtension, register
from sensors.event import Event

SEQUENCE_KEYS = frozenset({"field", "by", "min_run", "max_step", "max_gap", "tracks"})


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    """A parsed ``phiwatch.sequence`` block (see the module docstring)."""

    field: str
    by: tuple[str, ...]
    min_run: int
    max_step: int
    max_gap: float
    tracks: int


def _int(block: Mapping[str, Any], key: str, default: int, low: int) -> int:
    v = block.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise SpecError(f"'phiwatch.sequence.{key}' must be a whole number >= {low} "
                        f"(got {v!r})")
    return v


def parse_sequence(block: Any) -> SequenceSpec:
    """Check and parse ``phiwatch.sequence``; raises ``SpecError`` naming the bad key."""
    if not isinstance(block, Mapping):
        raise SpecError("'phiwatch.sequence' must be a mapping with at least 'field'")
    unknown = set(block) - SEQUENCE_KEYS
    if unknown:
        raise SpecError("'phiwatch.sequence' has unknown key(s): "
                        + ", ".join(sorted(map(str, unknown))))
    field = block.get("field")
    if not isinstance(field, str) or not field:
        raise SpecError("'phiwatch.sequence.field' must name the identifier field, "
                        "e.g. patient.id")
    by = field_list(block.get("by", ["user.id"]), "phiwatch.sequence.by")
    gap = parse_duration(block.get("max_gap", "10m"), "phiwatch.sequence.max_gap")
    if gap <= 0:
        raise SpecError("'phiwatch.sequence.max_gap' must be more than 0")
    return SequenceSpec(field, by, _int(block, "min_run", 40, 3),
                        _int(block, "max_step", 3, 1), gap, _int(block, "tracks", 4, 1))


_DIGITS = "0123456789"


def split_id(value: Any) -> tuple[str, int] | None:
    """``BN-2026-004512`` → (``BN-2026-``, 4512): the prefix and trailing number; ``None``
    for an id without trailing digits (or with more than 18)."""
    text = value if value.__class__ is str else str(value)
    prefix = text.rstrip(_DIGITS)  # in C: this runs on every record view
    n = len(text) - len(prefix)
    if n == 0 or n > 18:
        return None
    return prefix, int(text[len(prefix):])


class Run:
    """One walk through the id space."""

    __slots__ = ("count", "direction", "distinct", "fired", "first", "first_id", "last",
                 "last_fields", "last_id", "number", "prefix", "sample")

    def __init__(self, prefix: str, number: int, entry: Entry, raw: str,
                 fields: dict[str, Any]) -> None:
        self.prefix = prefix
        self.number = number
        self.direction = 0
        self.count = 1
        self.distinct = 1
        self.first = self.last = entry
        self.first_id = self.last_id = raw
        self.last_fields = fields
        self.sample: list[Entry] = [entry]
        self.fired = False


class Walker:
    """One user's live runs, most recently extended last, and their latest lone ids.

    Most ids a user opens start nothing (a ward's patients are scattered), so a lone id is
    kept as a light (number, prefix, entry) tuple and becomes a :class:`Run` only when the
    next id of a walk arrives: the common case costs a tuple, not an object and a list.
    """

    __slots__ = ("lone", "runs", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self.runs: list[Run] = []
        self.lone: list[tuple[int, str, Entry]] = []


class SequenceState:
    """The runs of one ``phiwatch.sequence`` rule."""

    def __init__(self, rule: DetectionRule, sample_size: int) -> None:
        assert rule.stream is not None
        self.rule = rule
        self.spec: SequenceSpec = rule.stream.spec
        self.sample_size = sample_size
        #: By the group's value (one ``by`` field) or tuple of values; in touch order.
        self.groups: OrderedDict[Any, Walker] = OrderedDict()
        self.guard = LimitGuard(rule.id, rule.title, DEFAULT_LIMIT)
        self.progress: Callable[[Alert], None] | None = None
        self.opened = 0
        self.closed = 0
        self.evicted = 0

    def adder(self, base: DetectionRule) -> Adder:
        spec = self.spec
        names, field = spec.by, spec.field
        step, tracks, gap, min_run = spec.max_step, spec.tracks, spec.max_gap, spec.min_run
        keep_first = self.rule.spec.keep_first
        sample_size = self.sample_size
        groups = self.groups

        single = names[0] if len(names) == 1 else None
        digits = _DIGITS
        get_walker, touch = groups.get, groups.move_to_end

        def add(event: Event, out: list[Alert]) -> None:
            fields = event.fields
            raw = fields.get(field)
            if raw is None:
                return
            text = raw if raw.__class__ is str else str(raw)
            prefix = text.rstrip(digits)
            width = len(text) - len(prefix)
            if width == 0 or width > 18:
                return
            number = int(text[len(prefix):])
            key: Any
            if single is not None:  # one field (the usual user.id): the value is the key
                key = fields.get(single)
                if key is None:
                    return
                if key.__class__ is not str:
                    key = key_text(key)
            else:
                vals = [fields.get(n) for n in names]
                if None in vals:
                    return
                key = tuple(map(key_text, vals))
            w = get_walker(key)
            if w is None:
                if len(groups) >= self.guard.limit:
                    self.guard.make_room(groups, lambda w: sum(r.count for r in w.runs),
                                         lambda w: any(r.fired for r in w.runs),
                                         self._evict(out), event.epoch,
                                         fields.get("organization.id"), out)
                w = groups[key] = Walker(key if single is None else (key,))
            else:
                touch(key)
            epoch = event.epoch
            runs = w.runs
            for i, r in enumerate(runs):
                if r.number - number > step or number - r.number > step or r.prefix != prefix:
                    continue
                if epoch > r.last[0] + gap:
                    continue  # ended; the sweep or eviction closes it
                d = number - r.number
                if d == 0:
                    r.count += 1
                    return
                if r.direction == 0 or (d > 0) is (r.direction > 0):
                    entry: Entry = (epoch, raw, event.ref, event.id,
                                    tuple(map(fields.get, keep_first)) if keep_first else ())
                    r.direction = 1 if d > 0 else -1
                    r.number = number
                    r.count += 1
                    r.distinct += 1
                    r.last, r.last_fields, r.last_id = entry, fields, text
                    if len(r.sample) < sample_size:
                        r.sample.append(entry)
                    if i != len(runs) - 1:
                        runs.append(runs.pop(i))
                    if not r.fired and r.distinct >= min_run:
                        r.fired = True
                        self.opened += 1
                        out.append(self._alert(w, r, final=False))
                    elif r.fired and self.progress is not None:
                        self.progress(self._alert(w, r, final=False))
                    return
            lone = w.lone
            for j, (n0, p0, e0) in enumerate(lone):
                if -step <= number - n0 <= step and number != n0 and p0 == prefix \
                        and epoch <= e0[0] + gap:
                    del lone[j]
                    entry = (epoch, raw, event.ref, event.id,
                             tuple(map(fields.get, keep_first)) if keep_first else ())
                    r = Run(prefix, n0, e0, e0[1] if e0[1].__class__ is str else str(e0[1]),
                            fields)
                    r.direction = 1 if number > n0 else -1
                    r.number, r.count, r.distinct = number, 2, 2
                    r.last, r.last_id = entry, text
                    if sample_size > 1:
                        r.sample.append(entry)
                    if len(runs) >= tracks:
                        self._end(w, runs.pop(0), out)
                    runs.append(r)
                    if min_run <= 2:
                        r.fired = True
                        self.opened += 1
                        out.append(self._alert(w, r, final=False))
                    return
            if len(lone) >= tracks:
                del lone[0]
            lone.append((number, prefix, (epoch, raw, event.ref, event.id,
                                          tuple(map(fields.get, keep_first))
                                          if keep_first else ())))

        return add

    def _evict(self, out: list[Alert]) -> Callable[[Any, Walker], None]:
        def evict(key: Any, w: Walker) -> None:
            fired = [r for r in w.runs if r.fired]
            for r in fired:
                self._end(w, r, out)
            if not fired:
                self.evicted += 1

        return evict

    def _end(self, w: Walker, r: Run, out: list[Alert]) -> None:
        if r.fired:
            self.closed += 1
            out.append(self._alert(w, r, final=True))

    def _alert(self, w: Walker, r: Run, *, final: bool) -> Alert:
        spec = self.spec
        numbers = Numbers(
            kind="sequence", op="gte", threshold=float(spec.min_run), timespan=spec.max_gap,
            field=spec.field, event_count=r.count, value_count=r.distinct, value_sum=None,
            extra={"run": r.distinct, "first_id": r.first_id, "last_id": r.last_id,
                   "max_step": spec.max_step,
                   "direction": "ascending" if r.direction >= 0 else "descending"},
        )
        group = dict(zip(spec.by, w.values, strict=True))
        return episode_alert(self.rule.spec, numbers, group, r.first, r.last, r.last_fields,
                             r.sample, revision=r.count + 1 if final else r.count,
                             final=final)

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        """End the runs ``max_gap`` behind the watermark; forget users with none left."""
        gap = self.spec.max_gap
        dead: list[Any] = []
        for key, w in self.groups.items():
            live = [r for r in w.runs if r.last[0] + gap >= watermark]
            if len(live) != len(w.runs):
                for r in w.runs:
                    if r.last[0] + gap < watermark:
                        self._end(w, r, out)
                w.runs = live
            if w.lone and w.lone[-1][2][0] + gap < watermark:
                w.lone.clear()
            if not live and not w.lone:
                dead.append(key)
            elif not full:
                break  # touch order: the rest were extended more recently
        for key in dead:
            del self.groups[key]

    def open_alerts(self) -> list[Alert]:
        return [self._alert(w, r, final=False)
                for w in self.groups.values() for r in w.runs if r.fired]

    def describe(self) -> list[str]:
        """One line per run, for ``phiwatch rules test``."""
        lines: list[str] = []
        for w in self.groups.values():
            for r in w.runs:
                status = "fired" if r.fired else f"needs {self.spec.min_run}"
                lines.append(f"{', '.join(w.values)}: run of {r.distinct} id(s) "
                             f"{r.first_id}..{r.last_id} ({status})")
        return lines

    def snapshot(self) -> dict[str, Any]:
        keep = self.rule.spec.keep
        return {
            "groups": [[list(w.values), [
                [r.prefix, r.number, r.direction, r.count, r.distinct, r.fired,
                 entry_out(r.first), entry_out(r.last), r.first_id, r.last_id,
                 {f: v for f in keep if (v := r.last_fields.get(f)) is not None},
                 [entry_out(e) for e in r.sample]] for r in w.runs],
                [[n, p, entry_out(e)] for n, p, e in w.lone]]
                for w in self.groups.values()],
            "opened": self.opened, "closed": self.closed,
        }

    def restore(self, d: dict[str, Any]) -> None:
        self.opened, self.closed = d["opened"], d["closed"]
        self.groups.clear()
        single = len(self.spec.by) == 1
        for values, runs, lone in d["groups"]:
            w = self.groups[values[0] if single else tuple(values)] = Walker(tuple(values))
            w.lone = [(n, p, entry_in(e)) for n, p, e in lone]
            for (prefix, number, direction, count, distinct, fired, first, last, first_id,
                 last_id, fields, sample) in runs:
                r = Run(prefix, number, entry_in(first), first_id, dict(fields))
                r.direction, r.count, r.distinct, r.fired = direction, count, distinct, fired
                r.last, r.last_id = entry_in(last), last_id
                r.sample = [entry_in(x) for x in sample]
                w.runs.append(r)


def _state(rule: DetectionRule, sample_size: int, clock: Clock) -> SequenceState:
    return SequenceState(rule, sample_size)


register(StreamExtension(
    key="sequence",
    parse=parse_sequence,
    state=_state,
    sentence=("{run} consecutive {field} values ({first_id} to {last_id}, {direction}) for "
              "{group} in {duration}; threshold {threshold}"),
    placeholders=frozenset({"run", "first_id", "last_id", "max_step", "direction"}),
))
