"""Baselines and peer groups: fire on a user far above their own history and their peers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from rulekit import T0, his, load, run

from rules.alert import Alert
from rules.baseline import PEER_SAMPLE, BaselineState, limit
from rules.baseline_spec import Method
from rules.engine import Engine
from sensors.event import Event

RULE = """
title: Many patients for this user
name: harvest
level: high
logsource: {product: his}
detection:
  sel: {event.action: view}
  condition: sel
phiwatch:
  baseline:
    metric: distinct patient.id per user.id per 1h
    peers: [user.roles, user.department]
    history: 30d
    own: {method: mad, k: 6}
    peer: {method: percentile, p: 99, margin: 1.5}
    min_history: 7d
    floor: 40
  explain: >-
    {user.id} viewed {value} patients in {period}; own {history_days}-day {own_method}
    is {own_baseline}; {peer_group} {peer_method} is {peer_baseline}
"""

NURSE: dict[str, Any] = {"user__roles": ["nurse"], "user__department": "san-a"}
DAY, HOUR = 86400, 3600


def hour(day: int, h: int, user: str, n: int, **extra: Any) -> list[Event]:
    """``n`` views of distinct patients by ``user`` spread over one hour."""
    base = day * DAY + h * HOUR
    return [his(base + i * (3000 / max(n, 1)), user, "view", patient=f"{user}-{day}-{h}-{i}",
                **extra) for i in range(n)]


def routine(days: int) -> Iterator[Event]:
    """Ten nurses of san-a, 8 active hours a day, 10 to 14 patients an hour."""
    for d in range(days):
        for h in range(8, 16):
            batch = [e for u in range(10)
                     for e in hour(d, h, f"nv{u:02d}", 10 + (u + h) % 5, **NURSE)]
            yield from sorted(batch, key=lambda e: e.epoch)


def engine_after(tmp_path: Path, days: int = 10) -> tuple[Engine, list[Alert]]:
    rs = load(tmp_path, RULE)
    assert not rs.errors, rs.errors
    engine = Engine(rs, lateness_seconds=60)
    return engine, run(engine, routine(days))


def test_routine_never_fires(tmp_path: Path) -> None:
    _, alerts = engine_after(tmp_path)
    assert alerts == []


def test_harvester_far_above_own_and_peers_fires_with_numbers(tmp_path: Path) -> None:
    engine, _ = engine_after(tmp_path)
    alerts = run(engine, hour(10, 9, "nv03", 120, **NURSE))
    (early,) = alerts
    assert not early.final and early.rule_id == "harvest"
    assert early.group == {"user.id": "nv03"}
    m = early.metrics
    assert m["value"] == pytest.approx(m["value"])  # present
    assert 40 <= m["value"] < 120  # fired as soon as it crossed, not at the end
    assert m["own_baseline"] == 12 and m["history_days"] == 10
    assert m["peer_baseline"] == pytest.approx(14)
    assert early.explanation.startswith(f"nv03 viewed {m['value']:.0f} patients in 1 h; "
                                        "own 10-day median is 12; nurse, san-a p99 is 14")
    final = engine.advance(T0.timestamp() + 10 * DAY + 11 * HOUR)
    (last,) = [a for a in final if a.rule_id == "harvest"]
    assert last.final and last.id == early.id and last.metrics["value"] == 120
    assert last.revision > early.revision


def test_below_floor_or_within_own_history_does_not_fire(tmp_path: Path) -> None:
    engine, _ = engine_after(tmp_path)
    assert run(engine, hour(10, 9, "nv03", 35, **NURSE)) == []  # 3x usual but < floor 40


def test_busy_user_within_their_own_and_peer_normal_does_not_fire(tmp_path: Path) -> None:
    er = {"user__roles": ["doctor"], "user__department": "cap-cuu"}
    rs = load(tmp_path, RULE)
    engine = Engine(rs, lateness_seconds=60)
    events = [e for d in range(10) for h in range(8, 16) for u in range(10)
              for e in hour(d, h, f"bs{u}", 80 + (u * 3 + h) % 10, **er)]
    events.sort(key=lambda e: e.epoch)
    # only the first hour of a new installation, with neither history nor peers, has
    # nothing but the floor to go by
    first_hour = T0.timestamp() + 9 * HOUR
    assert all(a.window_end.timestamp() < first_hour for a in run(engine, events))
    assert [a for a in run(engine, hour(10, 9, "bs1", 95, **er)) if not a.final] == []


def test_cold_start_uses_peers_and_floor_only(tmp_path: Path) -> None:
    engine, _ = engine_after(tmp_path)
    new = run(engine, hour(10, 9, "nv99", 60, **NURSE))
    assert len(new) == 1 and new[0].metrics["history_days"] == 0
    assert "own 0-day median is ?" in new[0].explanation
    assert new[0].metrics["value"] == 40 or new[0].metrics["value"] > 21
    # no peer fields and no history: only the floor
    alone = [a for a in run(engine, hour(10, 10, "nv98", 45)) if a.group["user.id"] == "nv98"]
    assert len(alone) == 1 and alone[0].metrics["value"] == 40
    assert "no peer group" not in alone[0].explanation  # the rule's own sentence


def test_cold_start_learn_stays_silent_until_there_is_history(tmp_path: Path) -> None:
    learning = Engine(load(tmp_path, RULE.replace("    floor: 40\n",
                                                  "    floor: 40\n    cold_start: learn\n")),
                      lateness_seconds=60)
    assert run(learning, hour(0, 9, "nv98", 45)) == []  # nothing to judge by: learn
    floor_only = Engine(load(tmp_path, RULE), lateness_seconds=60)
    assert len(run(floor_only, hour(0, 9, "nv98", 45))) == 1  # the default judges by floor


def test_default_sentence(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, RULE.split("  explain:")[0]), lateness_seconds=60)
    (a,) = run(engine, hour(0, 9, "nv98", 45))
    assert a.explanation == ("40 (distinct patient.id per user.id per 1h) for user.id=nv98 "
                             "in 1 h; no own history yet; no peer group")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    engine, _ = engine_after(tmp_path, days=9)
    state = orjson.loads(orjson.dumps(engine.snapshot()))
    again = Engine(load(tmp_path, RULE), lateness_seconds=60)
    again.restore(state)
    assert again.snapshot() == state
    tail = hour(10, 9, "nv03", 120, **NURSE)
    assert [a.to_dict() for a in run(again, tail)] == [a.to_dict() for a in run(engine, tail)]


def test_memory_stays_bounded(tmp_path: Path) -> None:
    rule = RULE.replace("history: 30d", "history: 5d").replace("min_history: 7d",
                                                               "min_history: 2d")
    engine = Engine(load(tmp_path, rule), lateness_seconds=60)
    events = [e for d in range(20) for h in range(0, 24, 2) for u in range(3)
              for e in hour(d, h, f"u{u}", 1 + u, **NURSE)]
    events += [e for u in range(200) for e in hour(0, 1, f"x{u}", 1, **NURSE)]
    events.sort(key=lambda e: e.epoch)
    run(engine, events)
    state = engine.states["harvest"]
    assert isinstance(state, BaselineState)
    assert set(state.users) == {("u0",), ("u1",), ("u2",)}  # the one-day crowd is forgotten
    assert all(len(h.values) <= 5 * 24 for h in state.users.values())
    (days,) = state.peers.values()
    assert len(days) <= 6 and all(len(s) <= PEER_SAMPLE for s in days.values())


def test_limits() -> None:
    assert limit([10, 12, 12, 14], Method("mad", k=6)) == (12.0, 12 + 6 * 1.4826)
    assert limit([5, 5, 5], Method("mad", k=6)) == (5.0, 11.0)  # MAD 0 counts as 1
    assert limit(list(range(101)), Method("percentile", p=99, margin=1.5)) == (99.0, 148.5)


@pytest.mark.parametrize(("block", "message"), [
    ("{metric: patients per user}", "'phiwatch.baseline.metric' must read"),
    ("{metric: count per user.id per 1x}", "must be a duration"),
    ("{metric: count per user.id per 1h, own: {method: mean}}", "'phiwatch.baseline.own.method'"),
    ("{metric: count per user.id per 1h, extra: 1}", "unknown key(s): extra"),
    ("{metric: count per user.id per 1d, history: 1h}", "at least one period"),
])
def test_bad_baseline_blocks_name_the_key(tmp_path: Path, block: str, message: str) -> None:
    rs = load(tmp_path, RULE.split("phiwatch:")[0] + f"phiwatch:\n  baseline: {block}\n")
    assert rs.detections == [] and message in rs.errors[0].message
