"""HL7 FHIR R4 ``AuditEvent`` resources mapped onto the fields of the canonical HIS log.

Input: NDJSON with one AuditEvent or one Bundle per line (``FhirParser.parse``), or a
whole, possibly pretty-printed, document (``parse_document``): an AuditEvent, or a Bundle
of any type, including the pages a FHIR server returns for ``AuditEvent?…`` searches
(``searchset``) and ``_history`` (``history``) saved one page per file. A page's ``link``
(``next``) is not followed: each saved page is read on its own, and a record that two
overlapping pages both hold gets the same event id twice (identity is the content, see
``sensors.parsers.base``), so it raises no second alert. A Bundle yields one event per
AuditEvent entry; other entries (an ``OperationOutcome``, included resources (``_include``), a
deleted version with no resource) are skipped. One bad AuditEvent fails its whole line,
naming the entry, so that nothing is dropped without a dead letter. Any other
``resourceType`` is a ``ParseError``. A value of the wrong type at any path is treated as
absent, never as a crash.

Mapping (R4, https://hl7.org/fhir/R4/auditevent.html; R5 spellings of ``outcome``,
``role`` and ``networkString`` are read too). "The agent" is the one with ``requestor:
true``, else the first that is a person (``fhir_entities.is_human``), else the first.

  FHIR AuditEvent                               phiwatch / ECS field
  --------------------------------------------  ------------------------------------------
  recorded                                      @timestamp
  id                                            his.event_id (identity is the content)
  subtype, type, action (next table)            event.action; event.dataset his.access
                                                  or his.system (below)
  outcome 0 | 4, 8, 12                          event.outcome success | failure
  outcomeDesc                                   event.reason
  agent.who.identifier.value, else the id of    user.id
    agent.who.reference (Practitioner/nv01234),
    else agent.altId, else agent.who.display
    (BALP users known only by their name)
  agent.who.display, else agent.name            user.name
  agent.role[] codes (else texts), else the     user.roles
    agent.type codes (BALP participant codes
    such as 110153 or humanuser left out)
  network.address of the agent, then of the     source.address (the first); an IP is
    other agents but the destination (110152)     source.ip, a name (type 1 or none)
                                                  host.name; each filled once
  source.observer.display, if source.type is    host.name, if still empty
    1 (User Device)
  agent.location display, identifier or id      host.name, if still empty
  agent.extension named in                      user.department
    ``department_extensions`` (configured)
  entities that are patients (below)            patient.id (the first),
                                                  patient.id_system (its identifier's
                                                  system or v2 assigning authority)
  distinct patients; entity.detail counts       his.record_count: the larger of the two
  source.observer.display, else its             observer.name
    identifier, else source.site

An entity is a patient when ``what.reference`` is ``Patient/…``, ``what.type`` is Patient,
``entity.type`` is the resource type Patient, ``role`` is object-role 1 (Patient), or it
has no role and ``type`` is audit-entity-type 1 (Person). Its id is ``what.identifier``
(an HL7 v2 composite ``id^^^&oid&ISO`` gives the id, and the OID as ``patient.id_system``),
else the reference's id; a contained ``#ref`` gives the contained resource's first
identifier. Entities that share a reference id or an identifier are one patient.

A record count is read from ``entity.detail`` whose ``type`` (an R4 string or an R5
CodeableConcept, lower-cased, accents and punctuation removed) is one of
``fhir_entities.COUNT_TYPES`` (``count``, ``recordCount``, ``numberOfRecords``, ``total``,
``quantity``, ``Số lượng`` …) and whose value is a whole number: ``valueString`` or
``valueBase64Binary`` (R4's two types) of digits, or ``valueInteger``, ``valueUnsignedInt``,
``valuePositiveInt``, ``valueQuantity.value``. So an export of 850 records in one
AuditEvent with no patient entity gets ``his.record_count: 850``. Not read, on purpose:
``entity.query`` (the request, whose ``_count`` is a page size, not a result) and the
DICOM ``NumberOfInstances`` extension (images, not patient records). IHE BALP defines no
count; HAPI FHIR's BALP interceptor writes one AuditEvent per patient compartment instead,
which counts as one patient each here.

``event.action``: the first ``subtype`` code that is known, else the ``type`` code, else
the ``action`` letter; ``login`` with a failure outcome becomes ``login_failed``.

  code                                                      event.action
  --------------------------------------------------------  ------------------------
  restful-interaction read, vread, history-instance         view
  search, search-type, search-system, history,              search
    history-type, history-system
  create, update, patch, delete                             update
  DICOM 110122 Login, 110123 Logout                         login, logout
  DICOM 110106 Export, 110112 Query                         export, search
  print, export (in any code system: a local HIS code)      print, export
  type DICOM 110114 User Authentication (no subtype)        login
  action C, R, U, D                                         update, view, update, update

System events go to their own dataset, ``his.system``, which no rule reads, so they can
never count as a user's search or view (``user.id`` is optional there):

  what                                          event.action          category, type
  --------------------------------------------  --------------------  -----------------
  subtype DICOM 110120 / 110121                 application-start /   process; start /
    (Application Start / Stop)                    application-stop      end
  other type DICOM 110100 Application Activity  application-activity  process; info
  type DICOM 110113 Security Alert              security-alert        configuration;
                                                                          change
  action E with no known code                   execute               process; info
  a known action but no agent is a person       that action           process; info
    (only Devices, 110150 Applications …)

The nine HL7 R4 examples (``tests/fixtures/fhir``), field by field in
``tests/parsers/test_fhir_conformance.py``:

  example      action / dataset            user.id  patient.id (count)   workstation
  -----------  --------------------------  -------  -------------------  ----------------
  example      application-start /         Grahame  -                    127.0.0.1,
                 his.system                                                Workstation1…
  disclosure   export                      Some…    What.id (1)          custodian.net
  login        login                       95       -                    127.0.0.1, W…1
  logout       logout                      95       -                    127.0.0.1, W…1
  media        export                      95       e3cdfc81a0d24bd (1)  -
  pixQuery     search                      95       e3cdfc81a0d24bd (1)  Workstation1…
  search       search                      95       - (no count given)   Workstation1…
  vread        view                        95       example (1)          Workstation1…
  error        update, failure             95       -                    Workstation1…
"""

