"""Turning a rule match into an ``Alert`` with one sentence that explains it.

A rule may carry phiwatch's extension (pySigma keeps unknown top-level keys in
``custom_attributes``)::

    phiwatch:
      explain: "{user.id} ({user.name}) viewed {value_count} distinct patients in {duration}"
      context: [user.name, user.roles, user.department, source.ip, host.name, organization.id]

``explain`` placeholders are the numbers of the alert (``event_count``, ``value_count``,
``value_sum``, ``threshold``, ``timespan``, ``duration``, ``window_start``, ``window_end``,
``title``, ``group``, ``field``, ``op``), the group-by values, any field of the last event
(``{source.ip}`` or ``{last.source.ip}``) and any field of the first event of the episode
(``{first.source.ip}``). A placeholder with no value renders as ``?``: a typo in a template
must never cost an alert. ``context`` fields (and always ``user.id``, ``source.ip``,
``host.name``) are copied from the last event into ``Alert.context``.

Only ``first.`` placeholders make the engine keep fields with every event in a window, so
a rule pays that memory and time only if it asks for it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rules.alert import Alert, EventRef, alert_id
from sensors.event import Event

#: One piece of evidence kept in a window: epoch, counted value, ``path:line``, event id,
#: and the values of ``AlertSpec.keep_first`` (empty unless the sentence names ``first.*``).
Entry = tuple[float, Any, str, str, tuple[Any, ...]]

#: Placeholders that are the alert's own numbers rather than event fields.
SPECIAL = frozenset(
    {"event_count", "value_count", "value_sum", "threshold", "timespan", "duration",
     "window_start", "window_end", "title", "group", "field", "op",
     # temporal correlations: the base rules seen
     "rules"}
)  # stream extensions add theirs (``register_sentence``)
#: Copied into every alert's context when the event has them, whatever the rule's
#: ``context`` says: who and where, so that alerts group into incidents by principal.
BASE_CONTEXT = ("user.id", "source.ip", "host.name")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")
_OPTIONAL = re.compile(r"\[\[|\]\]")
_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "eq": "=", "neq": "!="}

DEFAULT_EVENT = "'{title}' matched the event at {window_start}"
DEFAULT_CORRELATION = {
    "event_count": (
        "{event_count} events matching '{title}' for {group} in {duration}; "
        "threshold {op} {threshold} in {timespan}"
    ),
    "value_count": (
        "{value_count} distinct {field} in {event_count} events for {group} in {duration}; "
        "threshold {op} {threshold} in {timespan}"
    ),
    "value_sum": (
        "{field} summed to {value_sum} over {event_count} events for {group} in {duration}; "
        "threshold {op} {threshold} in {timespan}"
    ),
    "temporal": "'{title}': {rules} for {group} within {duration} ({event_count} events)",
    "temporal_ordered": (
        "'{title}': {rules} in that order for {group} within {duration} ({event_count} events)"
    ),
}


def register_sentence(kind: str, sentence: str, placeholders: frozenset[str]) -> None:
    """The default sentence of a stream extension's alerts and the numbers it provides
    (``rules.stream.register``)."""
    DEFAULT_CORRELATION[kind] = sentence
    global SPECIAL
    SPECIAL = SPECIAL | placeholders


class Template:
    """A sentence with ``{name}`` placeholders (``{{``/``}}`` for braces), split at load.

    ``[[ … ]]`` marks an optional clause: it is left out when any placeholder in it has
    no value, so a sentence never says ``(?)`` for a workstation the log did not name
    (``[[ from {source.ip}]]``). A placeholder outside such a clause with no value shows
    as ``?``.
    """

    __slots__ = ("names", "parts", "text")

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.split())  # YAML folded blocks leave stray newlines
        #: (literal before, placeholder name or None, optional group number or -1)
        parts: list[tuple[str, str | None, int]] = []
        group, groups = -1, 0
        for chunk_no, chunk in enumerate(_OPTIONAL.split(self.text)):
            if chunk_no % 2:  # inside [[ ]]
                group, groups = groups, groups + 1
            else:
                group = -1
            literal: list[str] = []
            pos = 0
            for m in _PLACEHOLDER.finditer(chunk):
                literal.append(chunk[pos : m.start()])
                pos = m.end()
                if m.group(1) is None:
                    literal.append(m.group(0)[0])  # an escaped brace
                else:
                    parts.append(("".join(literal), m.group(1).strip(), group))
                    literal = []
            literal.append(chunk[pos:])
            parts.append(("".join(literal), None, group))
        self.parts = tuple(parts)
        self.names: tuple[str, ...] = tuple(n for _, n, _ in parts if n is not None)

    def render(self, lookup: Callable[[str], Any]) -> str:
        out: list[str] = []
        pending: list[str] = []  # the optional clause being rendered
        current, dropped = -1, False
        for literal, name, group in self.parts:
            if group != current:  # a clause ends (or starts)
                if current >= 0 and not dropped:
                    out.extend(pending)
                pending, current, dropped = [], group, False
            target = pending if group >= 0 else out
            target.append(literal)
            if name is not None:
                value = lookup(name)
                if group >= 0 and _missing(value):
                    dropped = True
                target.append(show(value))
        if current >= 0 and not dropped:
            out.extend(pending)
        return "".join(out)


def _missing(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What every alert of one rule shares: identity, severity, sentence, context fields."""

    rule_id: str
    title: str
    severity: str
    tags: tuple[str, ...]
    template: Template | None
    context: tuple[str, ...]
    #: Fields of the last event an episode keeps: the template's, the context, org id.
    keep: tuple[str, ...]
    #: Fields kept with every event in a window, for ``{first.*}`` placeholders.
    keep_first: tuple[str, ...] = ()

    @property
    def top(self) -> str | None:
        """The field a ``{top:FIELD}`` placeholder sums by, if the sentence has one."""
        names = self.template.names if self.template else ()
        return next((n[4:] for n in names if n.startswith("top:")), None)

    @classmethod
    def build(
        cls, rule_id: str, title: str, severity: str, tags: Sequence[str],
        template: str | None, context: Sequence[str],
    ) -> AlertSpec:
        tpl = Template(template) if template else None
        names = tpl.names if tpl else ()
        wanted = [n.removeprefix("last.") for n in names
                  if not n.startswith(("first.", "values", "top:")) and n != "top_sum"]
        # A patient the sentence names is evidence in its own right: as a field, the API
        # shows it pseudonymized to whom it must (a sentence can only be masked by pattern).
        patients = [n for n in wanted if n.startswith("patient.")]
        context = tuple(dict.fromkeys([*BASE_CONTEXT, *context, *patients]))
        keep = tuple(dict.fromkeys(
            n for n in [*wanted, *context, "organization.id"] if n not in SPECIAL))
        first = tuple(dict.fromkeys(
            [n[6:] for n in names if n.startswith("first.")]
            + [n[7:] for n in names if n.startswith("values:")]
            + [n[4:] for n in names if n.startswith("top:")]))
        return cls(rule_id, title, severity, tuple(tags), tpl, tuple(context), keep, first)


