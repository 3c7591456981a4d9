"""``phiwatch rules test RULE --events FILE``: what a rule does with a sample of events.

A rule author needs to see, before deploying, which events each detection matched (by
``file:line``), where each correlation or baseline stands per group at the end, and which
alerts it would raise — the same engine as production, fed the given events in order,
then flushed. The report is plain text without markup: messages quote brackets and
braces as they are.

The caller parses the events file (``rules`` imports only the event type): the command
line reads it with the configured parser, in file order, and hands over the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rules.alert import Alert
from rules.baseline import BaselineState
from rules.beacon import BeaconState
from rules.compiler import Predicate
from rules.correlation import Group
from rules.engine import Engine, State
from rules.enumeration import SequenceState
from rules.explain import human_duration, show, utc
from rules.loader import RuleError, RuleSet, load_rules
from rules.logsource import HIS_ACCESS
from rules.temporal import TemporalState
from sensors.event import Event

#: Event references listed per rule at most (the count is always exact).
MAX_MATCHES = 50


@dataclass
class RuleTestReport:
    """The outcome of running rules over a sample of events."""

    ruleset: RuleSet
    events: int = 0
    late: int = 0
    #: Per detection rule id: how many events matched, and the first ``MAX_MATCHES`` refs.
    matched: dict[str, int] = field(default_factory=dict)
    matches: dict[str, list[str]] = field(default_factory=dict)
    #: Per correlation or baseline rule id: one line per group at the end.
    state: dict[str, list[str]] = field(default_factory=dict)
    #: The last version of every alert, in order of first emission.
    alerts: list[Alert] = field(default_factory=list)
    suppressed: int = 0

    @property
    def errors(self) -> list[RuleError]:
        return self.ruleset.errors


def run_rule_test(
    rules: str | Path | Sequence[str | Path],
    events: Iterable[Event],
    *,
    lateness_seconds: float = 60.0,
    sample_size: int = 20,
    default_dataset: str | None = HIS_ACCESS,
) -> RuleTestReport:
    """Load ``rules`` (a file, a folder or several), run ``events`` through them, flush."""
    paths = [rules] if isinstance(rules, (str, Path)) else list(rules)
    ruleset = load_rules(paths)
    engine = Engine(ruleset, lateness_seconds=lateness_seconds, sample_size=sample_size,
                    default_dataset=default_dataset)
    report = RuleTestReport(ruleset)
    latest: dict[str, Alert] = {}

    def keep(alerts: Iterable[Alert]) -> None:
        for a in alerts:
            old = latest.get(a.id)
            if old is None or a.revision >= old.revision:
                latest[a.id] = a

    for event in events:
        report.events += 1
        if engine.is_late(event):
            report.late += 1
            continue
        dataset = event.fields.get("event.dataset") or default_dataset
        for rule in ruleset.detections:
            if dataset in rule.datasets and _matches(rule.predicate, event):
                n = report.matched.get(rule.id, 0)
                report.matched[rule.id] = n + 1
                if n < MAX_MATCHES:
                    report.matches.setdefault(rule.id, []).append(event.ref)
        keep(engine.process(event))
    report.state = {rid: describe(st) for rid, st in engine.states.items()}
    keep(engine.flush())
    report.alerts = list(latest.values())
    report.suppressed = engine.suppressor.suppressed
    return report


# The command line imports it by this name; pytest must not take it for a test.
test_rule = run_rule_test
test_rule.__test__ = False  # type: ignore[attr-defined]


def _matches(predicate: Predicate, event: Event) -> bool:
    try:
        return bool(predicate(event.fields))
    except Exception:  # reported by the engine as a rule failure
        return False


def describe(state: State) -> list[str]:
    """One line per group of a rule's state."""
    lines: list[str] = []
    if isinstance(state, SequenceState):
        for w in state.groups.values():
            for r in w.runs:
                status = "fired" if r.fired else f"needs {state.spec.min_run}"
                lines.append(f"{', '.join(w.values)}: run of {r.distinct} id(s) "
                             f"{r.first_id}..{r.last_id} ({status})")
        return lines
    if isinstance(state, BeaconState):
        for c in state.groups.values():
            if c.fired:
                lines.append(f"{', '.join(c.values)}: beaconing every {c.interval:.1f} s "
                             f"({c.count} connections)")
            else:
                lines.append(f"{', '.join(c.values)}: {len(c.recent)} recent connection(s), "
                             f"needs {state.spec.min_connections}")
        return lines
    if isinstance(state, BaselineState):
        spec = state.spec
        for key, h in state.users.items():
            lines.append(f"{', '.join(key)}: {len(h.values)} past period(s) of "
                         f"{human_duration(spec.period)}, last {show(h.values[-1])}"
                         if len(h.values) else f"{', '.join(key)}: no past period")
        for start, bucket in sorted(state.pending.items()):
            for key, p in bucket.items():
                status = "fired" if p.fired else "below its limits"
                lines.append(f"{', '.join(key)}: open period from "
                             f"{_stamp(start)}: {show(state.figure(p))} ({status})")
        for peer, days in state.peers.items():
            n = sum(len(s) for s in days.values())
            lines.append(f"peers {', '.join(peer)}: {n} sampled period(s)")
        return lines
    names = state.rule.group_by
    for g in state.groups.values():
        who = ", ".join(f"{n}={v}" for n, v in zip(names, g.values, strict=False)) or "all"
        ep = g.episode
        if ep is not None:
            lines.append(f"{who}: episode open since {_stamp(ep.first[0])} with "
                         f"{ep.count} event(s)")
        elif isinstance(g, Group):
            figure = (len(g.entries) if state.rule.kind == "event_count"
                      else len(g.counts) if state.rule.kind == "value_count" else g.total)
            lines.append(f"{who}: {len(g.entries)} event(s) in the window, figure "
                         f"{show(float(figure))} (needs {state.rule.op} "
                         f"{show(state.rule.threshold)})")
        else:
            assert isinstance(state, TemporalState) and not isinstance(g, Group)
            seen = [f"{state.names[i]} x{len(dq)}" for i, dq in enumerate(g.per_base) if dq]
            lines.append(f"{who}: seen {', '.join(seen) or 'nothing'} in the window")
    return lines