from __future__ import annotations

from typing import Any

import orjson

from sensors.event import Event
from sensors.parsers import fhir_entities as fe
from sensors.parsers.base import SOURCE_ID, SYSTEM_DATASET, Normalizer, ParseError, show
from sensors.parsers.config import FhirParserConfig
from sensors.parsers.ecs_json import decode_error
from sensors.parsers.fhir_entities import (
    PARTICIPANT_CODES,
    as_dict,
    as_list,
    codes,
    reference_id,
    text,
)
from sensors.timestamps import DEFAULT_ZONE, get_zone

__all__ = ["FhirParser", "audit_fields", "parse_document", "reference_id"]

#: subtype or type codes -> phiwatch action (FHIR restful-interaction, DICOM, local).
CODE_ACTIONS: dict[str, str] = {
    "read": "view",
    "vread": "view",
    "history-instance": "view",
    "search": "search",
    "search-type": "search",
    "search-system": "search",
    "history": "search",
    "history-type": "search",
    "history-system": "search",
    "create": "update",
    "update": "update",
    "patch": "update",
    "delete": "update",
    "110122": "login",
    "110123": "logout",
    "110106": "export",
    "110112": "search",
    "print": "print",
    "export": "export",
}
#: Codes that decide the action only from ``type`` (they are event types, not subtypes).
TYPE_ACTIONS: dict[str, str] = {"110114": "login", "110106": "export", "110112": "search"}
#: ``action`` letter -> phiwatch action, when no code says more (E: see SYSTEM below).
LETTER_ACTIONS: dict[str, str] = {"C": "update", "R": "view", "U": "update", "D": "update"}
OUTCOMES: dict[str, str] = {"0": "success", "4": "failure", "8": "failure", "12": "failure"}
#: System events: action, ECS event.category, event.type.
_INFO = (["process"], ["info"])
SYSTEM_SUBTYPES: dict[str, tuple[str, list[str], list[str]]] = {
    "110120": ("application-start", ["process"], ["start"]),
    "110121": ("application-stop", ["process"], ["end"]),
}
SYSTEM_TYPES: dict[str, tuple[str, list[str], list[str]]] = {
    "110100": ("application-activity", *_INFO),
    "110113": ("security-alert", ["configuration"], ["change"]),
}
_EXECUTE = ("execute", *_INFO)

