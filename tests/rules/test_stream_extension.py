"""A new stream extension is one module that registers itself (``rules.stream``).

The toy extension here counts a rule's matches per user and alerts at the N-th: it is
declared in this file alone, and the loader, the engine, snapshots and ``rules test``
take it without any other module knowing its name.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rules.alert import Alert
from rules.baseline_spec import SpecError
from rules.engine import Engine
from rules.explain import Numbers, episode_alert
from rules.limits import LimitGuard
from rules.loader import load_rules
from rules.model import DetectionRule
from rules.ruletest import run_rule_test
from rules.state import Adder, entry_in, entry_out
from rules.stream import Clock, StreamExtension, register
from sensors.event import Event


def parse_tally(block: Any) -> int:
    if not isinstance(block, dict) or not isinstance(block.get("n"), int):
        raise SpecError("'phiwatch.tally.n' must be a whole number")
    return int(block["n"])


class TallyState:
    def __init__(self, rule: DetectionRule, sample_size: int, clock: Clock) -> None:
        assert rule.stream is not None
        self.rule, self.n = rule, int(rule.stream.spec)
        self.counts: OrderedDict[str, list[Any]] = OrderedDict()
        self.opened = self.closed = self.evicted = 0
        self.guard = LimitGuard(rule.id, rule.title, 1000)
        self.progress = None

    @property
    def groups(self) -> OrderedDict[str, list[Any]]:
        return self.counts

    def adder(self, base: DetectionRule) -> Adder:
        def add(event: Event, out: list[Alert]) -> None:
            user = str(event.fields.get("user.id"))
            entry = (event.epoch, None, event.ref, event.id, ())
            seen = self.counts.setdefault(user, [0, entry])
            seen[0] += 1
            if seen[0] == self.n:
                self.opened += 1
                out.append(episode_alert(
                    self.rule.spec, Numbers(kind="tally", op="gte", threshold=self.n, timespan=0.0,
                                            field=None, event_count=seen[0], value_count=None,
                                            value_sum=None),
                    {"user.id": user}, seen[1], entry, event.fields, [],
                    revision=seen[0], final=False))
        return add

    def sweep(self, watermark: float, out: list[Alert], *, full: bool = False) -> None:
        return None

    def open_alerts(self) -> list[Alert]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {u: [c, entry_out(e)] for u, (c, e) in self.counts.items()}

    def restore(self, data: dict[str, Any]) -> None:
        self.counts = OrderedDict((u, [c, entry_in(e)]) for u, (c, e) in data.items())

    def describe(self) -> list[str]:
        return [f"{u}: {c} of {self.n}" for u, (c, _) in self.counts.items()]


register(StreamExtension(key="tally", parse=parse_tally, state=TallyState,
                         sentence="{group} reached {event_count} matches",
                         placeholders=frozenset()))

RULE = """
title: Tally of record views
name: toy-tally
logsource: {product: his, service: access}
detection:
  selection: {event.action: view}
  condition: selection
level: medium
phiwatch:
  tally: {n: 3}
"""


def _events() -> list[Event]:
    t0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    return [Event(t0 + timedelta(seconds=i), {"event.dataset": "his.access",
                                             "event.action": "view", "user.id": "nv1"},
                  f"log:{i + 1}", f"e{i}") for i in range(5)]


def test_a_registered_extension_loads_runs_snapshots_and_describes(tmp_path: Path) -> None:
    (tmp_path / "tally.yml").write_text(RULE, encoding="utf-8")
    ruleset = load_rules([tmp_path])
    assert not ruleset.errors
    engine = Engine(ruleset)
    fired = [a for e in _events()[:3] for a in engine.process(e)]
    assert [a.explanation for a in fired] == ["user.id=nv1 reached 3 matches"]

    again = Engine(load_rules([tmp_path]))
    again.restore(engine.snapshot())
    assert again.states["toy-tally"].describe() == ["nv1: 3 of 3"]

    report = run_rule_test([tmp_path], _events())
    assert report.state["toy-tally"] == ["nv1: 5 of 3"]
    assert len(report.alerts) == 1


def test_a_bad_block_is_a_rule_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "tally.yml").write_text(RULE.replace("{n: 3}", "{n: many}"), encoding="utf-8")
    ruleset = load_rules([tmp_path])
    assert [e.message for e in ruleset.errors] == ["'phiwatch.tally.n' must be a whole number"]
