"""Facts drawn from the sample incident: counts, people, places, history, pseudonyms."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerting.reports import sample
from alerting.reports.errors import FactsError
from alerting.reports.facts import facts_from_incident
from alerting.reports.model import ReportFacts
from alerting.reports.profile import HospitalProfile
from alerting.reports.pseudonym import HmacPseudonymizer


def test_counts_people_and_places_come_from_the_evidence(facts: ReportFacts) -> None:
    assert facts.counts_basis == "evidence"
    assert facts.patients_count == 330
    assert facts.records_count == 330
    assert facts.bytes_out == 45_000_000
    assert [a.id for a in facts.accounts] == ["nv04512"]
    assert facts.accounts[0].name == "Lê Thị Hồng"
    assert facts.accounts[0].roles == ("midwife",)
    assert [(w.host, w.ip) for w in facts.workstations] == [("WS-SANB-07", "10.20.4.17")]
    assert facts.destinations == ("g.api.mega.co.nz:443",)
    assert "Bệnh án điện tử (EMR)" in facts.systems
    assert facts.sensitive_data
    assert len(facts.affected_patients) == 330
    assert all(p.accesses == 1 for p in facts.affected_patients)


def test_times_are_utc_and_the_clock_starts_at_detection(facts: ReportFacts) -> None:
    assert facts.detected_at == sample.local(2026, 12, 4, 17, 3)
    assert facts.detected_at.tzinfo == UTC
    assert facts.occurred_from == sample.local(2026, 12, 2, 13, 30)
    assert facts.occurred_to is not None and facts.occurred_to > sample.local(2026, 12, 4, 16, 48)


def test_history_gives_measures_and_the_analysts_cause(facts: ReportFacts) -> None:
    texts = [m.text for m in facts.measures_taken]
    assert any("Khóa tạm thời tài khoản nv04512" in t for t in texts)
    dated = [m for m in facts.measures_taken if m.at is not None]
    assert dated and all(m.by == "it.tran" for m in dated)
    assert any("Nhận định của cán bộ xác minh" in c for c in facts.cause)
    assert sum("Slow-and-low" in c for c in facts.cause) == 3
    assert facts.notified[0].recipient.startswith("Công an Thành phố Hồ Chí Minh")


def test_no_patient_id_leaves_the_hospital(facts: ReportFacts) -> None:
    dumped = facts.model_dump_json()
    assert "BN2026" not in dumped
    assert all(p.pseudonym.startswith("BN-") for p in facts.affected_patients)


def test_without_evidence_the_alerts_counts_are_a_lower_bound(
        case: sample.SampleCase, hospital: HospitalProfile,
        pseudonymize: HmacPseudonymizer) -> None:
    f = facts_from_incident(case.incident, case.alerts, hospital, now=datetime.now(UTC),
                            pseudonymize=pseudonymize)
    assert f.counts_basis == "alerts"
    assert f.patients_count == 110
    assert f.records_count == 330
    assert f.bytes_out == 45_000_000
    assert f.affected_patients == ()


def test_an_incident_of_another_hospital_is_refused(
        case: sample.SampleCase, hospital: HospitalProfile,
        pseudonymize: HmacPseudonymizer) -> None:
    other = replace(case.incident, organization_id="bv-khac")
    with pytest.raises(FactsError, match="belongs to 'bv-khac'"):
        facts_from_incident(other, case.alerts, hospital, now=datetime.now(UTC),
                            pseudonymize=pseudonymize)


def test_a_naive_time_is_refused(case: sample.SampleCase, hospital: HospitalProfile,
                                 pseudonymize: HmacPseudonymizer) -> None:
    with pytest.raises(FactsError, match="timezone-aware"):
        facts_from_incident(case.incident, case.alerts, hospital, now=datetime(2026, 12, 7),
                            pseudonymize=pseudonymize)


def test_pseudonyms_are_keyed_and_per_hospital() -> None:
    a = HmacPseudonymizer(b"k" * 32, "bv-mau")
    assert a("BN1") == a(" BN1 ") != a("BN2")
    assert a("BN1") != HmacPseudonymizer(b"k" * 32, "bv-khac")("BN1")
    assert a("BN1") != HmacPseudonymizer(b"j" * 32, "bv-mau")("BN1")
    with pytest.raises(FactsError):
        HmacPseudonymizer(b"short", "bv-mau")


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "k" / "pseudonym.key"
    first = HmacPseudonymizer.from_key_file(path, "bv-mau")("BN1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert HmacPseudonymizer.from_key_file(path, "bv-mau")("BN1") == first


def test_patient_ids_in_quoted_sentences_become_pseudonyms(
        case: sample.SampleCase, hospital: HospitalProfile,
        pseudonymize: HmacPseudonymizer) -> None:
    """A report leaves the hospital: the ids the alerts name, the evidence's and those
    matching the hospital's patterns are replaced wherever a sentence quotes them."""
    alert = case.alerts[0]
    named = replace(alert, context={**alert.context, "patient.id": "BN2026002000"},
                    explanation="nv04512 opened flagged patient BN2026002000, then "
                                "BN2026999999 and BN2026003001")
    incident = replace(case.incident, alerts=[
        replace(a, explanation=named.explanation) if a.id == alert.id else a
        for a in case.incident.alerts])
    incident.history[-1] = replace(incident.history[-1],
                                   note="Người bệnh BN2026999999 đã được thông báo")
    facts = facts_from_incident(incident, [named, *case.alerts[1:]], hospital,
                                now=sample.local(2026, 12, 7, 9), pseudonymize=pseudonymize,
                                evidence=case.evidence, patient_patterns=[r"BN\d{10}"])
    text = " ".join([*facts.cause, *(a.explanation for a in facts.alerts),
                     *(m.text for m in facts.measures_taken)])
    for raw in ("BN2026002000", "BN2026999999", "BN2026003001"):
        assert raw not in text
        assert pseudonymize(raw) in text
    without_pattern = facts_from_incident(incident, [named], hospital,
                                          now=sample.local(2026, 12, 7, 9),
                                          pseudonymize=pseudonymize)
    quoted = " ".join(a.explanation for a in without_pattern.alerts)
    assert "BN2026002000" not in quoted          # named by the alert's context
    assert "BN2026999999" in quoted              # nothing says it is a patient id