def _stamp(epoch: float) -> str:
    return utc(epoch).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_test_report(report: RuleTestReport) -> str:
    """Plain text for the terminal (no markup; print it with markup off)."""
    out: list[str] = []
    for e in report.errors:
        out.append(str(e))
    out.append(f"{report.events} event(s) read, {report.late} late (ignored)")
    out.append("")
    out.append("Matches:")
    for rule in report.ruleset.detections:
        n = report.matched.get(rule.id, 0)
        refs = report.matches.get(rule.id, [])
        more = f" (first {len(refs)})" if n > len(refs) else ""
        out.append(f"  {rule.id}: {n} event(s){more}")
        out.extend(f"    {r}" for r in refs)
    if report.state:
        out.append("")
        out.append("State at the end:")
        for rid, lines in report.state.items():
            out.append(f"  {rid}:" + ("" if lines else " no group"))
            out.extend(f"    {line}" for line in lines)
    out.append("")
    out.append(f"Alerts it would raise: {len(report.alerts)}"
               + (f" ({report.suppressed} suppressed by realert)" if report.suppressed else ""))
    for a in report.alerts:
        status = "final" if a.final else "open"
        out.append(f"  [{a.severity}] {a.rule_id} ({status}) {a.window_start:%Y-%m-%d %H:%M:%S}"
                   f" {', '.join(f'{k}={v}' for k, v in a.group.items())}")
        out.append(f"    {a.explanation}")
        out.append(f"    evidence: {a.first_event.ref} .. {a.last_event.ref}")
    return "\n".join(out)