#: Where each required field comes from, for messages.
ORIGIN: dict[str, str] = {
    "@timestamp": "AuditEvent.recorded",
    "event.action": "AuditEvent.subtype, type or action",
    "user.id": "AuditEvent.agent.who",
}


def _action(resource: dict[str, Any]) -> tuple[str | None, tuple[str, list[str], list[str]] | None]:
    """(user action, None) or (None, system event) or (None, None) when nothing says."""
    subtypes = [c for s in as_list(resource.get("subtype")) for c in codes(s)]
    for code in subtypes:
        if code in SYSTEM_SUBTYPES:
            return None, SYSTEM_SUBTYPES[code]
    for code in subtypes:
        if code in CODE_ACTIONS:
            return CODE_ACTIONS[code], None
    for code in codes(resource.get("type")):
        if code in TYPE_ACTIONS:
            return TYPE_ACTIONS[code], None
        if code in SYSTEM_TYPES:
            return None, SYSTEM_TYPES[code]
    letter = resource.get("action")
    if type(letter) is str:
        if letter in LETTER_ACTIONS:
            return LETTER_ACTIONS[letter], None
        if letter == "E":
            return None, _EXECUTE
    return None, None


def _outcome(resource: dict[str, Any]) -> str | None:
    outcome = resource.get("outcome")
    if type(outcome) is dict:  # R5: a CodeableConcept under outcome.code
        found = codes(outcome.get("code"))
        return OUTCOMES.get(found[0]) if found else None
    return OUTCOMES.get(outcome) if type(outcome) is str else None


def _roles(agent: dict[str, Any]) -> list[str]:
    roles: list[str] = []
    for role in as_list(agent.get("role")):
        found = codes(role)
        label = text(as_dict(role).get("text"))
        roles.extend(found or ([label] if label else []))
    if not roles:
        roles = [c for c in codes(agent.get("type")) if c not in PARTICIPANT_CODES]
    return list(dict.fromkeys(roles))


