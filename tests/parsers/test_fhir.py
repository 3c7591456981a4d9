"""FHIR R4 AuditEvent: hand-written IHE BALP-style records, a Bundle, NDJSON, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sensors.parsers import FhirParser, FhirParserConfig, ParseError, parser_for
from sensors.parsers.fhir import parse_document, reference_id

DATA = Path(__file__).parent / "data"


def compact(name: str) -> bytes:
    """A pretty-printed sample file as one NDJSON line."""
    return orjson.dumps(orjson.loads((DATA / name).read_bytes()))


def parser(**config: Any) -> FhirParser:
    return FhirParser(FhirParserConfig(format="fhir", **config))


def minimal(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"code": "rest"},
        "action": "R",
        "recorded": "2026-11-22T08:15:02+07:00",
        "outcome": "0",
        "agent": [{"who": {"reference": "Practitioner/nv01234"}, "requestor": True}],
        "source": {"observer": {"display": "HIS"}},
    }
    doc.update(extra)
    return doc


def one(doc: dict[str, Any], **config: Any) -> Any:
    events = parser(**config).parse(orjson.dumps(doc), "audit.ndjson:1")
    assert len(events) == 1
    return events[0]


def error(doc: dict[str, Any] | bytes) -> ParseError:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    with pytest.raises(ParseError) as e:
        parser().parse(raw, "audit.ndjson:1")
    assert "\n" not in e.value.reason
    return e.value


def test_balp_patient_read() -> None:
    [event] = parser(organization_id="tu-du").parse(compact("audit_read_patient.json"), "a:1")
    assert event.timestamp == datetime(2026, 11, 22, 1, 15, 2, 381000, tzinfo=UTC)
    assert event.fields == {
        "event.action": "view",
        "event.outcome": "success",
        "event.id": event.id,
        "his.event_id": "ae-20261122-000187",
        "user.id": "nv01234",  # the identifier, not the server's Practitioner id
        "user.name": "Nguyễn Thị Lan",
        "user.roles": ["nurse"],
        "source.address": "10.20.3.45",  # the client agent's, not the destination's
        "source.ip": "10.20.3.45",
        "patient.id": "BN2026001234",
        "his.record_count": 1,  # two entities, one patient
        "observer.name": "HIS FHIR server",
        "event.dataset": "his.access",
        "event.kind": "event",
        "organization.id": "tu-du",
    }


def test_bundle_file_and_bundle_line_give_the_same_events() -> None:
    data = (DATA / "bundle_searchset.json").read_bytes()
    from_file = parse_document(data, "bundle.json:1")
    from_line = parser().parse(compact("bundle_searchset.json"), "bundle.json:1")
    assert from_file == from_line
    assert [e.fields["event.action"] for e in from_file] == [
        "login", "login_failed", "search", "export", "logout"
    ]  # the OperationOutcome entry is skipped
    assert [e.fields["his.event_id"] for e in from_file] == [
        f"ae-20261122-00010{i}" for i in range(1, 6)]
    assert len({e.id for e in from_file}) == 5


def test_bundle_entries_in_detail() -> None:
    login, failed, search, export, logout = parse_document(
        (DATA / "bundle_searchset.json").read_bytes(), "bundle.json:1"
    )
    assert login.fields["host.name"] == "WS-SAN-B-07"  # network type 1: a machine name
    assert "source.ip" not in login.fields
    assert login.fields["user.roles"] == ["doctor"]
    assert failed.fields["event.outcome"] == "failure"
    assert failed.fields["event.reason"] == "Sai mật khẩu"
    assert failed.fields["user.id"] == "nv03310"
    assert failed.fields["user.name"] == "Lê Thị Hồng Nhung"  # agent.name
    assert failed.fields["source.ip"] == "10.20.9.14"
    assert failed.fields["observer.name"] == "HIS Portal"  # source.site
    assert search.fields["user.id"] == "nv02001"  # absolute reference with _history
    assert search.fields["his.record_count"] == 3  # reference, role 1, and what.type Patient
    assert search.fields["patient.id"] == "BN2026001234"
    assert search.timestamp == datetime(2026, 11, 22, 8, 3, 5, 120000, tzinfo=UTC)
    assert export.fields["his.record_count"] == 3  # distinct patients; the report is not one
    assert export.fields["source.ip"] == "10.20.3.99"
    assert logout.fields["event.action"] == "logout"


def test_ndjson_lines() -> None:
    p = parser_for(FhirParserConfig(format="fhir"), Path("audit.ndjson"))
    lines = (DATA / "audit_more.ndjson").read_bytes().splitlines()
    printed, patched, denied = (p.parse(line, f"audit.ndjson:{i}")[0]
                                for i, line in enumerate(lines, 1))
    assert printed.fields["event.action"] == "print"  # a local subtype code
    assert patched.fields["event.action"] == "update"
    assert denied.fields["event.action"] == "view"  # action R, no subtype
    assert denied.fields["event.outcome"] == "failure"
    assert denied.timestamp == datetime(2026, 11, 22, 2, 6, tzinfo=UTC)  # no offset: +07:00
    assert denied.id == denied.fields["event.id"] and len(denied.id) == 24
    assert "his.event_id" not in denied.fields  # no resource id


@pytest.mark.parametrize(
    ("extra", "action"),
    [
        ({"subtype": [{"code": "vread"}]}, "view"),
        ({"subtype": [{"code": "history-instance"}]}, "view"),
        ({"subtype": [{"code": "search"}]}, "search"),
        ({"subtype": [{"code": "history-type"}]}, "search"),
        ({"subtype": [{"code": "create"}], "action": "C"}, "update"),
        ({"subtype": [{"code": "delete"}], "action": "D"}, "update"),
        ({"subtype": [{"code": "110122"}], "outcome": "8"}, "login_failed"),
        ({"subtype": [{"code": "110122"}], "outcome": "12"}, "login_failed"),
        ({"type": {"code": "110114"}, "outcome": "4"}, "login_failed"),
        ({"subtype": [{"code": "110123"}]}, "logout"),
        ({"subtype": [{"code": "110106"}]}, "export"),
        ({"type": {"code": "110112"}}, "search"),
        ({"subtype": [{"code": "unknown"}, {"code": "print"}]}, "print"),
        ({"action": "U"}, "update"),
    ],
)
def test_action_mapping(extra: dict[str, Any], action: str) -> None:
    assert one(minimal(**extra)).fields["event.action"] == action


def test_first_agent_when_none_is_the_requestor() -> None:
    doc = minimal(agent=[{"who": {"identifier": {"value": "nv5"}, "display": "A"},
                          "requestor": False, "type": {"coding": [{"code": "110153"},
                                                                  {"code": "IRCP"}]}},
                         {"who": {"reference": "Practitioner/nv6"}, "requestor": False}])
    fields = one(doc).fields
    assert fields["user.id"] == "nv5" and fields["user.name"] == "A"
    assert fields["user.roles"] == ["IRCP"]  # participant codes are not roles


def test_reference_ids() -> None:
    assert reference_id("Practitioner/nv01234") == "nv01234"
    assert reference_id("https://his/fhir/Practitioner/nv01234/_history/2") == "nv01234"


def test_timezone_option() -> None:
    event = one(minimal(recorded="2026-11-22T08:15:02"), timezone="UTC")
    assert event.timestamp == datetime(2026, 11, 22, 8, 15, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        (minimal(recorded=None),
         "missing required field '@timestamp' (AuditEvent.recorded)", "@timestamp"),
        (minimal(recorded="hôm qua"), "unparseable @timestamp 'hôm qua'", "@timestamp"),
        (minimal(agent=[]), "missing required field 'user.id' (AuditEvent.agent.who)", "user.id"),
        (minimal(agent=[{"who": {"reference": "#contained"}, "requestor": True}]),
         "missing required field 'user.id'", "user.id"),
        (minimal(action="X"), "missing required field 'event.action'", "event.action"),
        ({"resourceType": "Patient", "id": "BN1"},
         "expected a FHIR AuditEvent or Bundle, found resourceType 'Patient'", "resourceType"),
        ({"id": "x"}, "found resourceType None", "resourceType"),
        (b"[]", "expected a FHIR resource", "resourceType"),
        (b'{"resourceType": "AuditEvent",', "not valid JSON", None),
        (b'{"resourceType": "Audit\xe9Event"}', "invalid UTF-8 at byte 23", None),
        ({"resourceType": "Bundle", "entry": [{"resource": minimal()},
                                              {"resource": minimal(agent="nobody")}]},
         "Bundle entry 1: missing required field 'user.id'", "user.id"),
    ],
)
def test_errors_name_the_problem(doc: dict[str, Any] | bytes, reason: str,
                                 field: str | None) -> None:
    e = error(doc)
    assert reason in e.reason
    assert e.field == field


def test_empty_bundle_and_blank_line() -> None:
    assert parser().parse(b'{"resourceType": "Bundle", "type": "collection"}', "a:1") == []
    assert parser().parse(b"  ", "a:1") == []


def test_ids_without_resource_id_are_stable_across_layouts() -> None:
    doc = minimal()
    bundle = {"resourceType": "Bundle", "entry": [{"resource": doc}]}
    pretty = orjson.dumps(bundle, option=orjson.OPT_INDENT_2)
    assert parse_document(pretty, "a:1")[0].id == parse_document(orjson.dumps(bundle), "b:1")[0].id


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({"address": "10.20.3.45", "type": "2"}, {"source.ip": "10.20.3.45"}),
        ({"address": "fe80::1"}, {"source.ip": "fe80::1"}),
        ({"address": "WS-SAN-A-03", "type": "1"}, {"host.name": "WS-SAN-A-03"}),
        ({"address": "WS-SAN-A-03"}, {"host.name": "WS-SAN-A-03"}),
        ({"address": "lan@tudu.vn", "type": "4"}, {}),
    ],
)
def test_network_address(network: dict[str, str], expected: dict[str, str]) -> None:
    agent = {"who": {"reference": "Practitioner/nv1"}, "requestor": True, "network": network}
    fields = one(minimal(agent=[agent])).fields
    assert fields["source.address"] == network["address"]
    got = {k: v for k, v in fields.items() if k in ("source.ip", "host.name")}
    assert got == expected


@pytest.mark.parametrize(
    ("extra", "action", "category"),
    [
        ({"subtype": [{"code": "operation"}], "action": "E"}, "execute", ["process"]),
        ({"action": "E"}, "execute", ["process"]),
        ({"subtype": [{"code": "110120"}], "action": "E"}, "application-start", ["process"]),
        ({"subtype": [{"code": "110121"}], "action": "E"}, "application-stop", ["process"]),
        ({"type": {"code": "110100"}, "action": "E"}, "application-activity", ["process"]),
        ({"type": {"code": "110113"}, "action": "E"}, "security-alert", ["configuration"]),
    ],
)
def test_system_events_are_not_user_actions(extra: dict[str, Any], action: str,
                                            category: list[str]) -> None:
    fields = one(minimal(**extra)).fields
    assert fields["event.dataset"] == "his.system"
    assert (fields["event.action"], fields["event.category"]) == (action, category)


def test_a_system_event_needs_no_user_but_an_access_does() -> None:
    app = [{"who": {"reference": "Device/bhyt-sync"}, "type": {"coding": [{"code": "110150"}]}}]
    fields = one(minimal(subtype=[{"code": "110120"}], action="E", agent=[])).fields
    assert "user.id" not in fields and fields["event.action"] == "application-start"
    fields = one(minimal(subtype=[{"code": "read"}], agent=app)).fields
    assert fields["event.dataset"] == "his.system" and fields["event.action"] == "view"
    assert error(minimal(subtype=[{"code": "read"}], agent=[])).field == "user.id"


def entity(**parts: Any) -> dict[str, Any]:
    return parts


PERSON = {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"}
PATIENT_ROLE = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}


@pytest.mark.parametrize(
    ("entities", "patient", "count"),
    [
        # a Person-typed entity without a role, given by identifier only
        ([entity(what={"identifier": {"value": "BN1"}}, type=PERSON)], "BN1", 1),
        # a Person with another role (a user, 6) is not the patient
        ([entity(what={"identifier": {"value": "nv1"}}, type=PERSON,
                 role={"system": PATIENT_ROLE["system"], "code": "6"})], None, None),
        # reference, then reference + identifier of the same patient: one patient
        ([entity(what={"reference": "Patient/p9"}, role=PATIENT_ROLE),
          entity(what={"reference": "Patient/p9/_history/2", "identifier": {"value": "BN9"}})],
         "BN9", 1),
        # identifier twice, once as an HL7 v2 composite
        ([entity(what={"identifier": {"value": "BN7^^^&1.2.3&ISO"}}, role=PATIENT_ROLE),
          entity(what={"identifier": {"value": "BN7"}}, type=PERSON)], "BN7", 1),
        # an R5-style role (CodeableConcept)
        ([entity(what={"reference": "Patient/BN3"}, role={"coding": [PATIENT_ROLE]})], "BN3", 1),
        # a contained patient that is not there: nothing to name or count
        ([entity(what={"reference": "#gone"}, role=PATIENT_ROLE)], None, None),
    ],
)
def test_patients(entities: list[dict[str, Any]], patient: str | None,
                  count: int | None) -> None:
    fields = one(minimal(entity=entities)).fields
    assert fields.get("patient.id") == patient
    assert fields.get("his.record_count") == count


def test_a_v2_composite_gives_the_assigning_authority() -> None:
    ent = entity(what={"identifier": {"value": "BN7^^^HIS&2.16.840.1.1&ISO"}}, type=PERSON)
    fields = one(minimal(entity=[ent])).fields
    assert (fields["patient.id"], fields["patient.id_system"]) == ("BN7", "2.16.840.1.1")
    ent = entity(what={"identifier": {"value": "BN8^^^HIS"}}, type=PERSON)
    assert one(minimal(entity=[ent])).fields["patient.id_system"] == "HIS"


@pytest.mark.parametrize(
    ("detail", "count"),
    [
        ({"type": "recordCount", "valueString": "850"}, 850),
        ({"type": "Số lượng", "valueString": " 12 "}, 12),
        ({"type": {"coding": [{"code": "numberOfRecords"}]}, "valueInteger": 40}, 40),
        ({"type": {"text": "total"}, "valueQuantity": {"value": 7.0}}, 7),
        ({"type": "count", "valueBase64Binary": "MzA="}, 30),  # "30"
        ({"type": "count", "valueString": "-3"}, None),
        ({"type": "count", "valueString": "1e9"}, None),
        ({"type": "count", "valueBase64Binary": "!!"}, None),
        ({"type": "accountId", "valueString": "55"}, None),
        ({"type": "MSH-10", "valueString": "55"}, None),
        ({"type": ["count"], "valueString": "5"}, None),
    ],
)
def test_declared_record_counts(detail: dict[str, Any], count: int | None) -> None:
    ent = entity(what={"reference": "DocumentReference/x"}, detail=[detail])
    assert one(minimal(entity=[ent])).fields.get("his.record_count") == count


def test_a_declared_count_and_listed_patients_give_the_larger() -> None:
    listed = [entity(what={"reference": f"Patient/BN{i}"}) for i in range(3)]
    query = entity(role={"code": "24"}, detail=[{"type": "results", "valueString": "40"}])
    assert one(minimal(entity=[*listed, query])).fields["his.record_count"] == 40
    query["detail"] = [{"type": "results", "valueString": "2"}]
    assert one(minimal(entity=[*listed, query])).fields["his.record_count"] == 3


def test_workstation_from_every_place_the_input_names_it() -> None:
    client = {"type": {"coding": [{"code": "110153"}]}, "network": {"address": "WS-1"}}
    server = {"type": {"coding": [{"code": "110152"}]}, "network": {"address": "10.9.9.9"}}
    user = {"who": {"reference": "Practitioner/nv1"}, "requestor": True,
            "network": {"address": "10.20.3.45", "type": "2"}}
    fields = one(minimal(agent=[server, user, client])).fields
    assert (fields["source.ip"], fields["host.name"]) == ("10.20.3.45", "WS-1")
    user = {"who": {"reference": "Practitioner/nv1"}, "requestor": True,
            "location": {"reference": "Location/WS-SAN-A-03"}}
    assert one(minimal(agent=[server, user])).fields["host.name"] == "WS-SAN-A-03"
    device = {"type": [{"code": "1"}], "observer": {"display": "WS-SAN-A-07"}}
    assert one(minimal(agent=[user], source=device)).fields["host.name"] == "WS-SAN-A-07"
    uri = {**user, "location": None, "network": {"address": "https://x/fhir", "type": "5"}}
    assert "host.name" not in one(minimal(agent=[uri])).fields


def test_the_department_from_a_configured_agent_extension() -> None:
    url = "https://his.benhvien.vn/fhir/StructureDefinition/khoa"
    doc = minimal(agent=[{"who": {"reference": "Practitioner/nv01234"}, "requestor": True,
                          "extension": [{"url": "https://other/x", "valueCode": "no"},
                                        {"url": url, "valueCode": "san-a"}]}])
    assert "user.department" not in one(doc).fields  # not configured: not guessed
    assert one(doc, department_extensions=[url]).fields["user.department"] == "san-a"
    for value in ({"valueString": "KSS"}, {"valueCoding": {"code": "KSS"}},
                  {"valueCodeableConcept": {"coding": [{"code": "KSS"}]}},
                  {"valueReference": {"display": "KSS"}}):
        doc["agent"][0]["extension"] = [{"url": url, **value}]
        assert one(doc, department_extensions=[url]).fields["user.department"] == "KSS"
