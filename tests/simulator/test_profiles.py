"""Two hospitals with nothing in common but the machinery: vocabularies apart, the same
files, deterministic, described to IT in ``hospital.yaml``, no rule id in the truth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from simkit import Line, read_csv

from sensors.context import ContextConfig
from simulator import HospitalSpec, SimulationResult, simulate
from simulator.profiles import PROFILE_NAMES, profile
from simulator.spec import INCIDENT_KINDS, NETWORK_INCIDENT_KINDS


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _folded(words: object) -> set[str]:
    """Words compared without case or diacritics: ``KPS`` is ``kps``, ``Sản`` is ``san``."""
    import unicodedata

    return {"".join(c for c in unicodedata.normalize("NFD", str(w).lower())
                    if not unicodedata.combining(c)).replace("đ", "d")
            for w in words}  # type: ignore[attr-defined]


def test_the_vocabularies_share_no_word() -> None:
    """No role, department or shift word of one profile is one of the other's, even
    without case and diacritics: rules naming one hospital's words find nothing in the
    other."""
    a, b = profile("maternity"), profile("general")
    for mine, theirs in ((a.roles, b.roles), (a.departments, b.departments),
                         (a.shifts, b.shifts)):
        assert not _folded(mine) & _folded(theirs)
    everything_a = _folded([*a.roles, *a.departments, *a.shifts])
    everything_b = _folded([*b.roles, *b.departments, *b.shifts])
    assert not everything_a & everything_b


def test_the_written_rosters_share_no_word(small: SimulationResult,
                                           general: SimulationResult) -> None:
    def vocabulary(result: SimulationResult) -> set[str]:
        return {r[k] for r in read_csv(result.roster) for k in ("role", "department", "shift")}
    assert not _folded(vocabulary(small)) & _folded(vocabulary(general))


def test_presets_and_profiles() -> None:
    assert PROFILE_NAMES == ("maternity", "general")
    small, large = HospitalSpec.small("general"), HospitalSpec.large("general")
    assert 180 <= small.staff_count <= 260 and 500 <= large.staff_count <= 900
    assert small.profile == large.profile == "general"
    assert small.incident_kinds is None and small.network_incident_kinds is None
    assert HospitalSpec.preset("large", "maternity") == HospitalSpec.large()
    with pytest.raises(ValueError, match="profile"):
        HospitalSpec(profile="nowhere")
    with pytest.raises(ValueError, match="san-a"):  # the maternity words mean nothing here
        HospitalSpec(profile="general", staff={"san-a": {"bác sĩ": 2}})
    with pytest.raises(ValueError, match="midwife"):
        HospitalSpec(profile="general", staff={"KPS": {"midwife": 2}})


def test_both_profiles_write_the_same_files(small: SimulationResult,
                                            general: SimulationResult) -> None:
    def names(result: SimulationResult) -> set[str]:
        return {re.sub(r"\d{4}-\d{2}-\d{2}", "DAY", str(p.relative_to(result.out_dir)))
                for p in result.files}
    assert names(small) == names(general)
    for p in general.files:
        assert p.is_file() and p.stat().st_size > 0, p
    for name in ("roster.csv", "flagged_patients.csv", "encounters.csv", "patients.csv",
                 "workstations.csv", "networks.csv", "assignments.csv"):
        first = (small.out_dir / name).read_text(encoding="utf-8").splitlines()[0]
        assert (general.out_dir / name).read_text(encoding="utf-8").splitlines()[0] == first


def test_general_is_deterministic_per_seed(general: SimulationResult, tmp_path: Path) -> None:
    again = simulate(HospitalSpec.small("general"), tmp_path / "again", days=2, seed=7)
    assert _tree(again.out_dir) == _tree(general.out_dir)
    other = simulate(HospitalSpec.small("general"), tmp_path / "other", days=1, seed=8)
    assert other.roster.read_bytes() != general.roster.read_bytes()
    assert other.log_files[0].read_bytes() != general.log_files[0].read_bytes()


def test_maternity_is_deterministic_with_the_new_kind(tmp_path: Path) -> None:
    spec = HospitalSpec.small().model_copy(
        update={"incident_kinds": (), "network_incident_kinds": ("ward_harvest_upload",)})
    a = simulate(spec, tmp_path / "a", days=2, seed=3)
    b = simulate(spec, tmp_path / "b", days=2, seed=3)
    assert _tree(a.out_dir) == _tree(b.out_dir)
    assert [i["kind"] for i in a.incidents] == ["ward_harvest_upload"]


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return [*doc, *(s for v in doc.values() for s in _strings(v))]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return [doc] if isinstance(doc, str) else []


@pytest.mark.parametrize("hospital", ["small_all", "general"])
def test_the_ground_truth_names_no_rule(hospital: str, request: pytest.FixtureRequest) -> None:
    result: SimulationResult = request.getfixturevalue(hospital)
    doc = orjson.loads(result.ground_truth.read_bytes())
    assert not [s for s in _strings(doc) if "phiwatch-" in s or s == "expected_rules"]
    for inc in doc["incidents"]:
        assert inc["kind"] in (*INCIDENT_KINDS, *NETWORK_INCIDENT_KINDS)


def test_general_injects_every_kind(general: SimulationResult) -> None:
    kinds = [i["kind"] for i in general.incidents]
    assert kinds == [*INCIDENT_KINDS, *NETWORK_INCIDENT_KINDS]


@pytest.mark.parametrize("hospital", ["small", "general"])
def test_hospital_yaml_is_what_it_knows(hospital: str, request: pytest.FixtureRequest) -> None:
    """Hours for every roster shift word, department classes that name real departments,
    the networks of networks.csv; what phiwatch's configuration takes, it accepts."""
    result: SimulationResult = request.getfixturevalue(hospital)
    doc = yaml.safe_load(result.hospital.read_text(encoding="utf-8"))
    roster = read_csv(result.roster)
    assert {r["shift"] for r in roster} <= set(doc["shifts"])
    departments = set(doc["departments"])
    assert {r["department"] for r in roster} <= departments
    for key in ("maternity_departments", "postpartum_departments", "neonatal_departments",
                "antenatal_departments", "service_departments"):
        assert set(doc[key]) <= departments, key
    assert set(doc["postpartum_departments"]) | set(doc["neonatal_departments"]) \
        <= set(doc["maternity_departments"])
    assert not set(doc["service_departments"]) & set(doc["maternity_departments"])
    assert [(n["cidr"], n["name"]) for n in doc["networks"]] == [
        (r["cidr"], r["name"]) for r in read_csv(result.networks)]
    config = ContextConfig.model_validate({
        "shifts": doc["shifts"], "maternity_departments": doc["maternity_departments"]})
    assert config.shifts == doc["shifts"]


