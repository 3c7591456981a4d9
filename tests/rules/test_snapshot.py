"""A run killed at any point and restored from its snapshot raises the same alerts.

The restored engine is built from freshly loaded rules and a snapshot that went through
JSON, as after a real restart. Alerts are compared by (id, revision, final) and content:
the union of what the run emitted before the snapshot and what the restored run emits
after it must be exactly what an uninterrupted run emits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulekit import EVENT_COUNT, VALUE_COUNT, his, write

from rules.alert import Alert
from rules.engine import Engine
from rules.loader import RuleSet, load_rules
from sensors.event import Event

EXTRA = """
---
title: Export
name: export
id: 00000000-0000-0000-0000-0000000000a3
logsource: {product: his}
detection:
  sel: {event.action: export}
  condition: sel
---
title: Records exported
id: 00000000-0000-0000-0000-0000000000c3
correlation:
  type: value_sum
  rules: [export]
  generate: true
  group-by: [user.id]
  timespan: 2m
  condition: {field: his.record_count, gte: 100}
phiwatch:
  explain: "{first.source.ip}: {value_sum} records by {user.id} in {duration}"
  realert: 3m
---
title: View then export
name: view_then_export
correlation:
  type: temporal_ordered
  rules: [view, export]
  group-by: [user.id]
  timespan: 1m
phiwatch:
  explain: "{first.source.ip}: {rules} by {user.id} in {duration}"
---
title: Export without a view
name: export_no_view
correlation:
  type: temporal
  rules: [view, export]
  group-by: [user.id, source.ip]
  timespan: 30s
  condition: export and not view
phiwatch:
  realert: 2m
---
title: Printed
name: printed
logsource: {product: his}
detection:
  sel: {event.action: print}
  condition: sel
phiwatch:
  realert: 45s
---
title: Many patients for this user
name: harvest
logsource: {product: his}
detection:
  sel: {event.action: [view, print]}
  condition: sel
phiwatch:
  baseline:
    metric: distinct patient.id per user.id per 1m
    peers: [source.ip]
    history: 30m
    min_history: 5m
    own: {method: percentile, p: 90}
    peer: {method: mad, k: 1}
    floor: 3
  explain: "{user.id}: {value} in {period}, own {own_baseline}, {peer_group} {peer_baseline}"
"""

Key = tuple[str, int, bool]


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    write(folder, "all.yml", EVENT_COUNT + "---" + VALUE_COUNT + EXTRA)
    assert not load_rules([folder]).errors
    return folder


def emitted(alerts: Sequence[Alert]) -> dict[Key, dict[str, Any]]:
    """Alerts by (id, revision, final); a version emitted twice must be the same."""
    out: dict[Key, dict[str, Any]] = {}
    for a in alerts:
        key = (a.id, a.revision, a.final)
        d = a.to_dict()
        assert out.setdefault(key, d) == d, f"two different contents for {key}"
    return out


def uninterrupted(ruleset: RuleSet, events: Sequence[Event], lateness: float) -> list[Alert]:
    # Sweeps after every event here, rarely in the restarted runs: when sweeps happen must
    # not change what is alerted.
    engine = Engine(ruleset, lateness_seconds=lateness, sample_size=5, sweep_seconds=0)
    out = [a for e in events for a in engine.process(e)]
    return out + engine.flush()


def with_restarts(
    folder: Path, events: Sequence[Event], lateness: float, cuts: Sequence[int]
) -> list[Alert]:
    """Run ``events``, restarting from a JSON snapshot at each index of ``cuts``."""
    out: list[Alert] = []
    engine = Engine(load_rules([folder]), lateness_seconds=lateness, sample_size=5,
                    sweep_seconds=900)
    start = 0
    for cut in [*sorted(cuts), len(events)]:
        for e in events[start:cut]:
            out.extend(engine.process(e))
        start = cut
        if cut < len(events):
            state = orjson.loads(orjson.dumps(engine.snapshot()))
            engine = Engine(load_rules([folder]), lateness_seconds=lateness, sample_size=5,
                            sweep_seconds=900)
            engine.restore(state)
    return out + engine.flush()


def stream(seed: int, n: int) -> list[Event]:
    """Bursts, harvests, exports, quiet gaps and out-of-order and late arrivals."""
    rng = random.Random(seed)
    t = 0.0
    events = []
    for _ in range(n):
        t += rng.choice((0.5, 1, 2, 5, 20, 90, 400)) if rng.random() < 0.3 else rng.random() * 3
        when = t - rng.random() * 80 if rng.random() < 0.1 else t
        action = rng.choice(("view", "view", "view", "print", "export", "search"))
        events.append(his(
            when, user=rng.choice(("nv01", "nv02", "nv03")), action=action,
            patient=f"BN{rng.randrange(8)}" if rng.random() < 0.9 else None,
            his__record_count=rng.choice((1, 10, 60, "80")),
            source__ip=rng.choice(("10.0.0.1", "10.0.0.2")),
        ))
    return events


@pytest.mark.parametrize("lateness", [0.0, 30.0, 120.0])
def test_many_restarts_raise_the_same_alerts(rules_dir: Path, lateness: float) -> None:
    events = stream(seed=int(lateness) + 1, n=1500)
    expected = emitted(uninterrupted(load_rules([rules_dir]), events, lateness))
    assert any(k[2] for k in expected) and any(not k[2] for k in expected)  # a real test
    got = emitted(with_restarts(rules_dir, events, lateness, cuts=range(37, 1500, 97)))
    assert got == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 300),
    cut_fraction=st.floats(0, 1),
    lateness=st.sampled_from([0.0, 10.0, 60.0]),
)
def test_snapshot_at_a_random_point(
    rules_dir: Path, seed: int, n: int, cut_fraction: float, lateness: float
) -> None:
    events = stream(seed, n)
    cut = int(cut_fraction * n)
    expected = emitted(uninterrupted(load_rules([rules_dir]), events, lateness))
    assert emitted(with_restarts(rules_dir, events, lateness, [cut])) == expected


def test_snapshot_is_plain_json_and_restores_counters(rules_dir: Path) -> None:
    engine = Engine(load_rules([rules_dir]))
    for e in stream(5, 200):
        engine.process(e)
    state = engine.snapshot()
    assert orjson.loads(orjson.dumps(state)) == state
    other = Engine(load_rules([rules_dir]))
    other.restore(orjson.loads(orjson.dumps(state)))
    assert other.snapshot() == state
    assert other.stats() == engine.stats()
    assert other.watermark == engine.watermark


def test_fresh_engine_snapshot_and_unknown_version(rules_dir: Path) -> None:
    engine = Engine(load_rules([rules_dir]))
    state = orjson.loads(orjson.dumps(engine.snapshot()))
    engine.restore(state)
    assert engine.watermark == float("-inf")
    with pytest.raises(ValueError, match="version"):
        engine.restore({"version": 999})


def test_state_of_removed_rules_is_dropped(rules_dir: Path, tmp_path: Path) -> None:
    engine = Engine(load_rules([rules_dir]))
    for e in stream(9, 300):
        engine.process(e)
    write(tmp_path, "one.yml", EVENT_COUNT)
    smaller = Engine(load_rules([tmp_path]))
    smaller.restore(orjson.loads(orjson.dumps(engine.snapshot())))
    assert set(smaller.snapshot()["correlations"]) == {"many_views"}
