"""The shipped HIS rules that rest on context enrichment: each one firing and not firing.

Events are built as the enricher leaves them (roster, encounter and network fields set),
then run through the engine with the whole shipped pack, so a test also proves that no
other shipped rule fires on them by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phiwatch.config import BUILTIN_PACKS
from rules.engine import Engine
from rules.loader import load_rules
from sensors.context.vocabulary import SERVING, Vocabulary
from sensors.event import Event

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
RULESET = load_rules([BUILTIN_PACKS])
VOCABULARY = Vocabulary()


def ev(i: int, seconds: float = 0, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "event.dataset": "his.access", "event.action": "view", "event.outcome": "success",
        "user.id": "nv00001", "user.roles": ["nurse"], "user.department": "san-a",
        "source.ip": "10.20.3.4", "host.name": "WS-SAN-A-01",
        "patient.id": f"BN{(i * 7919) % 99991:08d}",  # scattered, as a ward's patients are
        "phiwatch.user.terminated": False, "phiwatch.user.off_shift_minutes": 0,
        "phiwatch.care_relationship": True, "phiwatch.patient.in_care": True,
        "phiwatch.patient.maternity": False, "phiwatch.source.internal": True,
        "phiwatch.user.vendor": False,
    }
    base.update({k.replace("__", "."): v for k, v in fields.items()})
    # The class fields as the enricher derives them (sensors.context.enricher).
    role_class = VOCABULARY.roles_class(base["user.roles"])
    if role_class is not None:
        base.setdefault("phiwatch.user.role_class", role_class)
    department_class = VOCABULARY.department_class(base["user.department"])
    serves_all = department_class in SERVING
    if department_class is not None:
        base.setdefault("phiwatch.user.department_class", department_class)
        base.setdefault("phiwatch.user.serves_all_wards", serves_all)
    base.setdefault("phiwatch.access.justified", base["phiwatch.care_relationship"] or (
        serves_all and base["phiwatch.patient.in_care"]))
    return Event(T0 + timedelta(seconds=seconds), base, f"t.log:{i}", f"e{i}-{seconds}")


def fired(events: Iterable[Event]) -> set[str]:
    engine = Engine(RULESET)
    out = [a for e in events for a in engine.process(e)] + engine.flush()
    return {a.rule_id for a in out}


def test_the_pack_loads_without_errors() -> None:
    assert [e for e in RULESET.errors if e.is_error] == []


def test_ordinary_ward_work_raises_nothing() -> None:
    assert fired(ev(i, 60 * i) for i in range(50)) == set()


def test_terminated_account() -> None:
    assert "phiwatch-his-terminated-account" in fired([ev(1, phiwatch__user__terminated=True)])
    failed_only = ev(1, event__action="login_failed", phiwatch__user__terminated=True)
    assert "phiwatch-his-terminated-account" not in fired([failed_only])


def test_external_login() -> None:
    outside = ev(1, event__action="login", phiwatch__source__internal=False,
                 source__ip="113.188.156.30")
    assert "phiwatch-his-external-login" in fired([outside])
    assert "phiwatch-his-external-login" not in fired([ev(1, event__action="login")])
    refused = ev(1, event__action="login", event__outcome="failure",
                 phiwatch__source__internal=False)
    assert "phiwatch-his-external-login" not in fired([refused])


@pytest.mark.parametrize(("minutes", "patients", "expected"),
                         [(200, 5, True), (200, 2, False), (60, 10, False)])
def test_off_shift(minutes: int, patients: int, expected: bool) -> None:
    events = [ev(i, 60 * i, phiwatch__user__off_shift_minutes=minutes) for i in range(patients)]
    assert ("phiwatch-his-off-shift-access" in fired(events)) is expected


def test_flagged_patient_without_care() -> None:
    snoop = ev(1, patient__flags=["public_figure"], phiwatch__care_relationship=False)
    assert "phiwatch-his-flagged-patient-no-care" in fired([snoop])
    cared = ev(1, patient__flags=["public_figure"])
    assert "phiwatch-his-flagged-patient-no-care" not in fired([cared])
    lab = ev(1, patient__flags=["public_figure"], phiwatch__care_relationship=False,
             user__roles=["lab_tech"], user__department="xet-nghiem")
    assert "phiwatch-his-flagged-patient-no-care" not in fired([lab])  # patient is in care
    lab_no_patient = ev(1, patient__flags=["public_figure"], phiwatch__care_relationship=False,
                        user__roles=["lab_tech"], user__department="xet-nghiem",
                        phiwatch__patient__in_care=False)
    assert "phiwatch-his-flagged-patient-no-care" in fired([lab_no_patient])


def test_vendor_patient_data() -> None:
    vendor = {"phiwatch__user__vendor": True, "user__roles": ["vendor"], "user__id": "dt0003"}
    assert "phiwatch-his-vendor-patient-data" in fired(ev(i, 60 * i, **vendor) for i in range(6))
    assert "phiwatch-his-vendor-patient-data" not in fired(
        ev(i, 60 * i, **vendor) for i in range(3))


def test_maternity_bulk_by_non_clinical_roles() -> None:
    """Before any history (a new installation) the bar is 40 in the hour."""
    clerk = {"phiwatch__patient__maternity": True, "user__roles": ["billing_clerk"],
             "user__department": "tai-chinh"}
    assert "phiwatch-his-maternity-bulk-nonclinical" in fired(
        ev(i, 60 * i, **clerk) for i in range(45))
    assert "phiwatch-his-maternity-bulk-nonclinical" not in fired(
        ev(i, 60 * i, **clerk) for i in range(30))
    midwife = {"phiwatch__patient__maternity": True, "user__roles": ["midwife"]}
    assert "phiwatch-his-maternity-bulk-nonclinical" not in fired(
        ev(i, 60 * i, **midwife) for i in range(45))


# -- the four fixed-threshold rules ---------------------------------------------------------


def test_bulk_patient_lookup() -> None:
    assert "phiwatch-his-bulk-patient-lookup" in fired(ev(i, 25 * i) for i in range(130))
    assert "phiwatch-his-bulk-patient-lookup" not in fired(ev(i, 25 * i) for i in range(110))
    same_patient = (ev(1, 25 * i) for i in range(200))  # many views, one patient
    assert "phiwatch-his-bulk-patient-lookup" not in fired(same_patient)


def test_machine_speed_viewing() -> None:
    assert "phiwatch-his-machine-speed-viewing" in fired(ev(i, 1.5 * i) for i in range(40))
    assert "phiwatch-his-machine-speed-viewing" not in fired(ev(i, 5 * i) for i in range(40))


def test_bulk_export() -> None:
    big = ev(1, event__action="export", his__record_count=2500)
    assert "phiwatch-his-bulk-export" in fired([big])
    routine = ev(1, event__action="export", his__record_count=200)
    assert "phiwatch-his-bulk-export" not in fired([routine])


def test_failed_login_burst() -> None:
    burst = (ev(i, 10 * i, event__action="login_failed", event__outcome="failure")
             for i in range(12))
    assert "phiwatch-his-failed-login-burst" in fired(burst)
    typos = (ev(i, 10 * i, event__action="login_failed", event__outcome="failure")
             for i in range(3))
    assert "phiwatch-his-failed-login-burst" not in fired(typos)


def test_impossible_workstation_hop() -> None:
    here = ev(1, 0, phiwatch__source__building="A", host__name="WS-SAN-A-01")
    there = ev(2, 120, phiwatch__source__building="C", host__name="WS-CDHA-03")
    assert "phiwatch-his-impossible-workstation-hop" in fired([here, there])
    later = ev(2, 900, phiwatch__source__building="C", host__name="WS-CDHA-03")
    assert "phiwatch-his-impossible-workstation-hop" not in fired([here, later])
    same = ev(2, 60, phiwatch__source__building="A", host__name="WS-SAN-A-02")
    assert "phiwatch-his-impossible-workstation-hop" not in fired([here, same])


def test_own_record() -> None:
    own = ev(1, phiwatch__patient__own_record=True)
    assert "phiwatch-his-own-record" in fired([own])
    assert "phiwatch-his-own-record" not in fired([ev(1, phiwatch__patient__own_record=False)])


def test_failed_logins_then_success() -> None:
    def attempts(failed: int, gap: float = 20) -> list[Event]:
        out = [ev(i, gap * i, event__action="login_failed", event__outcome="failure")
               for i in range(failed)]
        return [*out, ev(failed, gap * failed, event__action="login")]

    assert "phiwatch-his-failed-then-success" in fired(attempts(6))
    assert "phiwatch-his-failed-then-success" not in fired(attempts(2))  # a typo or two
    assert "phiwatch-his-failed-then-success" not in fired(attempts(6, gap=200))  # too slow
    success_first = [ev(0, 0, event__action="login"),
                     *(ev(i, 10 * i, event__action="login_failed", event__outcome="failure")
                       for i in range(1, 7))]
    assert "phiwatch-his-failed-then-success" not in fired(success_first)


def test_sequential_enumeration() -> None:
    walk = [ev(i, 50 * i, user__roles=["it_admin"], user__department="cntt",
               patient__id=f"BN2026{4500 + i:06d}") for i in range(60)]
    assert "phiwatch-his-sequential-enumeration" in fired(walk)
    short = walk[:35]
    assert "phiwatch-his-sequential-enumeration" not in fired(short)
    slow = [ev(i, 700 * i, patient__id=f"BN2026{4500 + i:06d}") for i in range(60)]
    assert "phiwatch-his-sequential-enumeration" not in fired(slow)
