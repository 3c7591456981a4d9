"""Vietnamese names: surname frequencies, middle names by sex, diacritics."""

from __future__ import annotations

import random
from collections import Counter

from simkit import read_csv

from simulator import SimulationResult
from simulator.names import SURNAME_SHARES, NameGenerator


def test_surname_shares_sum_to_100() -> None:
    assert abs(sum(SURNAME_SHARES.values()) - 100) < 0.5


def test_surname_frequencies_of_simulated_patients(small: SimulationResult) -> None:
    names = [p["full_name"] for p in read_csv(small.patients_file)
             if not p["full_name"].startswith("Con bà")]
    assert len(names) > 5000
    share = {k: v / len(names) for k, v in Counter(n.split()[0] for n in names).items()}
    assert 0.34 <= share["Nguyễn"] <= 0.43
    assert 0.08 <= share["Trần"] <= 0.14
    assert 0.07 <= share["Lê"] <= 0.12
    assert 0.05 <= share["Phạm"] <= 0.09
    assert 0.035 <= share.get("Hoàng", 0) + share.get("Huỳnh", 0) <= 0.07
    for rarer in ("Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"):
        assert rarer in share


def test_staff_names_look_vietnamese(small: SimulationResult) -> None:
    roster = read_csv(small.roster)
    surnames = Counter(r["full_name"].split()[0] for r in roster)
    assert surnames.most_common(1)[0][0] == "Nguyễn"
    assert all(len(r["full_name"].split()) == 3 for r in roster)


def test_middle_names_follow_sex() -> None:
    gen = NameGenerator(random.Random(1))
    women = [gen.full_name(True).split() for _ in range(4000)]
    men = [gen.full_name(False).split() for _ in range(4000)]
    thi = sum(1 for n in women if n[1] == "Thị") / len(women)
    van = sum(1 for n in men if n[1] == "Văn") / len(men)
    assert 0.38 <= thi <= 0.52 and 0.28 <= van <= 0.42
    assert not any(n[1] == "Thị" for n in men) and not any(n[1] == "Văn" for n in women)
    assert all(n[1] != n[2] for n in women + men)
    assert any("ễ" in " ".join(n) for n in women)  # diacritics are kept


def test_maternity_patients_are_women_and_babies_are_named_after_them(
        small: SimulationResult) -> None:
    patients = {p["patient_id"]: p for p in read_csv(small.patients_file)}
    babies = [p for p in patients.values() if p["mother_id"]]
    for b in babies:
        mother = patients[b["mother_id"]]
        assert b["full_name"] == f"Con bà {mother['full_name']}"
        assert mother["sex"] == "F"