_DEFAULTS: dict[str, Template] = {}


def _default(text: str) -> Template:
    """A default sentence, split once (rules without ``explain`` alert often)."""
    t = _DEFAULTS.get(text)
    if t is None:
        t = _DEFAULTS[text] = Template(text)
    return t


def show(value: Any) -> str:
    """A value as a sentence shows it: lists joined, whole floats without ``.0``,
    ``yes``/``no`` for a flag (never Python's ``True``)."""
    if value is None or value == "":
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value) or "?"
    return str(value)


def human_duration(seconds: float) -> str:
    """``47 min``, ``2 h 5 min``, ``30 s``, ``3 d 4 h``."""
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    if s < 86400:
        h, m = divmod(round(s / 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(round(s / 3600), 24)
    return f"{d} d {h} h" if h else f"{d} d"


def utc(epoch: float) -> datetime:
    """The instant of ``epoch`` as an aware UTC datetime (the same in every run)."""
    return datetime.fromtimestamp(epoch, UTC)


def stamp(epoch: float) -> str:
    """An event time as people read it in reports: ``2026-11-22 01:15:02 UTC``."""
    return utc(epoch).strftime("%Y-%m-%d %H:%M:%S UTC")


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ref(entry: Entry) -> EventRef:
    return EventRef(entry[2], entry[3], utc(entry[0]))


def _refs(sample: Sequence[Entry], cache: list[EventRef] | None) -> list[EventRef]:
    if cache is None:
        return [_ref(e) for e in sample]
    if len(cache) < len(sample):
        cache.extend(_ref(e) for e in sample[len(cache):])
    return list(cache)


def _context(spec: AlertSpec, value: Callable[[str], Any]) -> tuple[dict[str, Any], str | None]:
    context = {name: v for name in spec.context if (v := value(name)) is not None}
    org = value("organization.id")
    return context, (str(org) if org is not None else None)


def event_alert(spec: AlertSpec, event: Event) -> Alert:
    """The alert of a plain detection rule: one per matching event, final at once."""
    group = {"event.id": event.id or event.ref}
    ts = event.timestamp
    fields = event.fields
    numbers: dict[str, Any] = {
        "event_count": 1, "duration": "0 s", "window_start": _stamp(ts),
        "window_end": _stamp(ts), "title": spec.title, "group": group["event.id"],
    }

    def lookup(name: str) -> Any:
        if name in numbers:
            return numbers[name]
        return fields.get(name.removeprefix("first.").removeprefix("last."))

    template = spec.template or _default(DEFAULT_EVENT)
    context, org = _context(spec, fields.get)
    ref = EventRef(event.ref, event.id, ts)
    return Alert(
        id=alert_id(spec.rule_id, group, ts, org), rule_id=spec.rule_id, rule_title=spec.title,
        severity=spec.severity, group=group, window_start=ts, window_end=ts, event_count=1,
        explanation=template.render(lookup), first_event=ref, last_event=ref, sample=[ref],
        organization_id=org, tags=list(spec.tags), context=context,
        metrics={"event_count": 1.0}, revision=1, final=True,
    )


@dataclass(frozen=True, slots=True)
class Numbers:
    """An episode's figures at the moment its alert is emitted."""

    kind: str
    op: str
    threshold: float
    timespan: float
    field: str | None
    event_count: int
    value_count: int | None
    value_sum: float | None
    #: Further placeholders (temporal rules, baselines); numbers also go into ``metrics``.
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: ``value_count``: each distinct value with its first entry (``{values}``,
    #: ``{values:host.name}``).
    examples: Sequence[tuple[Any, Entry]] = ()
    #: ``value_sum`` with ``{top:FIELD}``: the sums per value of FIELD.
    tops: Mapping[Any, float] = dataclasses.field(default_factory=dict)


def _values(examples: Sequence[tuple[Any, Entry]], keep_first: tuple[str, ...],
            detail: str) -> str | None:
    """``{values}``: the distinct values counted, in the order first seen;
    ``{values:host.name}``: each followed by its first event's ``host.name``."""
    if not examples:
        return None
    i = keep_first.index(detail) if detail in keep_first else -1
    shown = []
    for value, entry in examples:
        example = entry[4][i] if 0 <= i < len(entry[4]) else None
        shown.append(f"{show(value)} ({show(example)})" if example is not None else show(value))
    return ", ".join(shown)


def _top(tops: Mapping[Any, float], *, sum_of: bool) -> Any:
    """``{top:FIELD}``: the value of FIELD with the largest sum; ``{top_sum}``: its sum."""
    if not tops:
        return None
    key, total = max(tops.items(), key=lambda kv: (kv[1], str(kv[0])))
    return total if sum_of else key


def episode_alert(
    spec: AlertSpec,
    n: Numbers,
    group: Mapping[str, str],
    first: Entry,
    last: Entry,
    last_fields: Mapping[str, Any],
    sample: Sequence[Entry],
    *,
    revision: int,
    final: bool,
    refs: list[EventRef] | None = None,
) -> Alert:
    """One version of a correlation episode's alert; the id depends on group and start.

    ``refs``: the episode's own cache of its sample's ``EventRef`` s, for a ``sample`` that
    only ever grows at its end: an open episode's versions (one per event when rules over
    alerts follow it) then build each reference once, not once per version."""
    start, end = utc(first[0]), utc(last[0])
    keep_first = spec.keep_first
    numbers: dict[str, Any] = {
        "event_count": n.event_count, "value_count": n.value_count, "value_sum": n.value_sum,
        "threshold": n.threshold, "title": spec.title, "field": n.field,
        "op": _OPS.get(n.op, n.op), **n.extra,
    }
    #: Numbers worked out only when the sentence names them (most name one or two).
    derived: dict[str, Callable[[], Any]] = {
        "timespan": lambda: human_duration(n.timespan),
        "duration": lambda: human_duration(last[0] - first[0]),
        "window_start": lambda: _stamp(start), "window_end": lambda: _stamp(end),
        "group": lambda: ", ".join(f"{k}={v}" for k, v in group.items()) or "all events",
    }

    def field(name: str) -> Any:
        if name.startswith("first."):
            name = name[6:]
            i = keep_first.index(name) if name in keep_first else len(first[4])
            return first[4][i] if i < len(first[4]) else group.get(name)
        v = last_fields.get(name.removeprefix("last."))
        return v if v is not None else group.get(name.removeprefix("last."))

    def lookup(name: str) -> Any:
        if name in numbers:
            return numbers[name]
        if name in derived:
            return derived[name]()
        if name == "values" or name.startswith("values:"):
            return _values(n.examples, keep_first, name[7:])
        if name.startswith("top:") or name == "top_sum":
            return _top(n.tops, sum_of=name == "top_sum")
        return field(name)

    template = spec.template or _default(DEFAULT_CORRELATION.get(n.kind, DEFAULT_EVENT))
    context, org = _context(spec, field)
    metrics = {"event_count": float(n.event_count), "threshold": float(n.threshold),
               "timespan_seconds": float(n.timespan)}
    if n.value_count is not None:
        metrics["value_count"] = float(n.value_count)
    if n.value_sum is not None:
        metrics["value_sum"] = float(n.value_sum)
    for k, v in n.extra.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            metrics[k] = float(v)
    return Alert(
        id=alert_id(spec.rule_id, group, start, org), rule_id=spec.rule_id,
        rule_title=spec.title,
        severity=spec.severity, group=dict(group), window_start=start, window_end=end,
        event_count=n.event_count, explanation=template.render(lookup),
        first_event=_ref(first), last_event=_ref(last), sample=_refs(sample, refs),
        value_count=n.value_count, organization_id=org, tags=list(spec.tags),
        context=context, metrics=metrics, revision=revision, final=final,
    )
