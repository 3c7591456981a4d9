"""Every injected incident is in the log as its ground truth says, and crosses its rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from simkit import (
    Line,
    by_user,
    ground_truth,
    incident_window,
    max_distinct,
    max_in_window,
    patient_points,
    read_all,
    read_csv,
)

from simulator import SimulationResult

KINDS = {"bulk_harvest", "bulk_export", "scripted_scraper", "brute_force"}


def _his(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The HIS incidents (the network ones: test_network)."""
    return [i for i in incidents if i["kind"] in KINDS]


def _incident_lines(lines: list[Line], inc: dict[str, Any]) -> list[Line]:
    a, b = incident_window(inc)
    return [x for x in lines if x.user == inc["user.id"] and x.ip == inc["source.ip"]
            and a <= x.t <= b]


def _check(inc: dict[str, Any], lines: list[Line], maternity: set[str]) -> None:
    mine = _incident_lines(lines, inc)
    assert len(mine) == inc["events"], inc["id"]
    assert mine[0].t == incident_window(inc)[0] and mine[-1].t == incident_window(inc)[1]
    assert "expected_rules" not in inc  # the simulator knows no rule
    assert inc["description"].endswith(".") and "\n" not in inc["description"]
    views = [x for x in mine if x.action == "view"]
    distinct = {x.patient for x in views}
    kind = inc["kind"]
    if kind == "bulk_harvest":
        assert 250 <= inc["patients"] == len(distinct) <= 400
        assert distinct <= maternity
        minutes = (mine[-1].t - mine[0].t) / 60
        assert 55 <= minutes <= 125
        assert max_distinct(patient_points(mine), 3600) >= 120
        assert max_in_window([x.t for x in views], 60) < 30  # a person, not a script
    elif kind == "bulk_export":
        exports = [x for x in mine if x.action == "export"]
        assert len(exports) == 1 and exports[0].count == inc["patients"] >= 2000
    elif kind == "scripted_scraper":
        assert inc["patients"] == len(distinct) == len(views) >= 600
        numbers = [int(x.patient[6:]) for x in views if x.patient]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # sequential
        seconds = (views[-1].t - views[0].t) + 1
        assert 5 * 60 <= seconds <= 9 * 60 and len(views) / seconds >= 2.5
        assert max_in_window([x.t for x in views], 60) >= 120
    elif kind == "brute_force":
        failed = [x for x in mine if x.action == "login_failed"]
        assert 20 <= len(failed) <= 40
        assert max_in_window([x.t for x in failed], 300) == len(failed)
        first_ok = next(i for i, x in enumerate(mine) if x.action == "login")
        assert all(x.action == "login_failed" for x in mine[:first_ok])
        assert len(distinct) == inc["patients"] >= 10
        assert all(x.action in ("login", "view", "search", "logout") for x in mine[first_ok:])
    else:
        pytest.fail(f"unknown incident kind {kind}")


def _maternity(result: SimulationResult) -> set[str]:
    return {e["patient_id"] for e in read_csv(result.encounters)
            if e["department"] in ("san-a", "san-b", "hau-san")}


def test_small_incidents_are_in_the_log(small: SimulationResult, small_lines: list[Line]) -> None:
    truth = _his(ground_truth(small.out_dir))
    assert {i["kind"] for i in truth} == KINDS and len(truth) == 4
    assert len({i["id"] for i in truth}) == 4
    assert _his(small.incidents) == truth
    maternity = _maternity(small)
    for inc in truth:
        _check(inc, small_lines, maternity)


def test_incidents_spread_over_the_period(small_week: SimulationResult) -> None:
    truth = _his(ground_truth(small_week.out_dir))
    lines = read_all(small_week.out_dir)
    maternity = _maternity(small_week)
    for inc in truth:
        _check(inc, lines, maternity)
    assert len({i["start"][:10] for i in truth}) >= 3


def test_incidents_at_realistic_times(small_week: SimulationResult) -> None:
    roster = {r["user_id"]: r for r in read_csv(small_week.roster)}
    for inc in _his(ground_truth(small_week.out_dir)):
        start = datetime.fromisoformat(inc["start"])
        assert start.utcoffset() == timedelta(hours=7)
        who = roster[inc["user.id"]]
        if inc["kind"] == "scripted_scraper":
            assert 0 <= start.hour < 5 and who["role"] == "vendor"
        elif inc["kind"] == "brute_force":
            assert 20 <= start.hour < 24 and who["role"] == "doctor"
        else:  # insiders, during their own day shift
            assert 7 <= start.hour < 17 and who["shift"] == "day"


def test_harvester_does_nothing_else_meanwhile(small: SimulationResult,
                                              small_lines: list[Line]) -> None:
    inc = next(i for i in ground_truth(small.out_dir) if i["kind"] == "bulk_harvest")
    a, b = incident_window(inc)
    theirs = by_user(small_lines)[inc["user.id"]]
    during = [x for x in theirs if a <= x.t <= b]
    assert all(x.module == "reception" and x.ip == inc["source.ip"] for x in during)
    assert len(during) == inc["events"]
    assert any(x.t < a for x in theirs) and any(x.t > b for x in theirs)  # normal day around


def test_large_incidents_are_in_the_log(large: SimulationResult) -> None:
    truth = [i for i in ground_truth(large.out_dir) if i["kind"] in KINDS]
    assert {i["kind"] for i in truth} == KINDS  # the context kinds: test_patterns
    wanted = {i["user.id"] for i in truth}
    lines = [x for x in read_all(large.out_dir) if x.user in wanted]
    maternity = _maternity(large)
    for inc in truth:
        _check(inc, lines, maternity)
