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
from rules.compiler import Predicate
from rules.engine import Engine
from rules.loader import RuleError, RuleSet, load_rules
from rules.logsource import HIS_ACCESS
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
    report.state = {rid: st.describe() for rid, st in engine.states.items()}
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
