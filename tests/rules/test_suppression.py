"""``phiwatch.realert``: a group already alerted on is not alerted on again for a while."""

from __future__ import annotations

from pathlib import Path

import orjson
from rulekit import EVENT_COUNT, T0, his, load, run

from rules.engine import Engine

PLAIN = """
title: Export
name: export
logsource: {product: his}
detection:
  sel: {event.action: export}
  condition: sel
phiwatch:
  realert: 1h
"""

CORRELATION = EVENT_COUNT.replace("  context: [user.name, source.ip]",
                                  "  context: [user.name, source.ip]\n  realert: 10m")


def test_plain_rule_suppressed_per_user_within_realert(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, PLAIN), lateness_seconds=0)
    alerts = run(engine, [his(0, action="export"), his(60, action="export"),
                          his(61, "nv02", action="export"), his(3599, action="export"),
                          his(3601, action="export")])
    assert [(a.context["user.id"], a.window_end.minute) for a in alerts] == [
        ("nv01", 0), ("nv02", 1), ("nv01", 0)]
    assert engine.stats()["suppressed"] == 2


def test_without_realert_nothing_is_suppressed(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, PLAIN.replace("phiwatch:\n  realert: 1h\n", "")),
                    lateness_seconds=0)
    assert len(run(engine, [his(t, action="export") for t in range(5)])) == 5
    assert engine.stats()["suppressed"] == 0


def test_suppressed_episode_loses_all_its_versions(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, CORRELATION), lateness_seconds=0)
    # first burst: emitted (early + final); second burst 5 min later: suppressed whole;
    # third burst 20 min after the first: emitted again
    times = [0, 1, 2, 300, 301, 302, 1200, 1201, 1202]
    alerts = run(engine, [his(t) for t in times]) + engine.advance(T0.timestamp() + 5000)
    ids = {a.id for a in alerts}
    assert len(ids) == 2
    assert sorted((a.window_start.minute, a.final) for a in alerts) == [
        (0, False), (0, True), (20, False), (20, True)]
    assert engine.stats()["suppressed"] == 1


def test_realert_state_survives_a_restart(tmp_path: Path) -> None:
    rs = load(tmp_path, PLAIN)
    engine = Engine(rs, lateness_seconds=0)
    run(engine, [his(0, action="export")])
    state = orjson.loads(orjson.dumps(engine.snapshot()))
    again = Engine(load(tmp_path, PLAIN), lateness_seconds=0)
    again.restore(state)
    assert run(again, [his(100, action="export")]) == []
    assert again.stats()["suppressed"] == 1


def test_bad_realert_is_a_rule_error(tmp_path: Path) -> None:
    rs = load(tmp_path, PLAIN.replace("realert: 1h", "realert: soon"))
    assert rs.detections == []
    assert "'phiwatch.realert' must be a duration" in rs.errors[0].message
