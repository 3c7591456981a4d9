"""The context-dependent injected incidents: in the log as labelled, and normal traffic
that leaves them distinguishable (the bounds the context rules rest on)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from simkit import (
    Line,
    by_user,
    ground_truth,
    incident_window,
    max_distinct,
    max_in_window,
    normal_lines,
    patient_points,
    read_all,
    read_csv,
)

from simulator import HospitalSpec, SimulationResult, simulate
from simulator.patterns import ALL_KINDS, CONTEXT_KINDS
from simulator.spec import INCIDENT_KINDS

MATERNITY = ("san-a", "san-b", "hau-san", "so-sinh")
NON_CLINICAL = ("billing_clerk", "receptionist", "it_admin", "vendor")
#: Shift → (start, end) in minutes after the local midnight it starts on (``oncall24``:
#: always on duty).
SHIFTS = {"day": (420, 960), "evening": (840, 1320), "night": (1140, 1860)}
#: The context kinds this module checks (the classic four: test_incidents).
EXPECTED = {
    "slow_harvest", "maternity_bulk_nonclinical", "off_shift_access",
    "flagged_patient_no_care", "terminated_account", "vendor_patient_data",
    "sequential_enumeration", "workstation_hop", "own_record", "failed_then_success",
    "external_login",
}


class Context:
    """The simulated hospital's context files, read back."""

    def __init__(self, out: Path) -> None:
        self.roster = {r["user_id"]: r for r in read_csv(out / "roster.csv")}
        self.patients = {r["patient_id"]: r for r in read_csv(out / "patients.csv")}
        self.flagged = {r["patient_id"]: r["reason"]
                        for r in read_csv(out / "flagged_patients.csv")}
        self.stations = {r["host_name"]: r for r in read_csv(out / "workstations.csv")}
        self.networks = [ipaddress.ip_network(r["cidr"]) for r in read_csv(out / "networks.csv")]
        self.care: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for e in read_csv(out / "encounters.csv"):
            end = datetime.fromisoformat(e["end"]).timestamp() if e["end"] else float("inf")
            self.care[e["patient_id"]].append(
                (e["department"], datetime.fromisoformat(e["start"]).timestamp(), end))

    def maternity(self, pid: str | None) -> bool:
        return any(d in MATERNITY for d, _, _ in self.care.get(pid or "", ()))

    def cares(self, department: str, pid: str, t: float, grace: float = 86400) -> bool:
        """The department had an encounter with the patient at ``t`` (or ended < grace ago)."""
        return any(d == department and a - 3600 <= t <= b + grace
                   for d, a, b in self.care.get(pid, ()))

    def internal(self, ip: str) -> bool:
        return any(ipaddress.ip_address(ip) in n for n in self.networks)


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
    views = [x for x in mine if x.action == "view"]
    distinct = {x.patient for x in views}
    hourly = max_distinct(patient_points(mine), 3600)
    assert hourly < 120 and max_in_window([x.t for x in views], 60) < 30  # no fixed rule
    hour = datetime.fromisoformat(inc["start"]).hour
    if kind == "slow_harvest":
        assert who["role"] in ("nurse", "midwife") and who["department"] in MATERNITY
        assert 40 <= hourly < 100 and len(distinct) == inc["patients"] >= 200
        assert mine[-1].t - mine[0].t >= 6 * 3600
        assert all(ctx.maternity(p) for p in distinct)
    elif kind == "maternity_bulk_nonclinical":
        assert who["role"] in NON_CLINICAL and 70 <= len(distinct) == inc["patients"]
        assert all(ctx.maternity(p) for p in distinct) and hourly >= 50
    elif kind == "off_shift_access":
        assert who["shift"] == "day" and (hour >= 21 or hour < 5) and distinct
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


def test_every_context_incident_is_in_the_log(small_all: SimulationResult,
                                              small_all_lines: list[Line]) -> None:
    truth = [i for i in ground_truth(small_all.out_dir) if i["kind"] in ALL_KINDS]
    assert [i["kind"] for i in truth] == list(ALL_KINDS)
    assert len({i["id"] for i in truth}) == len(truth)
    ctx = Context(small_all.out_dir)
    for inc in truth:
        _check(inc, small_all_lines, ctx)


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
    peaks = _quiet(small_all.out_dir, small_all_lines)
    assert peaks["ward"] < 30  # the slow harvester runs at 40–70 an hour


def test_large_normal_traffic_leaves_the_context_signals_quiet(large: SimulationResult) -> None:
    peaks = _quiet(large.out_dir, read_all(large.out_dir))
    assert peaks["ward"] < 30


def _quiet(out: Path, lines: list[Line]) -> dict[str, int]:
    """Outside the incidents: what each context rule keys on never happens, or stays far
    below the injected rates. Returns the peaks it measured."""
    ctx = Context(out)
    normal = normal_lines(lines, ground_truth(out))
    ward_peak = nonclinical_peak = 0
    for user, mine in by_user(normal).items():
        who = ctx.roster[user]
        if who["role"] in NON_CLINICAL:
            points = [(x.t, x.patient or "") for x in mine
                      if x.patient and ctx.maternity(x.patient)]
            nonclinical_peak = max(nonclinical_peak, max_distinct(points, 3600))
        if who["department"] in MATERNITY and who["role"] in ("nurse", "midwife"):
            ward_peak = max(ward_peak, max_distinct(patient_points(mine), 3600))
        hosts = [(x.t, ctx.stations[x.host]["building"]) for x in mine]
        for (t0, b0), (t1, b1) in pairwise(hosts):
            assert b0 == b1 or t1 - t0 > 1800, user  # no building hop within half an hour
        window = SHIFTS.get(who["shift"])
        for x in mine:
            assert ctx.internal(x.ip), x
            if window is not None:  # from 15 min before the shift to 70 min after it
                local = datetime.fromisoformat(x.stamp)
                m = local.hour * 60 + local.minute
                assert any(window[0] - 16 <= v <= window[1] + 71 for v in (m, m + 1440)), x
            if who["vendor"]:
                assert x.module != "reception", x
            if x.patient:
                nid = ctx.patients.get(x.patient, {}).get("national_id")
                assert not nid or nid != who["national_id"], x  # nobody opens their own
            if x.patient in ctx.flagged and who["role"] in ("doctor", "nurse", "midwife") \
                    and x.department not in ("xet-nghiem", "chan-doan-hinh-anh"):
                assert ctx.cares(x.department, x.patient, x.t), x
            if who["status"] == "inactive":
                end = datetime.fromisoformat(who["end_date"] + "T09:00:00+07:00").timestamp()
                assert x.t < end + 86400, x
    # non-clinical staff open at most this many maternity patients an hour (the
    # injected non-clinical bulk access: 60 and more)
    assert nonclinical_peak < 40
    return {"ward": ward_peak, "nonclinical": nonclinical_peak}


@pytest.mark.parametrize("seed", [7])
def test_same_seed_same_bytes_with_every_kind(small_all: SimulationResult, tmp_path: Path,
                                              seed: int) -> None:
    spec = HospitalSpec.small().model_copy(update={"incident_kinds": None})
    again = simulate(spec, tmp_path, days=2, seed=seed)
    for a, b in zip(small_all.files, again.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
