"""``phiwatch.sequence``: runs of consecutive patient ids, however slowly they are walked."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from rulekit import his, load, run

from rules.baseline_spec import SpecError
from rules.engine import Engine
from rules.enumeration import parse_sequence, split_id
from sensors.event import Event

RULE = """
title: Consecutive ids
name: walk
level: high
logsource: {product: his}
detection:
  sel: {event.action: view}
  condition: sel
phiwatch:
  sequence: {field: patient.id, by: [user.id], min_run: 10, max_step: 3, max_gap: 10m,
             tracks: 2}
  explain: "{user.id} walked {run} ids {first_id} to {last_id} ({direction})"
"""


def walk(start: int, n: int, *, t0: float = 0, every: float = 45, step: int = 1,
         user: str = "it01", prefix: str = "BN2026") -> list[Event]:
    return [his(t0 + i * every, user, patient=f"{prefix}{start + i * step:06d}")
            for i in range(n)]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    ruleset = load(tmp_path, RULE)
    assert not ruleset.errors
    return Engine(ruleset)


def test_split_id() -> None:
    assert split_id("BN2026004512") == ("BN", 2026004512)
    assert split_id("BN-2026-004512") == ("BN-2026-", 4512)
    assert split_id(4512) == ("", 4512)
    assert split_id("ABC") is None


def test_a_slow_walk_fires_once_and_closes_with_the_full_run(engine: Engine) -> None:
    alerts = run(engine, walk(100, 25, every=50))
    assert [a.final for a in alerts] == [False]
    assert alerts[0].explanation == "it01 walked 10 ids BN2026000100 to BN2026000109 (ascending)"
    later = engine.advance(alerts[0].window_end.timestamp() + 3600)
    assert [a.final for a in later] == [True]
    assert later[0].id == alerts[0].id
    assert later[0].metrics["value_count"] == 25


def test_gaps_of_skipped_ids_and_descending_walks_count(engine: Engine) -> None:
    skipping = walk(500, 12, step=2)
    assert [a.rule_id for a in run(engine, skipping)] == ["walk"]
    down = walk(900, 12, step=-3, user="it02", t0=600)
    fired = run(engine, down)
    assert fired and "descending" in fired[0].explanation


def test_interleaved_other_work_does_not_break_the_run(engine: Engine) -> None:
    events: list[Event] = []
    for i, e in enumerate(walk(100, 12, every=60)):
        events.append(e)
        events.append(his(i * 60 + 20, "it01", patient=f"BN2025{(i * 7919) % 99991:06d}"))
    assert [a.rule_id for a in run(engine, events)] == ["walk"]


def test_scattered_ids_steps_too_big_and_pauses_do_not_fire(engine: Engine) -> None:
    scattered = [his(i * 30, "dr01", patient=f"BN2026{(i * 7919) % 99991:06d}")
                 for i in range(200)]
    too_far = walk(100, 30, step=4, user="dr02")
    paused = walk(100, 9, user="dr03") + walk(109, 9, t0=9 * 45 + 601, user="dr03")
    zigzag = [his(i * 30, "dr04", patient=f"BN2026{100 + (i % 2) * 2 + i // 2:06d}")
              for i in range(30)]  # 100, 102, 101, 103, … changes direction
    other_prefix = [his(i * 30, "dr05", patient=f"{'AB' if i % 2 else 'CD'}{i:06d}")
                    for i in range(30)]
    out = run(engine, [*scattered, *too_far, *paused, *zigzag, *other_prefix])
    assert out + engine.flush() == []


def test_repeats_of_the_same_id_neither_count_nor_break(engine: Engine) -> None:
    events = [e for e in walk(100, 10) for _ in range(3)]
    out = run(engine, events)
    assert len(out) == 1 and out[0].metrics["value_count"] == 10


def test_snapshot_and_restore_decide_alike(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE)
    events = walk(100, 8) + walk(300, 6, user="it02") + walk(108, 10, t0=8 * 45)
    whole = Engine(ruleset)
    expect = run(whole, events) + whole.flush()
    first = Engine(ruleset)
    head = run(first, events[:10])
    saved = orjson.loads(orjson.dumps(first.snapshot()))
    second = Engine(ruleset)
    second.restore(saved)
    got = head + run(second, events[10:]) + second.flush()
    assert [(a.id, a.revision, a.final) for a in got] == [
        (a.id, a.revision, a.final) for a in expect]
    assert expect


@pytest.mark.parametrize(("block", "message"), [
    ({}, "'phiwatch.sequence.field'"),
    ({"field": "patient.id", "min_run": 2}, "'phiwatch.sequence.min_run'"),
    ({"field": "patient.id", "max_gap": "soon"}, "'phiwatch.sequence.max_gap'"),
    ({"field": "patient.id", "speed": 1}, "unknown key(s): speed"),
])
def test_bad_blocks_name_the_key(block: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_sequence(block)


def test_a_bad_block_is_a_rule_error(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULE.replace("min_run: 10", "min_run: ten"))
    assert [e.message for e in ruleset.errors if e.is_error] == [
        "'phiwatch.sequence.min_run' must be a whole number >= 3 (got 'ten')"]
