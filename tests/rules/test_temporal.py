"""Sigma ``temporal`` and ``temporal_ordered`` correlations, streaming on event time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rulekit import his, load, run

from rules.engine import Engine

BASES = """
title: Failed login
name: failed
logsource: {product: his}
detection:
  sel: {event.action: login_failed}
  condition: sel
---
title: Login
name: login
logsource: {product: his}
detection:
  sel: {event.action: login}
  condition: sel
---
title: Export
name: export
logsource: {product: his}
detection:
  sel: {event.action: export}
  condition: sel
"""

ORDERED = BASES + """
---
title: Guessed then in then out
name: guess_then_export
level: high
correlation:
  type: temporal_ordered
  rules: [failed, login, export]
  group-by: [user.id]
  timespan: 10m
phiwatch:
  explain: "{user.id}: {rules} within {duration}"
"""

UNORDERED = BASES + """
---
title: Failed and export
name: failed_and_export
correlation:
  type: temporal
  rules: [failed, export]
  group-by: [user.id]
  timespan: 5m
"""

EXTENDED = BASES + """
---
title: Export without a login
name: export_no_login
correlation:
  type: temporal
  rules: [login, export]
  group-by: [user.id]
  timespan: 5m
  condition: export and not login
"""


def test_ordered_fires_in_order_only(tmp_path: Path) -> None:
    rs = load(tmp_path, ORDERED)
    assert not rs.errors, rs.errors
    engine = Engine(rs, lateness_seconds=0)
    alerts = run(engine, [his(0, action="login_failed"), his(10, action="login"),
                          his(20, action="export")])
    assert len(alerts) == 1 and not alerts[0].final
    assert alerts[0].explanation == "nv01: failed, login, export within 20 s"
    assert alerts[0].event_count == 3
    # wrong order for another user: export before login
    other = run(engine, [his(30, "nv02", "login_failed"), his(31, "nv02", "export"),
                         his(32, "nv02", "login")])
    assert other == []
    # too far apart
    slow = run(engine, [his(40, "nv03", "login_failed"), his(700, "nv03", "login"),
                        his(710, "nv03", "export")])
    assert [a for a in slow if a.group["user.id"] == "nv03"] == []
    assert [a.id for a in slow if a.final] == [alerts[0].id]


def test_ordered_ignores_bases_before_the_chain_start(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, ORDERED), lateness_seconds=0)
    alerts = run(engine, [his(0, action="export"), his(1, action="login"),
                          his(2, action="login_failed"), his(3, action="login"),
                          his(4, action="export")])
    assert len(alerts) == 1
    assert alerts[0].first_event.ref == alerts[0].sample[0].ref


def test_unordered_any_order_within_timespan(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, UNORDERED), lateness_seconds=0)
    assert len(run(engine, [his(0, action="export"), his(100, action="login_failed")])) == 1
    assert run(engine, [his(0, "nv02", "export"), his(400, "nv02", "login_failed")]) == []


def test_extended_condition_with_not(tmp_path: Path) -> None:
    rs = load(tmp_path, EXTENDED)
    assert not rs.errors, rs.errors
    engine = Engine(rs, lateness_seconds=0)
    assert run(engine, [his(0, action="login"), his(10, action="export")]) == []
    fired = run(engine, [his(20, "nv02", "export")])
    assert len(fired) == 1 and fired[0].group == {"user.id": "nv02"}


def test_ordered_rejects_a_count_condition(tmp_path: Path) -> None:
    rs = load(tmp_path, BASES + """
---
title: Bad
name: bad
correlation:
  type: temporal_ordered
  rules: [failed, login]
  group-by: [user.id]
  timespan: 1m
  condition: {gte: 1}
""")
    assert [e.message for e in rs.errors if e.is_error] == [
        "temporal_ordered takes no condition but the default (all rules, in order); "
        "use 'temporal' to count rules"]


def test_temporal_snapshot_restore(tmp_path: Path) -> None:
    rs = load(tmp_path, ORDERED)
    events = [his(0, action="login_failed"), his(10, action="login"),
              his(20, action="export"), his(30, action="export"),
              his(5, "nv02", action="login_failed"), his(6, "nv02", action="login")]
    whole = Engine(rs, lateness_seconds=30)
    expected = [a.to_dict() for a in run(whole, events) + whole.flush()]
    first = Engine(rs, lateness_seconds=30)
    got = [a.to_dict() for a in run(first, events[:2])]
    second = Engine(load(tmp_path, ORDERED), lateness_seconds=30)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    got += [a.to_dict() for a in run(second, events[2:]) + second.flush()]
    assert got == expected


def test_event_matching_two_bases_counts_once(tmp_path: Path) -> None:
    rs = load(tmp_path, BASES + """
---
title: Any login event
name: any_login
logsource: {product: his}
detection:
  sel: {event.action|startswith: login}
  condition: sel
---
title: Login and any login
name: both
correlation:
  type: temporal
  rules: [login, any_login]
  group-by: [user.id]
  timespan: 5m
""")
    engine = Engine(rs, lateness_seconds=0)
    (alert,) = run(engine, [his(0, action="login")])
    assert alert.event_count == 1 and alert.metrics["value_count"] == 2
    assert run(engine, [his(1, action="login")]) == []
    (final,) = engine.flush()
    assert final.event_count == 2


def test_ordered_chain_with_counts() -> None:
    from collections import deque

    from rules.temporal import ordered_chain

    def entries(*times: float) -> deque[Any]:
        return deque((t, 0, f"r:{t}", f"e{t}", ()) for t in times)

    failed, success = entries(1, 2, 3, 4, 5), entries(6)
    assert ordered_chain([failed, success], (5, 1)) is not None
    assert ordered_chain([failed, success], (6, 1)) is None
    assert ordered_chain([entries(1, 2, 7, 8, 9), success], (5, 1)) is None  # success too early


def test_ordered_counts_must_name_a_rule_and_a_count(tmp_path: Path) -> None:
    from rules.loader import load_rules

    rule = tmp_path / "r.yml"
    rule.write_text(
        "title: a\nname: a\nlogsource: {product: his}\n"
        "detection: {sel: {event.action: login}, condition: sel}\n---\n"
        "title: b\nname: b\nlogsource: {product: his}\n"
        "detection: {sel: {event.action: view}, condition: sel}\n---\n"
        "title: chain\nname: chain\n"
        "correlation: {type: temporal_ordered, rules: [a, b], group-by: [user.id], "
        "timespan: 5m}\nphiwatch: {ordered_counts: {zz: 3}}\n", encoding="utf-8")
    errors = [e for e in load_rules([tmp_path]).errors if e.is_error]
    assert errors and "zz" in str(errors[0])
