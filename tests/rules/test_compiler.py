"""Sigma detections compiled to predicates: every modifier, every condition operator."""

from __future__ import annotations

from typing import Any

import pytest
from rulekit import matches, sigma_rule

from rules.compiler import CompileError, compile_rule, requirement

EV: dict[str, Any] = {
    "event.action": "View",
    "user.id": "NV01234",
    "user.name": "Nguyễn Thị Lan",
    "user.roles": ["nurse", "Midwife"],
    "source.ip": "10.20.3.45",
    "his.module": "emr",
    "his.record_count": 120,
    "his.count_text": "45",
    "file.path": "C:\\Exports\\patients_2026.CSV",
    "flag": True,
    "blank": None,
}


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        # plain equality, case-insensitive both ways, including Vietnamese letters
        ("sel: {event.action: view}\ncondition: sel", True),
        ("sel: {event.action: VIEW}\ncondition: sel", True),
        ("sel: {user.name: 'nguyễn thị lan'}\ncondition: sel", True),
        ("sel: {event.action: print}\ncondition: sel", False),
        ("sel: {event.action: [print, view]}\ncondition: sel", True),
        ("sel: {event.action: [print, export]}\ncondition: sel", False),
        # missing field matches nothing
        ("sel: {no.such: view}\ncondition: sel", False),
        # wildcards
        ("sel: {user.id: 'nv*'}\ncondition: sel", True),
        ("sel: {user.id: '*234'}\ncondition: sel", True),
        ("sel: {user.id: '*012*'}\ncondition: sel", True),
        ("sel: {user.id: 'nv?234'}\ncondition: sel", False),
        ("sel: {user.id: 'nv0123?'}\ncondition: sel", True),
        ("sel: {user.id: 'n*1?34'}\ncondition: sel", True),
        ("sel: {user.id: '*'}\ncondition: sel", True),
        ("sel: {no.such: '*'}\ncondition: sel", False),
        # an escaped wildcard is a literal character
        ("sel: {user.id: 'nv\\*'}\ncondition: sel", False),
        # contains / startswith / endswith, case-insensitive
        ("sel: {file.path|contains: 'exports\\'}\ncondition: sel", True),
        ("sel: {file.path|startswith: 'c:\\exports'}\ncondition: sel", True),
        ("sel: {file.path|endswith: '.csv'}\ncondition: sel", True),
        ("sel: {file.path|endswith: '.xlsx'}\ncondition: sel", False),
        ("sel: {file.path|contains: [zip, '2026']}\ncondition: sel", True),
        # all: every value must match
        ("sel: {file.path|contains|all: [exports, '2026', csv]}\ncondition: sel", True),
        ("sel: {file.path|contains|all: [exports, '2025']}\ncondition: sel", False),
        # cased
        ("sel: {event.action|cased: View}\ncondition: sel", True),
        ("sel: {event.action|cased: view}\ncondition: sel", False),
        ("sel: {file.path|cased|endswith: .CSV}\ncondition: sel", True),
        ("sel: {file.path|cased|endswith: .csv}\ncondition: sel", False),
        # regular expressions: case-sensitive unless |i, unanchored
        ("sel: {user.id|re: '^NV[0-9]{5}$'}\ncondition: sel", True),
        ("sel: {user.id|re: '^nv[0-9]+$'}\ncondition: sel", False),
        ("sel: {user.id|re|i: '^nv[0-9]+$'}\ncondition: sel", True),
        ("sel: {user.id|re: '0123'}\ncondition: sel", True),
        ("sel: {his.record_count|re: '^12'}\ncondition: sel", True),
        # cidr
        ("sel: {source.ip|cidr: 10.20.0.0/16}\ncondition: sel", True),
        ("sel: {source.ip|cidr: [192.168.0.0/16, 10.20.3.0/24]}\ncondition: sel", True),
        ("sel: {source.ip|cidr: 10.21.0.0/16}\ncondition: sel", False),
        ("sel: {user.id|cidr: 10.0.0.0/8}\ncondition: sel", False),
        ("sel: {source.ip|cidr: 'fd00::/8'}\ncondition: sel", False),
        # numbers: numeric comparison, numeric strings count as numbers
        ("sel: {his.record_count: 120}\ncondition: sel", True),
        ("sel: {his.record_count: 121}\ncondition: sel", False),
        ("sel: {his.count_text: 45}\ncondition: sel", True),
        ("sel: {his.record_count|gt: 100}\ncondition: sel", True),
        ("sel: {his.record_count|gt: 120}\ncondition: sel", False),
        ("sel: {his.record_count|gte: 120}\ncondition: sel", True),
        ("sel: {his.record_count|lt: 120}\ncondition: sel", False),
        ("sel: {his.record_count|lte: 120}\ncondition: sel", True),
        ("sel: {his.count_text|gt: 9}\ncondition: sel", True),  # 45 > 9, not "45" < "9"
        ("sel: {his.count_text|lt: 100}\ncondition: sel", True),
        ("sel: {user.id|gt: 1}\ncondition: sel", False),  # not a number
        ("sel: {his.record_count: '120'}\ncondition: sel", True),  # string pattern, number
        # booleans
        ("sel: {flag: true}\ncondition: sel", True),
        ("sel: {flag: false}\ncondition: sel", False),
        # neq: not equal
        ("sel: {event.action|neq: print}\ncondition: sel", True),
        ("sel: {event.action|neq: view}\ncondition: sel", False),
        # null and exists
        ("sel: {blank: null}\ncondition: sel", True),
        ("sel: {no.such: null}\ncondition: sel", True),
        ("sel: {user.id: null}\ncondition: sel", False),
        ("sel: {user.id|exists: true}\ncondition: sel", True),
        ("sel: {no.such|exists: true}\ncondition: sel", False),
        ("sel: {no.such|exists: false}\ncondition: sel", True),
        ("sel: {blank|exists: true}\ncondition: sel", False),
        # list fields: any element
        ("sel: {user.roles: midwife}\ncondition: sel", True),
        ("sel: {user.roles|startswith: nur}\ncondition: sel", True),
        ("sel: {user.roles: doctor}\ncondition: sel", False),
        ("sel: {user.roles|contains|all: [nurse, wife]}\ncondition: sel", True),
        # keywords: any string field contains them
        ("kw: [THỊ LAN]\ncondition: kw", True),
        ("kw: [exports]\ncondition: kw", True),
        ("kw: ['midw*']\ncondition: kw", True),
        ("kw: [absent]\ncondition: kw", False),
        ("kw: ['|re': 'patients_[0-9]+']\ncondition: kw", True),
    ],
)
def test_value_matching(detection: str, expected: bool) -> None:
    assert matches(detection, EV) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("a and b", True),
        ("a and c", False),
        ("a or c", True),
        ("c or d", False),
        ("not c", True),
        ("not a", False),
        ("a and not c", True),
        ("not (a and c)", True),
        ("(a or c) and (b or d)", True),
        ("1 of sel_*", True),
        ("all of sel_*", False),
        ("all of sel_a*", True),
        ("1 of them", True),
        ("all of them", False),
        ("any of sel_*", True),
        ("a and not 1 of sel_c*", True),
    ],
)
def test_condition_operators(condition: str, expected: bool) -> None:
    # a, b hold; c, d do not. sel_a1/sel_a2 hold, sel_c does not.
    detection = f"""
a: {{event.action: view}}
b: {{user.id|startswith: nv}}
c: {{event.action: export}}
d: {{user.id: nobody}}
sel_a1: {{his.module: emr}}
sel_a2: {{user.roles: nurse}}
sel_c: {{his.module: billing}}
condition: {condition}
"""
    assert matches(detection, EV) is expected


