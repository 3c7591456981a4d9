"""The normal-traffic bounds the rule thresholds rest on, and the busy staff that test them.

Bounds are checked on every user outside the injected incidents' windows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from simkit import (
    DISTINCT_PATIENTS_PER_HOUR,
    Line,
    by_user,
    check_bounds,
    ground_truth,
    normal_lines,
    read_all,
    read_csv,
)

from simulator import HospitalSpec, SimulationResult, simulate


def test_small_preset_stays_within_the_bounds(small: SimulationResult,
                                              small_lines: list[Line]) -> None:
    peaks = check_bounds(normal_lines(small_lines, ground_truth(small.out_dir)))
    # the busy roles are really busy: close enough to the thresholds to test them
    assert peaks["lab_tech"] >= 35
    assert peaks["doctor"] >= 15


def test_large_preset_stays_within_the_bounds(large: SimulationResult) -> None:
    lines = read_all(large.out_dir)
    peaks = check_bounds(normal_lines(lines, ground_truth(large.out_dir)))
    assert 40 <= peaks["lab_tech"] < DISTINCT_PATIENTS_PER_HOUR
    assert peaks["doctor"] >= 20  # emergency doctors


def test_large_preset_has_about_300k_events_a_day(large: SimulationResult) -> None:
    assert large.staff == 1506 >= 1500
    assert 280_000 <= large.events <= 330_000


def test_busy_staff_are_busy(small_lines: list[Line]) -> None:
    """Lab techs record hundreds of results a shift; emergency doctors see many patients."""
    per_user = by_user(small_lines)
    lab = [sum(1 for x in m if x.action in ("view", "update")) for m in per_user.values()
           if m[0].role == "lab_tech"]
    assert max(lab) >= 500
    ed = [sum(1 for x in m if x.action == "view") for m in per_user.values()
          if m[0].role == "doctor" and m[0].department == "cap-cuu"]
    assert max(ed) >= 150
    exports = [x for x in small_lines if x.action == "export" and x.role == "billing_clerk"]
    assert exports and all(20 <= x.count <= 200 for x in exports if x.count < 2000)


def test_failed_logins_are_typos_followed_by_success(small: SimulationResult,
                                                      small_lines: list[Line]) -> None:
    normal = normal_lines(small_lines, ground_truth(small.out_dir))
    typos = 0
    for user, mine in by_user(normal).items():
        for i, x in enumerate(mine):
            if x.action == "login_failed":
                typos += 1
                after = [y for y in mine[i + 1:i + 3] if y.action == "login"]
                assert after and after[0].t - x.t <= 30 and after[0].ip == x.ip, user
    assert typos > 0


def test_activity_stays_in_the_shift(small: SimulationResult, small_lines: list[Line]) -> None:
    shift = {r["user_id"]: r["shift"] for r in read_csv(small.roster)}
    truth = ground_truth(small.out_dir)
    outside = 0
    normal = normal_lines(small_lines, truth)
    for x in normal:
        hour = datetime.fromisoformat(x.stamp).hour
        inside = {
            "day": 6 <= hour < 18, "evening": 13 <= hour < 24,
            "night": hour >= 18 or hour < 9, "oncall24": True,
        }[shift[x.user]]
        outside += not inside
    assert outside / len(normal) < 0.01


@pytest.mark.parametrize("role", ["nurse", "midwife"])
def test_night_shift_crosses_midnight(small_lines: list[Line], role: str) -> None:
    hours = {datetime.fromisoformat(x.stamp).hour for x in small_lines if x.role == role}
    assert {0, 3, 6, 20, 23} <= hours


def test_department_changes_and_departures(small_week: SimulationResult) -> None:
    lines = read_all(small_week.out_dir)
    roster = {r["user_id"]: r for r in read_csv(small_week.roster)}
    departments: dict[str, set[str]] = defaultdict(set)
    last_seen: dict[str, str] = {}
    for x in lines:
        departments[x.user].add(x.department)
        last_seen[x.user] = x.stamp
    moved = [u for u, d in departments.items() if len(d) > 1]
    assert moved, "nobody changed department"
    for u in moved:
        assert len(departments[u]) == 2 and roster[u]["department"] in departments[u]
    left = [u for u, r in roster.items() if r["status"] == "inactive" and u in last_seen]
    assert left, "nobody left during the period"
    for u, r in roster.items():
        if r["status"] == "inactive" and u in last_seen:
            # the last shift starts on the end date; a night shift ends the morning after
            ends = datetime.fromisoformat(r["end_date"] + "T09:00:00+07:00") + timedelta(days=1)
            assert datetime.fromisoformat(last_seen[u]) < ends, u


# -- the general hospital ---------------------------------------------------------------


def _daily(lines: list[Line]) -> dict[tuple[str, str], int]:
    """Distinct patients opened per (user, local day)."""
    days: dict[tuple[str, str], set[str]] = defaultdict(set)
    for x in lines:
        if x.patient and x.action in ("view", "print", "export"):
            days[(x.user, x.stamp[:10])].add(x.patient)
    return {k: len(v) for k, v in days.items()}


def test_general_stays_within_the_bounds(general: SimulationResult,
                                         general_lines: list[Line]) -> None:
    peaks = check_bounds(normal_lines(general_lines, ground_truth(general.out_dir)))
    assert peaks["kỹ thuật viên"] >= 30  # laboratory technicians are busy here too
    assert max(peaks.values()) < DISTINCT_PATIENTS_PER_HOUR


def test_general_activity_levels_differ_by_role(general: SimulationResult,
                                                general_lines: list[Line]) -> None:
    """Ward nurses and midwives keep to their few beds (a dozen or two patients a day);
    the antenatal clinic's receptionists register 120–250 mothers a day each; the
    laboratory opens hundreds."""
    roster = {r["user_id"]: r for r in read_csv(general.roster)}
    daily = _daily(normal_lines(general_lines, ground_truth(general.out_dir)))
    wards = {"KNTH", "KNTM", "KNHI", "KNGTH", "KCTCH", "KPS", "KHS", "KPK"}
    office = [n for (u, _), n in daily.items() if roster[u]["department"] in wards
              and roster[u]["role"] in ("điều dưỡng", "hộ sinh")
              and roster[u]["shift"] in ("hành chính", "xoay ca")]
    office.sort()
    assert 8 <= office[len(office) // 2] <= 30 and office[-1] <= 45, office
    desk = [n for (u, _), n in daily.items() if roster[u]["department"] == "KKT"
            and roster[u]["role"] == "nhân viên tiếp đón"]
    assert desk and all(120 <= n <= 250 for n in desk), desk
    lab = sorted(n for (u, _), n in daily.items() if roster[u]["department"] == "KXN"
                 and roster[u]["role"] == "kỹ thuật viên")
    assert lab[len(lab) // 2] >= 100, lab


def test_general_large_preset_size(tmp_path: Path) -> None:
    """The bench's general hospital: in the evaluation hospital's range of accounts."""
    result = simulate(HospitalSpec.large("general"), tmp_path, days=1, seed=3, pcap=False)
    assert 600 <= result.staff <= 700
    assert 100_000 <= result.events <= 160_000
    roster = {r["user_id"]: r for r in read_csv(result.roster)}
    daily = _daily(read_all(result.out_dir))
    desk = [n for (u, _), n in daily.items() if roster[u]["department"] == "KKT"
            and roster[u]["role"] == "nhân viên tiếp đón"]
    assert len(desk) == 3 and all(150 <= n <= 250 for n in desk), desk