def test_general_shift_hours() -> None:
    doc = profile("general")
    assert doc.shift_hours("hành chính") == "07:00-16:30"
    assert doc.shift_hours("ca 3") == "22:00-06:00"
    assert doc.shift_hours("trực 24h") == "07:00-07:00"
    assert doc.shift_hours("xoay ca") == "06:00-14:00+14:00-22:00+22:00-06:00"
    assert profile("maternity").shift_hours("night") == "19:00-07:00"


def test_staff_in_two_departments(general: SimulationResult,
                                  general_lines: list[Line]) -> None:
    """Some staff work in a second department; the log shows it on those days, with
    its workstations and its patients; the roster keeps the first, assignments.csv
    lists both."""
    roster = {r["user_id"]: r for r in read_csv(general.roster)}
    assigned: dict[str, set[str]] = {}
    for r in read_csv(general.assignments):
        assigned.setdefault(r["user_id"], set()).add(r["department"])
    floaters = {u for u, d in assigned.items() if len(d) == 2}
    assert len(floaters) >= 4
    stations = {r["host_name"]: r["department"] for r in read_csv(general.workstations)}
    seen: dict[str, set[str]] = {}
    for x in general_lines:
        seen.setdefault(x.user, set()).add(x.department)
        if x.user in floaters:
            assert stations[x.host] == x.department, x
    worked_two = {u for u in floaters if len(seen.get(u, ())) == 2}
    assert worked_two, "no floater worked in their second department"
    for u in worked_two:
        assert seen[u] == assigned[u] and roster[u]["department"] in seen[u]
