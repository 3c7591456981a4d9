"""The nine HL7 FHIR R4 AuditEvent examples, BALP-style events and saved result pages,
each mapped field by field (the table in ``sensors.parsers.fhir``'s docstring)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sensors.parsers import FhirParser, FhirParserConfig
from sensors.parsers.base import identity

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"

HOST = "Workstation1.ehr.familyclinic.com"
OBSERVER = "hl7connect.healthintersections.com.au"
GRAHAME = {"user.id": "95", "user.name": "Grahame Grieve"}
ACCESS = {"event.dataset": "his.access", "event.kind": "event", "event.outcome": "success"}
#: The client workstation, named by the Source Role ID agent (110153).
WORKSTATION = {"source.address": HOST, "host.name": HOST}
LOCALHOST = {"source.address": "127.0.0.1", "source.ip": "127.0.0.1", "host.name": HOST}
E3 = {"patient.id": "e3cdfc81a0d24bd", "patient.id_system": "2.16.840.1.113883.4.2",
      "his.record_count": 1}

R4: dict[str, tuple[str, dict[str, Any]]] = {
    "auditevent-example": ("2012-10-25T11:04:27", {
        "event.dataset": "his.system", "event.kind": "event", "event.outcome": "success",
        "event.action": "application-start", "event.category": ["process"],
        "event.type": ["start"], "his.event_id": "example",
        "user.id": "Grahame", "user.roles": ["Service User (Logon)"], **LOCALHOST,
        "observer.name": "Grahame's Laptop"}),
    "auditevent-example-disclosure": ("2013-09-22T00:08:00", {
        **ACCESS, "event.action": "export", "event.reason": "Successful  Disclosure",
        "his.event_id": "example-disclosure", "user.id": "SomeIdiot@nowhere",
        "user.name": "That guy everyone wishes would be caught",
        "source.address": "custodian.net", "host.name": "custodian.net",
        # one patient: Patient/example, and again by reference plus identifier
        "patient.id": "What.id", "his.record_count": 1,
        "observer.name": "Watchers Accounting of Disclosures Application"}),
    "audit-event-example-login": ("2013-06-20T23:41:23", {
        **ACCESS, "event.action": "login", "his.event_id": "example-login", **GRAHAME,
        **LOCALHOST, "observer.name": OBSERVER}),
    "audit-event-example-logout": ("2013-06-20T23:46:41", {
        **ACCESS, "event.action": "logout", "his.event_id": "example-logout", **GRAHAME,
        **LOCALHOST, "observer.name": OBSERVER}),
    "audit-event-example-media": ("2015-08-27T23:42:24", {
        **ACCESS, "event.action": "export", "his.event_id": "example-media", **GRAHAME,
        **E3, "observer.name": OBSERVER}),  # the Job entity is not a second patient
    "audit-event-example-pixQuery": ("2015-08-26T23:42:24", {
        **ACCESS, "event.action": "search", "his.event_id": "example-pixQuery", **GRAHAME,
        **WORKSTATION, **E3, "observer.name": OBSERVER}),
    "audit-event-example-search": ("2015-08-22T23:42:24", {
        **ACCESS, "event.action": "search", "his.event_id": "example-search", **GRAHAME,
        **WORKSTATION, "observer.name": OBSERVER}),  # the query is not a count
    "audit-event-example-vread": ("2013-06-20T23:42:24", {
        **ACCESS, "event.action": "view", "his.event_id": "example-rest", **GRAHAME,
        **WORKSTATION, "patient.id": "example", "his.record_count": 1,
        "observer.name": OBSERVER}),
    "auditevent-example-error": ("2017-09-07T23:42:24", {
        **ACCESS, "event.outcome": "failure", "event.action": "update",
        "event.reason": "Invalid request to create an Operation resource on the Patient "
                        "endpoint.",
        "his.event_id": "example-error", **GRAHAME, **WORKSTATION,
        "observer.name": OBSERVER}),  # the contained OperationOutcome is not a patient
}

BALP: dict[str, tuple[str, dict[str, Any]]] = {
    "balp-patient-query": ("2026-11-22T02:12:40.250", {
        **ACCESS, "event.action": "search", "his.event_id": "balp-query-0001",
        "user.id": "nv01234", "user.name": "Nguyễn Thị Lan", "user.roles": ["IRCP"],
        "source.address": "10.20.3.45", "source.ip": "10.20.3.45",
        "patient.id": "BN2026001234", "his.record_count": 1,
        "observer.name": "HIS FHIR server"}),
    "balp-update-no-patient": ("2026-11-22T09:20:00", {
        **ACCESS, "event.action": "update", "his.event_id": "balp-update-0002",
        "user.id": "Trần Văn Bình", "user.name": "Trần Văn Bình",  # only a display name
        "user.roles": ["AUT"], "source.address": "2001:0db8:0a14:0000:0000:0000:0000:0021",
        "source.ip": "2001:db8:a14::21", "observer.name": "HIS FHIR server"}),
    "balp-export-850": ("2026-11-22T15:47:03", {
        **ACCESS, "event.action": "export", "his.event_id": "his-xuat-0003",
        "user.id": "nv07777", "user.name": "Phạm Minh Tuấn", "user.roles": ["it"],
        "source.address": "WS-IT-01", "host.name": "WS-IT-01",
        "his.record_count": 850,  # entity.detail recordCount, no patient entity
        "observer.name": "HIS Reports"}),
    "device-job-search": ("2026-11-21T19:00:00", {
        "event.dataset": "his.system", "event.kind": "event", "event.outcome": "success",
        "event.category": ["process"], "event.type": ["info"], "event.action": "search",
        "his.event_id": "job-0004", "user.id": "bhyt-sync",
        "source.address": "10.20.1.40", "source.ip": "10.20.1.40",
        "his.record_count": 120, "observer.name": "HIS FHIR server"}),
    "contained-patient": ("2026-11-22T03:00:00", {
        **ACCESS, "event.action": "view", "his.event_id": "contained-0005",
        "user.id": "nv02001", "source.address": "10.20.9.14", "source.ip": "10.20.9.14",
        "host.name": "WS-SO-SINH-02",  # observer display of a User Device source
        "patient.id": "BN2026005555", "patient.id_system": "https://his.benhvien.vn/ma-bn",
        "his.record_count": 1, "observer.name": "WS-SO-SINH-02"}),
}


def parse(path: Path) -> list[Any]:
    return FhirParser(FhirParserConfig(format="fhir")).parse_document(path.read_bytes(),
                                                                     f"{path.name}:1")


def check(path: Path, when: str, expected: dict[str, Any]) -> None:
    [event] = parse(path)
    assert event.timestamp == datetime.fromisoformat(when).replace(tzinfo=UTC)
    assert event.id == identity(event.epoch, event.fields)
    assert event.fields == {**expected, "event.id": event.id}


def test_all_nine_r4_examples_are_here() -> None:
    assert sorted(p.stem for p in (FIXTURES / "r4").glob("*.json")) == sorted(R4)


@pytest.mark.parametrize("name", sorted(R4))
def test_hl7_r4_example(name: str) -> None:
    check(FIXTURES / "r4" / f"{name}.json", *R4[name])


@pytest.mark.parametrize("name", sorted(BALP))
def test_balp_style_event(name: str) -> None:
    check(FIXTURES / "balp" / f"{name}.json", *BALP[name])


def test_r4_examples_as_ndjson_lines_and_one_bundle() -> None:
    """The same examples compacted to NDJSON, and gathered in one collection Bundle."""
    resources = [orjson.loads(p.read_bytes()) for p in sorted((FIXTURES / "r4").glob("*.json"))]
    parser = FhirParser(FhirParserConfig(format="fhir"))
    lines = [parser.parse(orjson.dumps(r), f"r4.ndjson:{i}")[0]
             for i, r in enumerate(resources, 1)]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in resources]}
    assert parser.parse(orjson.dumps(bundle), "bundle.ndjson:1") == lines


def test_saved_result_pages_read_one_by_one() -> None:
    page1 = parse(FIXTURES / "pages" / "history-page-1.json")
    page2 = parse(FIXTURES / "pages" / "history-page-2.json")
    assert [e.fields["his.event_id"] for e in page1] == ["h-1", "h-2"]  # deleted: skipped
    assert [e.fields["his.event_id"] for e in page2] == ["h-2", "h-3"]  # outcome: skipped
    assert page1[1] == page2[0] and page1[1].id == page2[0].id  # overlap: one identity
    assert len({e.id for e in page1 + page2}) == 3
