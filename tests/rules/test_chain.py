"""Correlations of correlations (``rules.chain``): a lookup, then an upload, as one alert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from rulekit import T0, his, load, run

from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet
from sensors.event import Event

LOOKUP = """
title: Viewed
name: viewed
logsource: {product: his}
detection:
  sel: {event.action: view}
  condition: sel
---
title: Bulk lookup
name: lookup
level: high
correlation:
  type: value_count
  rules: [viewed]
  group-by: [user.id]
  timespan: 1h
  condition: {field: patient.id, gte: 5}
"""
UPLOAD = """
title: Out
name: out
logsource: {category: network_connection}
detection:
  sel: {network.direction: outbound}
  condition: sel
---
title: Large upload
name: upload
level: high
correlation:
  type: value_sum
  rules: [out]
  group-by: [source.ip]
  timespan: 1h
  condition: {field: source.bytes, gte: 1000}
"""
CHAIN = """
title: Lookup then upload
name: lookup-then-upload
level: critical
correlation:
  type: temporal_ordered
  rules: [lookup, upload]
  group-by: [source.ip]
  timespan: 30m
  generate: {generate}
phiwatch:
  explain: >-
    {{first.user.id}} opened {{first.lookup.value_count}} patients on {{source.ip}}, then
    {{upload.value_sum}} bytes went to {{destination.ip}}
"""


def rules(tmp_path: Path, generate: str = "true", order: str = "forward") -> RuleSet:
    parts = [LOOKUP, UPLOAD, CHAIN.format(generate=generate)]
    if order == "backward":
        parts.reverse()
    ruleset = load(tmp_path, "\n---\n".join(p.strip("\n") for p in parts))
    assert not ruleset.errors, ruleset.errors
    return ruleset


def views(n: int, t0: float, ip: str = "10.20.3.45") -> list[Event]:
    return [his(t0 + 60 * i, "nv01", patient=f"P{i}", source__ip=ip) for i in range(n)]


def flow(at: float, sent: int, src: str = "10.20.3.45", dst: str = "45.1.1.1") -> Event:
    fields: dict[str, Any] = {"event.dataset": "network.flow", "source.ip": src,
                              "destination.ip": dst, "source.bytes": sent,
                              "network.direction": "outbound"}
    return Event(T0 + timedelta(seconds=at), fields, f"cap:#{at}", f"flow{at}")


def by_rule(alerts: list[Alert]) -> dict[str, list[Alert]]:
    out: dict[str, list[Alert]] = {}
    for a in alerts:
        out.setdefault(a.rule_id, []).append(a)
    return out


def test_lookup_then_upload_is_one_alert_with_both_numbers(tmp_path: Path) -> None:
    engine = Engine(rules(tmp_path))
    # 8 patients over 7 minutes, then 10 minutes later 1,500 bytes in two flows
    events = [*views(8, 0), flow(7 * 60 + 600, 600), flow(7 * 60 + 660, 900)]
    fired = by_rule(run(engine, events) + engine.flush())
    (chain,) = {a.id: a for a in fired["lookup-then-upload"]}.values()
    last = fired["lookup-then-upload"][-1]
    assert last.severity == "critical"
    assert last.explanation == (
        "nv01 opened 8 patients on 10.20.3.45, then 1500 bytes went to 45.1.1.1")
    assert chain.group == {"source.ip": "10.20.3.45"}
    assert set(fired) == {"lookup", "upload", "lookup-then-upload"}  # generate: true


def test_the_window_runs_from_the_last_record_opened(tmp_path: Path) -> None:
    # The lookup crossed its threshold at minute 4 but went on to minute 24: an upload
    # 25 minutes after the crossing is 5 minutes after the lookup, and counts.
    events = [*views(25, 0), flow(24 * 60 + 300, 2000)]
    fired = by_rule(run(Engine(rules(tmp_path)), events))
    assert "lookup-then-upload" in fired


def test_no_alert_when_too_late_wrong_order_or_another_address(tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    too_late = [*views(8, 0), flow(7 * 60 + 31 * 60, 2000)]
    upload_first = [flow(0, 2000), *views(8, 120)]
    elsewhere = [*views(8, 0), flow(600, 2000, src="10.20.9.9")]
    small = [*views(8, 0), flow(600, 500)]
    few = [*views(3, 0), flow(600, 2000)]
    for events in (too_late, upload_first, elsewhere, small, few):
        engine = Engine(ruleset)
        assert "lookup-then-upload" not in by_rule(run(engine, events) + engine.flush())


def test_referenced_correlations_are_silent_without_generate(tmp_path: Path) -> None:
    engine = Engine(rules(tmp_path, generate="false"))
    events = [*views(8, 0), flow(600, 2000)]
    assert set(by_rule(run(engine, events) + engine.flush())) == {"lookup-then-upload"}


def test_order_in_the_file_does_not_matter(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, order="backward")
    assert [c.id for c in ruleset.correlations][-1] == "lookup-then-upload"


def test_missing_and_cyclic_references_are_reported(tmp_path: Path) -> None:
    ruleset = load(tmp_path, LOOKUP + """
---
title: A
name: a
correlation: {type: temporal, rules: [lookup, b], group-by: [user.id], timespan: 5m}
---
title: B
name: b
correlation: {type: temporal, rules: [lookup, a], group-by: [user.id], timespan: 5m}
""")
    assert sorted(e.rule or "" for e in ruleset.errors) == ["A", "B"]
    assert all("reference cycle" in e.message for e in ruleset.errors)
    assert [c.id for c in ruleset.correlations] == ["lookup"]


def test_snapshot_and_restore_decide_alike(tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    events = views(8, 0) + [flow(600 + 30 * i, 400) for i in range(6)]
    whole = Engine(ruleset)
    expect = run(whole, events) + whole.flush()
    first = Engine(ruleset)
    head = run(first, events[:9])
    second = Engine(ruleset)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    got = head + run(second, events[9:]) + second.flush()
    assert [(a.id, a.revision, a.explanation) for a in got] == [
        (a.id, a.revision, a.explanation) for a in expect]
