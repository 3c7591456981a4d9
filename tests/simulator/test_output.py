"""Files and fields: determinism, the canonical schema, the context files."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
from simkit import Line, read_csv

from sensors.event import HIS_ACTIONS
from simulator import HospitalSpec, SimulationResult, simulate

PATIENT_ID = re.compile(r"^BN20\d{2}\d{6}$")
MODULES = {"emr", "lab", "pacs", "pharmacy", "billing", "reception", "admin"}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(small: SimulationResult, tmp_path: Path) -> None:
    again = simulate(HospitalSpec.small(), tmp_path / "again", days=1, seed=7)
    assert again.events == small.events
    assert _tree(tmp_path / "again") == _tree(small.out_dir)


def test_another_seed_gives_another_hospital(small: SimulationResult, tmp_path: Path) -> None:
    other = simulate(HospitalSpec.small(), tmp_path / "other", days=1, seed=8)
    assert other.roster.read_bytes() != small.roster.read_bytes()
    assert other.log_files[0].read_bytes() != small.log_files[0].read_bytes()


def test_files_written(small: SimulationResult) -> None:
    assert [p.name for p in small.log_files] == ["access-2026-11-16.log"]
    for p in small.files:
        assert p.is_file() and p.stat().st_size > 0, p
    assert 50_000 <= small.events <= 80_000
    assert sum(1 for _ in small.log_files[0].open("rb")) == small.events


def test_every_line_is_a_canonical_event(small: SimulationResult) -> None:
    with open(small.log_files[0], "rb") as f:
        for n, raw in enumerate(f, 1):
            e = orjson.loads(raw)
            where = f"line {n}: {raw[:200]!r}"
            assert set(e) >= {"@timestamp", "event", "user", "source", "host", "his",
                              "organization"}, where
            assert e["event"]["action"] in HIS_ACTIONS, where
            assert e["event"]["outcome"] == (
                "failure" if e["event"]["action"] == "login_failed" else "success"), where
            u = e["user"]
            assert re.match(r"^(nv\d{5}|dt\d{4})$", u["id"]) and u["name"], where
            assert isinstance(u["roles"], list) and len(u["roles"]) == 1, where
            assert u["department"], where
            assert e["source"]["ip"].startswith("10."), where
            assert e["host"]["name"], where
            assert e["his"]["module"] in MODULES, where
            count = e["his"]["record_count"]
            assert isinstance(count, int) and count >= 0, where
            assert e["organization"]["id"] == "bv-demo", where
            if "patient" in e:
                assert PATIENT_ID.match(e["patient"]["id"]), where
            if e["event"]["action"] == "view":
                assert "patient" in e and count == 1, where


def test_times_are_tz_aware_in_order_and_in_the_file_day(small_lines: list[Line]) -> None:
    last = 0.0
    for x in small_lines:
        ts = datetime.fromisoformat(x.stamp)
        assert ts.utcoffset() == timedelta(hours=7), x.stamp
        assert x.stamp.endswith("+07:00")
        assert ts.date() == date(2026, 11, 16)
        assert x.t >= last, x
        last = x.t


def test_multi_day_files_cover_their_local_day(small_week: SimulationResult) -> None:
    names = [p.name for p in small_week.log_files]
    assert names == [f"access-2026-11-{d}.log" for d in (16, 17, 18, 19)]
    for p in small_week.log_files:
        day = p.name[7:17]
        first = orjson.loads(p.open("rb").readline())["@timestamp"]
        *_, last_raw = p.open("rb")
        assert first.startswith(day + "T0") and orjson.loads(last_raw)["@timestamp"].startswith(day)
    assert sum(small_week.events_per_day.values()) == small_week.events


def test_workstation_addresses_follow_the_documented_plan(small: SimulationResult,
                                                          small_lines: list[Line]) -> None:
    plan = {r["host_name"]: r for r in read_csv(small.workstations)}
    assert plan["WS-SAN-A-03"]["ip"] == "10.20.21.13"
    assert len({r["ip"] for r in plan.values()}) == len(plan)
    for x in small_lines:
        assert plan[x.host]["ip"] == x.ip, x
        if plan[x.host]["department"] != "vpn":
            assert plan[x.host]["department"] == x.department or x.role == "vendor", x


def test_roster_matches_the_log(small: SimulationResult, small_lines: list[Line]) -> None:
    roster = read_csv(small.roster)
    assert list(roster[0]) == ["user_id", "full_name", "role", "department", "status",
                               "end_date", "shift", "vendor", "national_id"]
    assert len(roster) == small.staff == HospitalSpec.small().staff_count
    by_id = {r["user_id"]: r for r in roster}
    assert {r["role"] for r in roster} == {
        "doctor", "nurse", "midwife", "lab_tech", "radiographer", "pharmacist",
        "billing_clerk", "receptionist", "it_admin", "vendor"}
    assert {r["shift"] for r in roster} == {"day", "evening", "night", "oncall24"}
    assert all(r["vendor"] for r in roster if r["role"] == "vendor")
    for x in small_lines:
        r = by_id[x.user]
        assert r["role"] == x.role
        assert r["status"] == "active" or date.fromisoformat(r["end_date"]) >= date(2026, 11, 16)


def test_context_files(small: SimulationResult) -> None:
    patients = {r["patient_id"]: r for r in read_csv(small.patients_file)}
    flagged = read_csv(small.flagged_patients)
    assert flagged and all(f["patient_id"] in patients and f["reason"] for f in flagged)
    encounters = read_csv(small.encounters)
    assert list(encounters[0]) == ["patient_id", "department", "start", "end"]
    for e in encounters:
        assert e["patient_id"] in patients
        start = datetime.fromisoformat(e["start"])
        assert start.utcoffset() == timedelta(hours=7)
        if e["end"]:
            assert datetime.fromisoformat(e["end"]) > start
    babies = [p for p in patients.values() if p["mother_id"]]
    assert babies and all(patients[b["mother_id"]]["sex"] == "F" for b in babies)
    maternity = {e["patient_id"] for e in encounters if e["department"] in ("san-a", "san-b")}
    assert all(patients[p]["sex"] == "F" for p in maternity)


def test_staff_mostly_open_their_own_departments_patients(small: SimulationResult,
                                                          small_lines: list[Line]) -> None:
    seen: dict[str, set[str]] = {}
    for e in read_csv(small.encounters):
        seen.setdefault(e["patient_id"], set()).add(e["department"])
    wards = {"cap-cuu", "kham-benh", "san-a", "san-b", "hau-san", "so-sinh", "noi"}
    views = [x for x in small_lines if x.action == "view" and x.department in wards
             and x.role in ("doctor", "nurse", "midwife")]
    own = sum(1 for x in views if x.department in seen.get(x.patient or "", ()))
    assert own / len(views) > 0.9
