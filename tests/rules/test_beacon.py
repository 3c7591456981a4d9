"""``phiwatch.beacon``: evenly spaced connections, their episodes, snapshot and spec errors."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from rulekit import T0, load, run

from rules.baseline_spec import SpecError
from rules.beacon import parse_beacon, regularity
from rules.engine import Engine
from sensors.event import Event

RULE = """
title: Beacon
name: beacon
level: high
logsource: {category: network_connection}
detection:
  sel: {network.direction: outbound}
  condition: sel
phiwatch:
  beacon: {by: [source.ip, destination.ip], min_connections: 10, max_jitter: 0.1,
           interval: [10s, 1h]}
"""


def beats(n: int, every: float, jitter: float = 0.02, *, t0: float = 0,
          dst: str = "185.1.1.1", seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    out, t = [], t0
    for i in range(n):
        fields: dict[str, Any] = {"event.dataset": "network.flow", "source.ip": "10.1.1.5",
                                  "destination.ip": dst, "network.direction": "outbound"}
        out.append(Event(T0 + timedelta(seconds=t), fields, f"cap:#{i}", f"f{dst}{i}"))
        t += every * (1 + rng.uniform(-jitter, jitter))
    return out


def test_regularity() -> None:
    assert regularity([0, 60, 120, 180]) == (60, 0)
    interval, jitter = regularity([0, 60, 120, 240, 300, 360])  # one missed beat
    assert (interval, jitter) == (60, 0)


def test_fires_once_then_closes_after_three_quiet_beats(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, RULE))
    out = run(engine, beats(30, 60))
    assert [(a.rule_id, a.final, a.event_count) for a in out] == [("beacon", False, 10)]
    later = engine.advance(T0.timestamp() + 30 * 60 + 4 * 60 + 61)
    assert [(a.final, a.event_count, a.id) for a in later] == [(True, 30, out[0].id)]


def test_the_next_burst_after_silence_is_a_new_alert(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, RULE))
    out = run(engine, beats(12, 60) + beats(12, 60, t0=12 * 60 + 3600))
    assert [a.final for a in out] == [False, True, False]
    assert out[0].id != out[2].id


def test_snapshot_and_restore_decide_alike(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE)
    events = sorted(beats(25, 60) + beats(25, 45, dst="185.2.2.2", seed=2),
                    key=lambda e: e.epoch)
    whole = Engine(ruleset)
    expect = run(whole, events) + whole.flush()
    first = Engine(ruleset)
    head = run(first, events[:17])
    second = Engine(ruleset)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    got = head + run(second, events[17:]) + second.flush()
    assert [(a.id, a.revision) for a in got] == [(a.id, a.revision) for a in expect]
    assert len({a.id for a in expect}) == 2


@pytest.mark.parametrize(("block", "key"), [
    ({"min_connections": 3}, "min_connections"),
    ({"max_jitter": 1.5}, "max_jitter"),
    ({"interval": ["1h", "10s"]}, "interval"),
    ({"interval": "10s"}, "interval"),
    ({"every": 1}, "unknown key"),
])
def test_bad_blocks_name_the_key(block: dict[str, Any], key: str) -> None:
    with pytest.raises(SpecError, match=key):
        parse_beacon(block)


def test_one_rule_takes_one_stream_block(tmp_path: Path) -> None:
    both = RULE.replace("phiwatch:\n", "phiwatch:\n  sequence: {field: destination.ip}\n")
    errors = load(tmp_path, both).errors
    assert [e.message for e in errors] == [
        "a rule takes one of 'phiwatch.sequence' and 'phiwatch.beacon', not both"]