def _department(agent: dict[str, Any], urls: frozenset[str]) -> str | None:
    """The user's department from the agent's extension named in ``urls``."""
    for ext in as_list(agent.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") not in urls:
            continue
        for key in ("valueString", "valueCode"):
            found = text(ext.get(key))
            if found:
                return found
        coded = codes(ext.get("valueCodeableConcept")) or codes(
            {"coding": [ext["valueCoding"]]} if type(ext.get("valueCoding")) is dict else None)
        if coded:
            return coded[0]
        ref = as_dict(ext.get("valueReference"))
        found = text(ref.get("display")) or text(as_dict(ref.get("identifier")).get("value"))
        if found:
            return found
    return None


def audit_fields(resource: dict[str, Any],
                 department_extensions: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The ECS fields of one AuditEvent, before the shared checks and defaults."""
    fields: dict[str, Any] = {}
    recorded = resource.get("recorded")
    if recorded is not None:
        fields["@timestamp"] = recorded
    outcome = _outcome(resource)
    action, system = _action(resource)
    agents = as_list(resource.get("agent"))
    present = [a for a in agents if type(a) is dict]
    if action is not None and present and not any(fe.is_human(a) for a in present):
        system = (action, *_INFO)  # agents that are all machines: no user acted
    if system is not None:
        action = system[0]
        fields["event.dataset"] = SYSTEM_DATASET
        fields["event.category"] = list(system[1])
        fields["event.type"] = list(system[2])
    if action == "login" and outcome == "failure":
        action = "login_failed"
    if action:
        fields["event.action"] = action
    if outcome:
        fields["event.outcome"] = outcome
    reason = text(resource.get("outcomeDesc"))
    if reason:
        fields["event.reason"] = reason
    rid = text(resource.get("id"))
    if rid:
        fields[SOURCE_ID] = rid

    agent = fe.requestor(agents)
    who = as_dict(agent.get("who"))
    user = fe.who_id(who) or text(agent.get("altId")) or text(who.get("display"))
    if user:
        fields["user.id"] = user
    name = text(who.get("display")) or text(agent.get("name"))
    if name:
        fields["user.name"] = name
    roles = _roles(agent)
    if roles:
        fields["user.roles"] = roles
    if department_extensions:
        department = _department(agent, department_extensions)
        if department:
            fields["user.department"] = department
    source = as_dict(resource.get("source"))
    fields.update(fe.workstation(agent, agents, source))

    patients = fe.patients(resource)
    named = [p for p in patients if p.id]
    if named:
        fields["patient.id"] = named[0].id
        if named[0].identifier and named[0].system:
            fields["patient.id_system"] = named[0].system
    count = fe.declared_count(resource)
    if patients or count is not None:
        fields["his.record_count"] = max(len(patients), count or 0)

    observer = as_dict(source.get("observer"))
    observer_name = (text(observer.get("display"))
                     or fe.identifier_value(observer.get("identifier"))[0]
                     or text(source.get("site")))
    if observer_name:
        fields["observer.name"] = observer_name
    return fields


class FhirParser:
    """Parses FHIR AuditEvents and Bundles of them; stateless."""

    __slots__ = ("_departments", "_finish", "document", "settle_seconds")

    def __init__(self, config: FhirParserConfig | None = None) -> None:
        config = config or FhirParserConfig(format="fhir")
        #: Whether each file is one whole document (read by ``parse_document``), not NDJSON.
        self.document = config.document
        self.settle_seconds = config.settle_seconds
        self._departments = frozenset(config.department_extensions)
        self._finish = Normalizer(
            get_zone(config.timezone or DEFAULT_ZONE),
            tuple(config.timestamp_formats),
            config.organization_id,
        ).event

    def parse(self, line: bytes, ref: str) -> list[Event]:
        """The events of one NDJSON line (an AuditEvent or a Bundle)."""
        if not line.strip():
            return []
        return self._document(line, ref)

    def parse_document(self, data: bytes, ref: str) -> list[Event]:
        """The events of one whole JSON document: an AuditEvent or a Bundle file."""
        return self._document(data, ref)

    def _document(self, data: bytes, ref: str) -> list[Event]:
        try:
            doc = orjson.loads(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
        except orjson.JSONDecodeError as e:
            raise decode_error(data, e) from None
        if type(doc) is not dict:
            raise ParseError("expected a FHIR resource (a JSON object)", "resourceType")
        kind = doc.get("resourceType")
        if kind == "AuditEvent":
            return [self._event(doc, ref)]
        if kind == "Bundle":
            events: list[Event] = []
            for i, entry in enumerate(as_list(doc.get("entry"))):
                resource = as_dict(as_dict(entry).get("resource"))
                if resource.get("resourceType") != "AuditEvent":
                    continue
                try:
                    events.append(self._event(resource, ref))
                except ParseError as e:
                    raise ParseError(f"Bundle entry {i}: {e.reason}", e.field) from None
            return events
        raise ParseError(
            f"expected a FHIR AuditEvent or Bundle, found resourceType {show(kind)}",
            "resourceType",
        )

    def _event(self, resource: dict[str, Any], ref: str) -> Event:
        return self._finish(audit_fields(resource, self._departments), b"", ref, ORIGIN)


def parse_document(data: bytes, ref: str, config: FhirParserConfig | None = None) -> list[Event]:
    """The events of a whole FHIR document (a pretty-printed Bundle file, say)."""
    return FhirParser(config).parse_document(data, ref)