def test_map_items_are_and_linked_and_list_of_maps_or_linked() -> None:
    both = "sel:\n  event.action: view\n  his.module: billing\ncondition: sel"
    either = "sel:\n  - event.action: view\n  - his.module: billing\ncondition: sel"
    assert matches(both, EV) is False
    assert matches(either, EV) is True


def test_several_conditions_are_alternatives() -> None:
    detection = "a: {event.action: export}\nb: {event.action: view}\ncondition: [a, b]"
    assert matches(detection, EV) is True


def test_negation_matches_missing_field() -> None:
    assert matches("sel: {no.such: x}\ncondition: not sel", EV) is True


@pytest.mark.parametrize(
    ("detection", "modifier"),
    [
        ("sel: {file.path|base64offset|contains: secret}\ncondition: sel", "base64offset"),
        ("sel: {file.path|fieldref: user.id}\ncondition: sel", "fieldref"),
        ("sel: {file.path|wide|contains: x}\ncondition: sel", "wide"),
        ("sel: {file.path|windash|contains: ' -x'}\ncondition: sel", "windash"),
    ],
)
def test_unsupported_modifier_is_named(detection: str, modifier: str) -> None:
    with pytest.raises(CompileError, match=f"modifier '{modifier}'"):
        compile_rule(sigma_rule(detection))


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("sel: {event.action: View}\ncondition: sel", ("event.action", {"view"})),
        ("sel: {event.action: [view, print], patient.id|exists: true}\ncondition: sel",
         ("event.action", {"view", "print"})),
        ("a: {event.action: view}\nb: {event.action: export}\ncondition: a or b",
         ("event.action", {"view", "export"})),
        ("a: {event.action: view}\nb: {user.id: x}\ncondition: a or b", None),
        ("a: {event.action: view}\ncondition: not a", None),
        ("a: {event.action|contains: view}\ncondition: a", None),
        ("a: {event.action|cased: view}\ncondition: a", None),
    ],
)
def test_requirement_is_a_necessary_exact_value(
    detection: str, expected: tuple[str, set[str]] | None
) -> None:
    got = requirement(sigma_rule(detection))
    assert (None if got is None else (got[0], set(got[1]))) == expected
