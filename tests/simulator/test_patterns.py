"""The context-dependent injected incidents: in the log as labelled, and normal traffic
that leaves them distinguishable (the bounds the context rules rest on)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hospitalctx import NON_CLINICAL, Context, quiet
from simkit import (
    Line,
    by_user,
    ground_truth,
    incident_window,
    max_distinct,
    max_in_window,
    patient_points,
    read_all,
)

from simulator import HospitalSpec, SimulationResult, simulate
from simulator.patterns import ALL_KINDS, CONTEXT_KINDS
from simulator.profile import Job
from simulator.spec import INCIDENT_KINDS

#: The context kinds this module checks (the classic four: test_incidents).
EXPECTED = {
    "slow_harvest", "maternity_bulk_nonclinical", "off_shift_access",
    "flagged_patient_no_care", "terminated_account", "vendor_patient_data",
    "sequential_enumeration", "workstation_hop", "own_record", "failed_then_success",
    "external_login",
}


def _mine(lines: list[Line], inc: dict[str, Any]) -> list[Line]:
    a, b = incident_window(inc)
    return [x for x in lines if x.user == inc["user.id"] and x.ip == inc["source.ip"]
            and a <= x.t <= b]


def _check(inc: dict[str, Any], lines: list[Line], ctx: Context) -> None:
    kind = inc["kind"]
    mine = _mine(lines, inc)
    assert len(mine) == inc["events"] == inc["counts"]["events"], inc["id"]
    assert (mine[0].t, mine[-1].t) == incident_window(inc)
    if kind not in EXPECTED:  # the classic four: test_incidents
        return
    assert "expected_rules" not in inc
    assert inc["patients"] == inc["counts"]["patients"]
    for key in ("id", "description", "user.id", "source.ip", "start", "end"):
        assert inc[key], (inc["id"], key)
    who = ctx.roster[inc["user.id"]]
    job = ctx.job(inc["user.id"])
    assert (inc["user.role"], inc["user.department"]) == (who["role"], who["department"])
    views = [x for x in mine if x.action == "view"]
    distinct = {x.patient for x in views}
    hourly = max_distinct(patient_points(mine), 3600)
    assert hourly < 120 and max_in_window([x.t for x in views], 60) < 30  # no fixed rule
    hour = datetime.fromisoformat(inc["start"]).hour
    if kind == "slow_harvest":
        assert job in (Job.NURSE, Job.MIDWIFE)
        assert who["department"] in ctx.profile.maternity_wards
        assert 40 <= hourly < 100 and len(distinct) == inc["patients"] >= 200
        assert mine[-1].t - mine[0].t >= 6 * 3600
        assert all(ctx.maternity(p) for p in distinct)
    elif kind == "maternity_bulk_nonclinical":
        assert job in NON_CLINICAL and 70 <= len(distinct) == inc["patients"]
        assert all(ctx.maternity(p) for p in distinct) and hourly >= 50
    elif kind == "off_shift_access":
        assert who["shift"] == ctx.profile.office and (hour >= 21 or hour < 5) and distinct
    elif kind == "flagged_patient_no_care":
        (pid,) = distinct
        assert pid in ctx.flagged
        assert not any(d == who["department"] for d, _, _ in ctx.care[pid])
    elif kind == "terminated_account":
        assert who["status"] == "inactive"
        assert date.fromisoformat(who["end_date"]) < date.fromisoformat(inc["start"][:10])
        assert mine[0].action == "login" and distinct
    elif kind == "vendor_patient_data":
        assert who["vendor"] and {x.module for x in views} == {"reception"}
        assert len(distinct) >= 20
    elif kind == "sequential_enumeration":
        numbers = [int(x.patient[6:]) for x in views if x.patient]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) and len(numbers) >= 90
    elif kind == "workstation_hop":
        theirs = [x for x in by_user(lines)[inc["user.id"]] if x.t < mine[0].t]
        before = theirs[-1]
        assert mine[0].t - before.t <= 300 and before.host != mine[0].host
        assert ctx.stations[before.host]["building"] != ctx.stations[mine[0].host]["building"]
    elif kind == "own_record":
        (pid,) = distinct
        assert pid is not None
        assert ctx.patients[pid]["national_id"] == who["national_id"] != ""
        assert ctx.flagged.get(pid) == "staff_member"
    elif kind == "failed_then_success":
        failed = [x for x in mine if x.action == "login_failed"]
        assert 5 <= len(failed) == inc["counts"]["failed_logins"] < 10
        assert max_in_window([x.t for x in failed], 300) == len(failed)
        assert mine[len(failed)].action == "login" and mine[len(failed)].outcome == "success"
    elif kind == "external_login":
        assert not ctx.internal(inc["source.ip"]) and inc["host.name"] not in ctx.stations
        assert mine[0].action == "login" and distinct
    else:
        pytest.fail(f"unchecked kind {kind}")


def test_kind_lists_agree() -> None:
    assert INCIDENT_KINDS == ALL_KINDS and set(CONTEXT_KINDS) == set(EXPECTED)
    assert HospitalSpec.large().incident_kinds is None
    assert HospitalSpec.small().incident_kinds == ALL_KINDS[:4]  # the demo's four


@pytest.mark.parametrize("hospital", ["small_all", "general"])
def test_every_context_incident_is_in_the_log(hospital: str,
                                              request: pytest.FixtureRequest) -> None:
    """In both profiles: every kind injected, in the log as labelled."""
    result: SimulationResult = request.getfixturevalue(hospital)
    lines: list[Line] = request.getfixturevalue(f"{hospital}_lines")
    truth = [i for i in ground_truth(result.out_dir) if i["kind"] in ALL_KINDS]
    assert [i["kind"] for i in truth] == list(ALL_KINDS)
    assert len({i["id"] for i in truth}) == len(truth)
    ctx = Context(result.out_dir)
    for inc in truth:
        _check(inc, lines, ctx)


def test_large_preset_injects_every_kind(large: SimulationResult) -> None:
    truth = [i for i in ground_truth(large.out_dir) if i["kind"] in ALL_KINDS]
    assert [i["kind"] for i in truth] == list(ALL_KINDS)
    wanted = {i["user.id"] for i in truth}
    lines = [x for x in read_all(large.out_dir) if x.user in wanted]
    ctx = Context(large.out_dir)
    for inc in truth:
        if inc["kind"] in CONTEXT_KINDS:
            _check(inc, lines, ctx)


def test_normal_traffic_leaves_the_context_signals_quiet(small_all: SimulationResult,
                                                         small_all_lines: list[Line]) -> None:
    peaks = quiet(small_all.out_dir, small_all_lines)
    assert peaks["ward"] < 30  # the slow harvester runs at 40–70 an hour


def test_large_normal_traffic_leaves_the_context_signals_quiet(large: SimulationResult) -> None:
    peaks = quiet(large.out_dir, read_all(large.out_dir))
    assert peaks["ward"] < 30


def test_general_normal_traffic_leaves_the_context_signals_quiet(
        general: SimulationResult, general_lines: list[Line]) -> None:
    """The general hospital's normal traffic: the same signals quiet, its ward staff
    slower still (a caseload), and its antenatal desk registering mothers at a rate
    only its department tells from a harvest."""
    peaks = quiet(general.out_dir, general_lines)
    assert peaks["ward"] < 25
    assert peaks["antenatal_desk"] >= 20


@pytest.mark.parametrize("seed", [7])
def test_same_seed_same_bytes_with_every_kind(small_all: SimulationResult, tmp_path: Path,
                                              seed: int) -> None:
    spec = HospitalSpec.small().model_copy(update={"incident_kinds": None})
    again = simulate(spec, tmp_path, days=2, seed=seed)
    for a, b in zip(small_all.files, again.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
