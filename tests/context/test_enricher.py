"""Every enriched field, firing and not, from real CSV files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sensors.context import Enricher
from sensors.event import Event

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def event(when: str, **given: Any) -> Event:
    """An event at Ho Chi Minh City time ``when``; ``user__id=`` stands for ``user.id``."""
    return Event(datetime.fromisoformat(when).replace(tzinfo=HCM),
                 {k.replace("__", "."): v for k, v in given.items()})


def fields(enricher: Enricher, when: str, **given: Any) -> dict[str, Any]:
    e = event(when, **given)
    enricher.enrich(e)
    return e.fields


# -- roster ---------------------------------------------------------------------------------


def test_roster_fields_added_when_the_log_lacks_them(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv007")
    assert f["user.roles"] == ["billing_clerk", "receptionist"]
    assert f["user.department"] == "tai-chinh"
    assert f["user.full_name"] == "Bùi Thị Thu"
    assert f["user.status"] == "active"  # empty status reads as active
    assert f["user.shift"] == "evening"
    assert "user.end_date" not in f and "user.vendor" not in f
    assert f["phiwatch.user.known"] is True
    assert f["phiwatch.user.vendor"] is False
    assert "user.roster_department" not in f


def test_the_log_is_never_overwritten(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv001", user__roles=["doctor"],
               user__department="san-b", user__full_name="Lan N.")
    assert f["user.roles"] == ["doctor"]
    assert f["user.department"] == "san-b"
    assert f["user.full_name"] == "Lan N."
    assert f["user.roster_department"] == "san-a"


def test_same_department_in_other_case_is_not_a_difference(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv001", user__department="SAN-A")
    assert "user.roster_department" not in f


def test_unknown_account(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv999", user__department="san-a",
               patient__id="BN001")
    assert f["phiwatch.user.known"] is False
    assert "phiwatch.user.terminated" not in f and "phiwatch.user.off_shift" not in f
    # the log's department stands in for the roster's
    assert f["phiwatch.care_relationship"] is True


def test_vendor_named_and_unnamed(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="dt001")
    assert f["user.vendor"] == "Công ty Sao Mai"
    assert f["phiwatch.user.vendor"] is True
    assert f["user.end_date"] == "2026-11-30"
    f = fields(enricher, "2026-11-22T10:00", user__id="nv008")
    assert f["user.vendor"] is True and f["phiwatch.user.vendor"] is True
    assert "user.shift" not in f and "phiwatch.user.off_shift" not in f  # no shift given


# -- terminated -----------------------------------------------------------------------------


def test_disabled_account_is_terminated_at_any_time(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv006")
    assert f["user.status"] == "disabled"
    assert f["phiwatch.user.terminated"] is True


def test_leaver_terminated_only_after_end_date(enricher: Enricher) -> None:
    assert fields(enricher, "2026-11-20T15:00", user__id="nv004")["phiwatch.user.terminated"] \
        is False
    assert fields(enricher, "2026-11-20T23:59", user__id="nv004")["phiwatch.user.terminated"] \
        is False
    assert fields(enricher, "2026-11-21T00:00", user__id="nv004")["phiwatch.user.terminated"] \
        is True
    assert fields(enricher, "2026-11-25T09:00", user__id="nv004")["phiwatch.user.terminated"] \
        is True


def test_leavers_last_night_shift_is_worked_to_its_end(enricher: Enricher) -> None:
    # night 19:00-07:00, 30 min tolerance: the shift starting on 2026-11-20 may run to 07:30
    assert fields(enricher, "2026-11-21T06:50", user__id="nv005")["phiwatch.user.terminated"] \
        is False
    assert fields(enricher, "2026-11-21T07:31", user__id="nv005")["phiwatch.user.terminated"] \
        is True


def test_vendor_after_contract_end(enricher: Enricher) -> None:
    assert fields(enricher, "2026-11-30T12:00", user__id="dt001")["phiwatch.user.terminated"] \
        is False
    assert fields(enricher, "2026-12-01T08:00", user__id="dt001")["phiwatch.user.terminated"] \
        is True


def test_active_staff_not_terminated(enricher: Enricher) -> None:
    assert fields(enricher, "2030-01-01T10:00", user__id="nv001")["phiwatch.user.terminated"] \
        is False


# -- shifts ---------------------------------------------------------------------------------


def off(enricher: Enricher, user: str, when: str) -> tuple[bool, int]:
    f = fields(enricher, when, user__id=user)
    return f["phiwatch.user.off_shift"], f["phiwatch.user.off_shift_minutes"]


def test_day_shift(enricher: Enricher) -> None:
    assert off(enricher, "nv001", "2026-11-22T12:00") == (False, 0)
    assert off(enricher, "nv001", "2026-11-22T16:20") == (False, 20)  # within tolerance
    assert off(enricher, "nv001", "2026-11-22T06:30") == (False, 30)
    assert off(enricher, "nv001", "2026-11-22T16:31") == (True, 31)
    assert off(enricher, "nv001", "2026-11-22T03:00") == (True, 240)  # 4 h before 07:00


def test_night_shift_crosses_midnight(enricher: Enricher) -> None:
    assert off(enricher, "nv002", "2026-11-22T23:30") == (False, 0)
    assert off(enricher, "nv002", "2026-11-22T00:10") == (False, 0)
    assert off(enricher, "nv002", "2026-11-22T06:59") == (False, 0)
    assert off(enricher, "nv002", "2026-11-22T18:45") == (False, 15)
    assert off(enricher, "nv002", "2026-11-22T12:00") == (True, 300)


def test_oncall24_is_never_off_shift(enricher: Enricher) -> None:
    for when in ("2026-11-22T03:00", "2026-11-22T12:00", "2026-11-22T23:59"):
        assert off(enricher, "nv003", when) == (False, 0)


def test_tolerance_is_configurable(make_enricher: Callable[..., Enricher]) -> None:
    strict = make_enricher(shift_tolerance_minutes=0)
    assert off(strict, "nv001", "2026-11-22T16:20") == (True, 20)
    loose = make_enricher(shift_tolerance_minutes=75)
    assert off(loose, "nv001", "2026-11-22T17:10") == (False, 70)


def test_configured_shift_names(make_enricher: Callable[..., Enricher], files: Any) -> None:
    files["roster"].write_text(
        "user_id,full_name,role,department,status,end_date,shift,vendor\n"
        "u1,,nurse,noi,active,,hanh-chinh,\n"
        "u2,,nurse,noi,active,,22:00-06:00,\n", encoding="utf-8")
    e = make_enricher(shifts={"hanh-chinh": "07:00-16:30"})
    assert off(e, "u1", "2026-11-22T16:30") == (False, 0)
    assert off(e, "u1", "2026-11-22T17:30") == (True, 60)
    assert off(e, "u2", "2026-11-22T02:00") == (False, 0)
    assert off(e, "u2", "2026-11-22T12:00") == (True, 360)


def test_shift_in_a_zone_with_daylight_saving(make_enricher: Callable[..., Enricher]) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sensors.event import Event

    e = make_enricher(timezone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    for local in ("2026-01-15T08:00", "2026-07-15T08:00", "2026-03-30T08:00"):
        ev = Event(datetime.fromisoformat(local).replace(tzinfo=berlin), {"user.id": "nv001"})
        e.enrich(ev)
        assert ev.fields["phiwatch.user.off_shift_minutes"] == 0, local
    ev = Event(datetime.fromisoformat("2026-07-15T06:00").replace(tzinfo=berlin),
               {"user.id": "nv001"})
    e.enrich(ev)
    assert ev.fields["phiwatch.user.off_shift_minutes"] == 60


# -- patients -------------------------------------------------------------------------------


def test_flagged_patient(enricher: Enricher) -> None:
    f = fields(enricher, "2026-11-22T10:00", user__id="nv001", patient__id="BN001")
    assert f["patient.flags"] == ["public_figure", "staff_member"]
    assert f["phiwatch.patient.flagged"] is True
    f = fields(enricher, "2026-11-22T10:00", user__id="nv001", patient__id="BN005")
    assert "patient.flags" not in f and f["phiwatch.patient.flagged"] is False


def test_care_relationship(make_enricher: Callable[..., Enricher]) -> None:
    # Exact encounter bounds here; the grace around them is tested below.
    enricher = make_enricher(care_grace_before_minutes=0, care_grace_after_hours=0)

    def care(user: str, patient: str, when: str) -> bool:
        value = fields(enricher, when, user__id=user, patient__id=patient)
        return bool(value["phiwatch.care_relationship"])

    assert care("nv001", "BN001", "2026-11-22T10:00")  # san-a cares for BN001
    assert not care("nv001", "BN001", "2026-11-23T12:01")  # discharged
    assert not care("nv001", "BN001", "2026-11-21T07:59")  # not yet admitted
    assert not care("nv002", "BN001", "2026-11-22T10:00")  # another department
    assert not care("nv001", "BN999", "2026-11-22T10:00")  # no encounter at all
    # a time without offset in the file is Ho Chi Minh City time
    assert care("nv002", "BN002", "2026-11-22T04:59")
    assert not care("nv002", "BN002", "2026-11-22T05:01")
    # an empty end is an ongoing encounter
    assert care("nv006", "BN003", "2027-06-01T10:00")


def test_care_extends_around_the_encounter(make_enricher: Callable[..., Enricher]) -> None:
    """Registration comes before the encounter, discharge papers after it."""
    enricher = make_enricher(care_grace_before_minutes=120, care_grace_after_hours=24)

    def care(when: str) -> bool:
        value = fields(enricher, when, user__id="nv001", patient__id="BN001")
        return bool(value["phiwatch.care_relationship"])

    assert care("2026-11-21T06:01")  # two hours before admission at 08:00
    assert not care("2026-11-21T05:59")
    assert care("2026-11-24T11:59")  # a day after discharge at 12:00
    assert not care("2026-11-24T12:01")


def test_patient_in_care_anywhere(make_enricher: Callable[..., Enricher]) -> None:
    enricher = make_enricher(care_grace_before_minutes=0, care_grace_after_hours=0)

    def in_care(user: str, when: str) -> bool:
        value = fields(enricher, when, user__id=user, patient__id="BN001")
        return bool(value["phiwatch.patient.in_care"])

    assert in_care("nv002", "2026-11-22T10:00")  # cap-cuu has no encounter, san-a has
    assert not in_care("nv002", "2026-11-23T12:01")  # discharged from everywhere


def test_care_uses_the_roster_and_the_logged_department(enricher: Enricher) -> None:
    # nv002 is cap-cuu in the roster but the log says san-a (moved since): san-a cares
    f = fields(enricher, "2026-11-22T10:00", user__id="nv002", user__department="san-a",
               patient__id="BN001")
    assert f["phiwatch.care_relationship"] is True
    f = fields(enricher, "2026-11-22T10:00", user__id="nv002", user__department="so-sinh",
               patient__id="BN001")
    assert f["phiwatch.care_relationship"] is False


def test_maternity(enricher: Enricher) -> None:
    assert fields(enricher, "2026-11-22T10:00", patient__id="BN001")[
        "phiwatch.patient.maternity"] is True  # san-a
    assert fields(enricher, "2026-11-22T10:00", patient__id="BN004")[
        "phiwatch.patient.maternity"] is True  # so-sinh, long ago
    assert fields(enricher, "2026-11-22T10:00", patient__id="BN005")[
        "phiwatch.patient.maternity"] is False  # outpatient only


def test_maternity_departments_configurable(make_enricher: Callable[..., Enricher]) -> None:
    """Configured departments add to those the built-in words recognise."""
    e = make_enricher(maternity_departments=["kham-benh"])
    assert fields(e, "2026-11-22T10:00", patient__id="BN005")["phiwatch.patient.maternity"]
    assert fields(e, "2026-11-22T10:00", patient__id="BN001")["phiwatch.patient.maternity"]


def test_built_in_words_recognise_maternity_departments() -> None:
    from sensors.context import Vocabulary

    v = Vocabulary()
    for name in ("san-a", "Khoa Sản B", "hau-san", "so-sinh", "Obstetrics", "Postpartum Ward",
                 "NICU", "phòng đẻ", "Khám thai"):
        assert v.is_maternity(name), name
    for name in ("noi", "cap-cuu", "kham-benh", "Surgery", "xét nghiệm", "dược"):
        assert not v.is_maternity(name), name


# -- networks -------------------------------------------------------------------------------


def test_source_internal(enricher: Enricher) -> None:
    assert fields(enricher, "2026-11-22T10:00", source__ip="10.20.21.13")[
        "phiwatch.source.internal"] is True
    assert fields(enricher, "2026-11-22T10:00", source__ip="192.168.1.5")[
        "phiwatch.source.internal"] is True
    assert fields(enricher, "2026-11-22T10:00", source__ip="::ffff:10.0.0.1")[
        "phiwatch.source.internal"] is True
    assert fields(enricher, "2026-11-22T10:00", source__ip="203.113.1.9")[
        "phiwatch.source.internal"] is False
    assert "phiwatch.source.internal" not in fields(enricher, "2026-11-22T10:00",
                                                    source__ip="not-an-ip")


def test_internal_networks_configurable(make_enricher: Callable[..., Enricher]) -> None:
    e = make_enricher(internal_networks=["10.20.0.0/16", "2001:db8::/32"])
    assert fields(e, "2026-11-22T10:00", source__ip="10.20.1.1")["phiwatch.source.internal"]
    assert not fields(e, "2026-11-22T10:00", source__ip="10.30.1.1")[
        "phiwatch.source.internal"]
    assert fields(e, "2026-11-22T10:00", source__ip="2001:db8::5")["phiwatch.source.internal"]


# -- files left out -------------------------------------------------------------------------


def test_unconfigured_files_add_nothing(make_enricher: Callable[..., Enricher]) -> None:
    e = make_enricher(roster=None, flagged_patients=None, encounters=None)
    f = fields(e, "2026-11-22T10:00", user__id="nv001", patient__id="BN001",
               source__ip="10.0.0.1")
    assert set(f) == {"user.id", "patient.id", "source.ip", "phiwatch.source.internal"}


def test_enriching_twice_changes_nothing(enricher: Enricher) -> None:
    e = event("2026-11-22T10:00", user__id="nv001", patient__id="BN001", source__ip="10.0.0.1")
    enricher.enrich(e)
    once = dict(e.fields)
    enricher.enrich(e)
    assert e.fields == once


def test_workstation_building(make_enricher: Callable[..., Enricher], tmp_path: Any) -> None:
    ws = tmp_path / "workstations.csv"
    ws.write_text("host_name,ip,department,building\nWS-SAN-A-01,10.20.3.4,san-a,A\n"
                  ",10.20.9.9,cntt,B\nWS-BAD,,cntt,\n", encoding="utf-8")
    enricher = make_enricher(workstations=ws)
    by_host = fields(enricher, "2026-11-22T10:00", user__id="nv001", host__name="ws-san-a-01")
    assert by_host["phiwatch.source.building"] == "A"
    by_ip = fields(enricher, "2026-11-22T10:00", user__id="nv001", source__ip="10.20.9.9")
    assert by_ip["phiwatch.source.building"] == "B"
    unknown = fields(enricher, "2026-11-22T10:00", user__id="nv001", host__name="WS-X")
    assert "phiwatch.source.building" not in unknown
    status = enricher.context.status["workstations"]
    assert status.bad_rows == 1  # the row without a building, reported and skipped


def test_own_record_by_national_id(make_enricher: Callable[..., Enricher], tmp_path: Any,
                                   files: dict[str, Any]) -> None:
    roster = tmp_path / "roster_ids.csv"
    text = files["roster"].read_text(encoding="utf-8").splitlines()
    rows = [text[0] + ",national_id"] + [
        line + (",079190000001" if line.startswith("nv001,") else ",") for line in text[1:]
    ]
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    patients = tmp_path / "patients.csv"
    patients.write_text("patient_id,full_name,national_id\nBN777,X,079190000001\n"
                        "BN001,Y,079190000002\n", encoding="utf-8")
    enricher = make_enricher(roster=roster, patients=patients)
    own = fields(enricher, "2026-11-22T10:00", user__id="nv001", patient__id="BN777")
    assert own["phiwatch.patient.own_record"] is True
    other = fields(enricher, "2026-11-22T10:00", user__id="nv001", patient__id="BN001")
    assert other["phiwatch.patient.own_record"] is False
    no_id = fields(enricher, "2026-11-22T10:00", user__id="nv002", patient__id="BN777")
    assert "phiwatch.patient.own_record" not in no_id  # nv002 has no national id
