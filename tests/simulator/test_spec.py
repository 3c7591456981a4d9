"""The hospital specification: presets, validation, knobs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from simkit import read_all

from simulator import DEFAULT_START, HospitalSpec, simulate


def test_presets() -> None:
    small, large = HospitalSpec.small(), HospitalSpec.large()
    assert 230 <= small.staff_count <= 270
    assert 1450 <= large.staff_count <= 1550
    assert small.timezone == "Asia/Ho_Chi_Minh" and small.organization_id == "bv-demo"
    assert {"san-a", "san-b", "hau-san", "so-sinh", "cap-cuu", "xet-nghiem",
            "chan-doan-hinh-anh", "duoc", "tai-chinh", "tiep-nhan", "cntt"} <= set(small.staff)
    assert date(2026, 11, 16) == DEFAULT_START


@pytest.mark.parametrize("bad", [
    {"staff": {"khoa-ma": {"nurse": 3}}},
    {"staff": {"san-a": {"wizard": 3}}},
    {"timezone": "Asia/Nowhere"},
    {"activity": 0},
    {"unknown_knob": 1},
])
def test_bad_specs_are_refused_with_the_key(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as err:
        HospitalSpec(**bad)  # type: ignore[arg-type]
    assert next(iter(bad)) in str(err.value) or "khoa-ma" in str(err.value) \
        or "wizard" in str(err.value)


def test_days_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days"):
        simulate(HospitalSpec.small(), tmp_path, days=0, seed=1)


def test_a_tiny_custom_hospital_in_another_zone_and_year(tmp_path: Path) -> None:
    """Across New Year and a daylight-saving zone: ids carry the new year, stamps the offset."""
    spec = HospitalSpec(
        organization_id="bv-nho", timezone="Europe/Berlin", history_days=10,
        staff={"san-a": {"doctor": 4, "midwife": 6}, "tiep-nhan": {"receptionist": 6},
               "tai-chinh": {"billing_clerk": 3}, "doi-tac": {"vendor": 2}},
        outpatients_per_day=0, emergency_per_day=0, births_per_day=30,
    )
    progress: list[int] = []
    result = simulate(spec, tmp_path, days=2, seed=5, start=date(2026, 12, 31),
                      progress=progress.append)
    assert sum(progress) == result.events > 0
    lines = read_all(tmp_path)
    assert [p.name for p in result.log_files] == ["access-2026-12-31.log",
                                                  "access-2027-01-01.log"]
    assert all(x.stamp.endswith("+01:00") for x in lines)
    assert any(x.patient and x.patient.startswith("BN2027") for x in lines)
    assert {i["kind"] for i in result.incidents} >= {"bulk_harvest", "scripted_scraper",
                                                     "brute_force", "bulk_export"}
