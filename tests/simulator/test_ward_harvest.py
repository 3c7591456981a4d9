"""``ward_harvest_upload`` in both hospitals: the labelled facts are what the log and the
capture hold — another ward's mothers, none of them cared for by the harvester's
department, at a human pace on afternoons of her normal shifts between her own work, then
a modest upload from the last afternoon's workstation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hospitalctx import Context
from simkit import Line, frames, ground_truth, max_distinct, read_all

from simulator import HospitalSpec, SimulationResult, simulate
from simulator.departments import Kind
from simulator.profile import Job


@pytest.fixture(scope="module")
def maternity_harvest(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The maternity hospital over three days with the new kind only."""
    spec = HospitalSpec.small().model_copy(
        update={"incident_kinds": (), "network_incident_kinds": ("ward_harvest_upload",)})
    return simulate(spec, tmp_path_factory.mktemp("harvest"), days=3, seed=5)


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _incident(result: SimulationResult) -> dict[str, Any]:
    (inc,) = [i for i in ground_truth(result.out_dir) if i["kind"] == "ward_harvest_upload"]
    return inc


def _check(result: SimulationResult, lines: list[Line]) -> dict[str, Any]:
    inc = _incident(result)
    ctx = Context(result.out_dir)
    user, dept = inc["user.id"], inc["user.department"]
    who = ctx.roster[user]
    assert ctx.job(user) in (Job.NURSE, Job.MIDWIFE) and ctx.kind(dept) == Kind.WARD
    assert (inc["user.role"], dept) == (who["role"], who["department"])
    (target,) = inc["target.departments"]
    assert target in ctx.described["postpartum_departments"] and target != dept

    def victim(pid: str | None) -> bool:
        """A mother of the target ward whom the harvester's department never cared for."""
        stays = {d for d, _, _ in ctx.care.get(pid or "", ())}
        p = ctx.patients.get(pid or "", {})
        return target in stays and dept not in stays and p.get("sex") == "F" \
            and not p.get("mother_id")

    mine = [x for x in lines if x.user == user]
    harvested: set[str] = set()
    assert 1 <= len(inc["harvest"]) <= 4 and inc["counts"]["days"] == len(inc["harvest"])
    assert len({h["date"] for h in inc["harvest"]}) == len(inc["harvest"])
    for h in inc["harvest"]:
        a, b = _ts(h["start"]), _ts(h["end"])
        during = [x for x in mine if a <= x.t <= b]
        views = [x for x in during if x.action == "view" and victim(x.patient)]
        assert {(x.host, x.ip) for x in views} == {(h["host.name"], h["source.ip"])}
        assert (views[0].t, views[-1].t) == (a, b) and views[0].stamp[:10] == h["date"]
        distinct = {x.patient for x in views if x.patient}
        assert h["patients"] <= len(distinct) <= h["patients"] + 2  # a consult or two
        assert 80 <= h["patients"] <= 150
        peak = max_distinct([(x.t, x.patient or "") for x in views], 3600)
        assert abs(peak - h["max_per_hour"]) <= 2 and 15 <= h["max_per_hour"] <= 45
        for x in (views[0], views[-1]):  # in the (early) afternoon
            local = datetime.fromisoformat(x.stamp)
            assert (11, 30) <= (local.hour, local.minute) < (18, 31), x
        # between her own work, in a session of her shift
        assert len([x for x in during if not victim(x.patient)]) >= 5
        before = [x for x in mine if x.t < a and x.host == h["host.name"]]
        assert any(x.action == "login" for x in before)
        harvested |= {p for p in distinct}
    assert inc["patients"] <= len(harvested) <= inc["patients"] + 4
    assert _ts(inc["start"]) == _ts(inc["harvest"][0]["start"])
    assert inc["lookup.end"] == inc["harvest"][-1]["end"]
    assert (inc["host.name"], inc["source.ip"]) == (inc["harvest"][-1]["host.name"],
                                                    inc["harvest"][-1]["source.ip"])

    # the upload: from that workstation, 20 minutes to 3 hours later, 20–80 MB, in session
    upload, last = _ts(inc["upload.start"]), _ts(inc["lookup.end"])
    assert 20 * 60 <= upload - last <= 3 * 3600
    assert upload - last == inc["counts"]["wait_seconds"]
    assert 20_000_000 <= inc["counts"]["payload_bytes"] <= 80_000_000
    day = inc["upload.start"][:10]
    (pcap,) = [p for p in result.pcap_files if day in p.name]
    sent = [(t, w) for t, s, d, _, w, _ in frames(pcap)
            if (s, d) == (inc["source.ip"], inc["destination.ip"])]
    assert int(sent[0][0]) == int(upload) and _ts(inc["end"]) >= sent[-1][0]
    assert sum(w for _, w in sent) == inc["bytes"] == inc["counts"]["bytes"]
    assert inc["counts"]["payload_bytes"] < inc["bytes"] < inc["counts"]["payload_bytes"] * 1.1
    logout = [x.t for x in mine if x.action == "logout" and x.host == inc["host.name"]
              and x.t > sent[-1][0]]
    assert logout, "the upload happens while she is logged in"
    assert "expected_rules" not in inc
    return inc


def test_in_the_maternity_hospital(maternity_harvest: SimulationResult) -> None:
    inc = _check(maternity_harvest, read_all(maternity_harvest.out_dir))
    assert 2 <= inc["counts"]["days"] <= 3


def test_in_the_general_hospital(general: SimulationResult, general_lines: list[Line]) -> None:
    inc = _check(general, general_lines)
    assert inc["counts"]["days"] == 2  # the period's two days


def test_parameters_vary_with_the_seed(maternity_harvest: SimulationResult,
                                       general: SimulationResult) -> None:
    a, b = _incident(maternity_harvest), _incident(general)
    assert [h["patients"] for h in a["harvest"]] != [h["patients"] for h in b["harvest"]]
    assert a["counts"]["payload_bytes"] != b["counts"]["payload_bytes"]
    assert a["counts"]["wait_seconds"] != b["counts"]["wait_seconds"]
