"""The vocabulary: a hospital's words to phiwatch's classes, by configuration first and
built-in English and Vietnamese keywords next; unknown stays unknown."""

from __future__ import annotations

import pytest

from sensors.context import Vocabulary
from sensors.context.vocabulary import normalise


@pytest.mark.parametrize(("word", "cls"), [
    ("doctor", "clinical"), ("Bác sĩ", "clinical"), ("Điều dưỡng", "clinical"),
    ("nữ hộ sinh", "clinical"), ("midwife", "clinical"), ("resident", "clinical"),
    ("technician", "service"), ("Kỹ thuật viên xét nghiệm", "service"),
    ("pharmacist", "service"), ("Dược sĩ", "service"), ("lab_tech", "service"),
    ("radiographer", "service"), ("cashier", "desk"), ("Thu ngân", "desk"),
    ("clerk", "desk"), ("billing_clerk", "desk"), ("receptionist", "desk"),
    ("Nhân viên tiếp đón", "desk"), ("it_admin", "it"), ("Kỹ thuật viên CNTT", "it"),
    ("vendor", "vendor"), ("Nhân viên đối tác", "vendor"), ("Giám đốc", "management"),
])
def test_roles(word: str, cls: str) -> None:
    assert Vocabulary().role_class(word) == cls


@pytest.mark.parametrize(("word", "cls"), [
    ("xet-nghiem", "service"), ("Khoa Xét nghiệm", "service"), ("laboratory", "service"),
    ("chan-doan-hinh-anh", "service"), ("Radiology", "service"), ("Khoa Dược", "service"),
    ("pharmacy", "service"), ("tai-chinh", "desk"), ("Phòng Tài chính Kế toán", "desk"),
    ("tiep-nhan", "desk"), ("cashier", "desk"), ("cntt", "it"), ("doi-tac", "partner"),
    ("san-a", "care"), ("Khoa Sản", "care"), ("cap-cuu", "care"), ("Khoa Nội", "care"),
    ("Emergency", "care"), ("Phòng khám thai", "care"), ("NICU", "care"),
])
def test_departments(word: str, cls: str) -> None:
    assert Vocabulary().department_class(word) == cls


def test_unknown_words_stay_unknown_and_configuration_wins() -> None:
    v = Vocabulary(roles={"bảo vệ": "desk"}, departments={"phòng 12": "service"})
    assert Vocabulary().role_class("bảo vệ") is None  # a guard: not guessed
    assert v.role_class("Bảo Vệ") == "desk"
    assert v.department_class("Phòng 12") == "service"
    assert Vocabulary().department_class("phòng 12") is None
    assert Vocabulary().roles_class(["trainee", "nurse"]) == "clinical"


def test_whole_words_only() -> None:
    """``it`` is IT, but ``admit`` or ``kitchen`` is not."""
    v = Vocabulary()
    assert v.role_class("kitchen staff") is None
    assert v.department_class("admitting office") is None
    assert normalise("Khoa Sản-A  (cơ sở 2)") == "khoa san a co so 2"
