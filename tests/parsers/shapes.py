"""Test kit: the simulator's canonical JSON lines rewritten in two other shapes.

The same accesses as (a) HL7 FHIR R4 AuditEvent NDJSON, as a FHIR server with IHE BALP
habits would write them, and (b) a Vietnamese vendor's CSV export (``;``, Vietnamese
headers and codes, local ``dd/mm/yyyy HH:MM:SS`` times), with the ``parse:`` mapping that
reads it back. Used by the three-shape test: identity comes from the normalised content,
so all three shapes must raise the same alerts with the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from sensors.parsers.ecs_json import flatten

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PERSON = {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"}
PATIENT_ROLE = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}
QUERY_ROLE = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24"}
#: Where this vendor's FHIR server records the user's department (R4 has no element for
#: it); the FHIR source names the URL in ``department_extensions``.
DEPARTMENT_EXTENSION = "https://his.benhvien.vn/fhir/StructureDefinition/khoa"
FHIR_PARSE: dict[str, Any] = {"format": "fhir", "department_extensions": [DEPARTMENT_EXTENSION]}

#: action -> (type, subtype, action letter).
FHIR_ACTIONS: dict[str, tuple[dict[str, str], dict[str, str] | None, str]] = {
    "login": ({"system": DCM, "code": "110114"}, {"system": DCM, "code": "110122"}, "E"),
    "login_failed": ({"system": DCM, "code": "110114"}, {"system": DCM, "code": "110122"},
                     "E"),
    "logout": ({"system": DCM, "code": "110114"}, {"system": DCM, "code": "110123"}, "E"),
    "view": (REST, {"system": INTERACTION, "code": "read"}, "R"),
    "search": (REST, {"system": INTERACTION, "code": "search-type"}, "E"),
    "update": (REST, {"system": INTERACTION, "code": "update"}, "U"),
    "print": (REST, {"system": "https://his.benhvien.vn/thao-tac", "code": "print"}, "R"),
    "export": ({"system": DCM, "code": "110106"}, None, "R"),
}

#: The CSV export: Vietnamese column names, in file order, and the field each holds.
CSV_COLUMNS: dict[str, str] = {
    "Thời gian": "@timestamp", "Mã NV": "user.id", "Họ tên": "user.name",
    "Vai trò": "user.roles", "Khoa": "user.department", "Thao tác": "event.action",
    "Kết quả": "event.outcome", "Mã BN": "patient.id", "Số HS": "his.record_count",
    "Máy trạm": "host.name", "Địa chỉ IP": "source.ip", "Phân hệ": "his.module",
    "Cơ sở": "organization.id",
}
CSV_ACTIONS = {"login": "Đăng nhập", "login_failed": "Đăng nhập lỗi", "logout": "Đăng xuất",
               "search": "Tìm kiếm", "view": "Xem", "print": "In", "export": "Xuất",
               "update": "Sửa"}
CSV_OUTCOMES = {"success": "Thành công", "failure": "Thất bại"}
CSV_TIME = "%d/%m/%Y %H:%M:%S"
#: The ``parse:`` section that reads the CSV export back.
CSV_PARSE: dict[str, Any] = {
    "format": "csv",
    "delimiter": ";",
    "columns": {name: field for name, field in CSV_COLUMNS.items()},
    "values": {"event.action": {v: k for k, v in CSV_ACTIONS.items()},
               "event.outcome": {v: k for k, v in CSV_OUTCOMES.items()}},
    "timestamp_formats": [CSV_TIME],
    "timezone": "Asia/Ho_Chi_Minh",
}


def canonical(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The flat fields of each canonical JSON line."""
    for line in lines:
        if line.strip():
            yield flatten(orjson.loads(line))


def _when(stamp: str) -> datetime:
    when = datetime.fromisoformat(stamp)
    return when if when.tzinfo else when.replace(tzinfo=HCM)


def to_fhir(fields: dict[str, Any], number: int) -> dict[str, Any]:
    """One canonical access as an R4 AuditEvent: the user agent with the IP, the client
    machine (110153) with the workstation name, the patient as an entity, the record
    count as an ``entity.detail`` when the patient entity alone does not say it."""
    kind, subtype, letter = FHIR_ACTIONS[fields["event.action"]]
    failed = fields.get("event.outcome") == "failure"
    user: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                       "extra-security-role-type", "code": "humanuser"}]},
        "who": {"identifier": {"value": fields["user.id"]}},
        "requestor": True,
        "role": [{"coding": [{"code": r}]} for r in fields.get("user.roles", [])],
    }
    if "user.name" in fields:
        user["who"]["display"] = fields["user.name"]
    if "user.department" in fields:
        user["extension"] = [{"url": DEPARTMENT_EXTENSION,
                              "valueCode": fields["user.department"]}]
    if "source.ip" in fields:
        user["network"] = {"address": fields["source.ip"], "type": "2"}
    agents = [user]
    if "host.name" in fields:
        agents.append({"type": {"coding": [{"system": DCM, "code": "110153"}]},
                       "requestor": False,
                       "network": {"address": fields["host.name"], "type": "1"}})
    entities: list[dict[str, Any]] = []
    if "patient.id" in fields:
        entities.append({"what": {"reference": f"Patient/{fields['patient.id']}"},
                         "type": PERSON, "role": PATIENT_ROLE})
    count = fields.get("his.record_count")
    if count is not None and count != len(entities):
        entities.append({"type": {"code": "2"}, "role": QUERY_ROLE,
                         "detail": [{"type": "recordCount", "valueString": str(count)}]})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"ae-{number:08d}",
        "type": kind,
        "action": letter,
        # a FHIR server writes instants in UTC: the same time, another offset
        "recorded": _when(fields["@timestamp"]).astimezone(UTC).isoformat()
                    .replace("+00:00", "Z"),
        "outcome": "4" if failed else "0",
        "agent": agents,
        "source": {"observer": {"display": f"HIS {fields.get('his.module', '')}".strip()}},
    }
    if subtype is not None:
        event["subtype"] = [subtype]
    if entities:
        event["entity"] = entities
    return event


def fhir_ndjson(lines: Iterable[bytes]) -> bytes:
    """The canonical lines as FHIR AuditEvent NDJSON."""
    return b"".join(orjson.dumps(to_fhir(f, n)) + b"\n"
                    for n, f in enumerate(canonical(lines), 1))


def _cell(value: Any) -> str:
    text = ",".join(value) if isinstance(value, list) else str(value)
    if any(c in text for c in ';"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def to_csv_row(fields: dict[str, Any]) -> str:
    """One canonical access as a row of the vendor export (``CSV_COLUMNS`` order)."""
    when = _when(fields["@timestamp"]).astimezone(HCM)
    if when.microsecond:
        raise ValueError("the vendor export keeps whole seconds only")
    cells = []
    for field in CSV_COLUMNS.values():
        if field == "@timestamp":
            cells.append(when.strftime(CSV_TIME))
        elif field == "event.action":
            cells.append(CSV_ACTIONS[fields[field]])
        elif field == "event.outcome":
            cells.append(CSV_OUTCOMES.get(fields.get(field, ""), ""))
        else:
            value = fields.get(field)
            cells.append("" if value is None else _cell(value))
    return ";".join(cells)


def vendor_csv(lines: Iterable[bytes]) -> bytes:
    """The canonical lines as the vendor's CSV export, header first, with a BOM."""
    rows = ["\ufeff" + ";".join(CSV_COLUMNS)]
    rows.extend(to_csv_row(f) for f in canonical(lines))
    return ("\n".join(rows) + "\n").encode("utf-8")
