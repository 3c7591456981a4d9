"""HL7 FHIR R4 ``AuditEvent`` resources mapped onto the fields of the canonical HIS log.

Input: NDJSON with one AuditEvent or one Bundle per line (``FhirParser.parse``), or a
whole, possibly pretty-printed, Bundle file (``parse_document``). A Bundle yields one event
per AuditEvent entry; its other entries (an ``OperationOutcome`` in a search result) are
not access events and are skipped. One bad AuditEvent fails its whole line, naming the
entry, so that nothing is dropped without a dead letter. Any other ``resourceType`` is a
``ParseError``. Shapes are checked as they are read: a list where an object belongs is
treated as absent, never as a crash.

Mapping (R4, https://hl7.org/fhir/R4/auditevent.html). "The agent" is the one with
``requestor: true``, else the first.

  FHIR AuditEvent                               phiwatch / ECS field
  --------------------------------------------  ------------------------------------------
  recorded                                      @timestamp
  id                                            event.id (else a fingerprint)
  subtype, type, action (next table)            event.action
  outcome 0 | 4, 8, 12                          event.outcome success | failure
  outcomeDesc                                   event.reason
  agent.who.identifier.value, else the id of    user.id
    agent.who.reference (Practitioner/nv01234)
  agent.who.display, else agent.name            user.name
  agent.role[].coding[].code, else the          user.roles
    agent.type codes (BALP participant codes
    such as 110153 or humanuser left out)
  agent.network.address, else that of another   source.address; and source.ip if it is an
    agent that is not the destination (110152)    IP, else host.name (type 1 or no type)
  entities that are patients: what.reference    patient.id (the first) and
    Patient/..., what.type Patient, type          his.record_count (distinct patients);
    Patient, or role 1 (object-role Patient)      id: what.identifier.value, else the
                                                  reference id
  source.observer.display, else source.site     observer.name

``event.action``: the first ``subtype`` code that is known, else the ``type`` code, else
the ``action`` letter.

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
  action C, R, U, D, E                                      update, view, update,
                                                            update, search

``login`` with a failure outcome becomes ``login_failed``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from sensors.event import Event
from sensors.parsers.base import Normalizer, ParseError, show
from sensors.parsers.config import FhirParserConfig
from sensors.parsers.ecs_json import decode_error
from sensors.timestamps import DEFAULT_ZONE, get_zone

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
#: ``action`` letter -> phiwatch action, when no code says more.
LETTER_ACTIONS: dict[str, str] = {
    "C": "update",
    "R": "view",
    "U": "update",
    "D": "update",
    "E": "search",
}
OUTCOMES: dict[str, str] = {"0": "success", "4": "failure", "8": "failure", "12": "failure"}
#: Agent type codes that say what part a system played, not the user's role (IHE BALP).
PARTICIPANT_CODES = frozenset(
    {"humanuser", "110150", "110151", "110152", "110153", "110154", "110155"}
)
_DESTINATION = "110152"

#: Where each required field comes from, for messages.
ORIGIN: dict[str, str] = {
    "@timestamp": "AuditEvent.recorded",
    "event.action": "AuditEvent.subtype, type or action",
    "user.id": "AuditEvent.agent.who",
}


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _list(value: Any) -> list[Any]:
    return value if type(value) is list else []


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _codes(concept: Any) -> list[str]:
    """The codes of a Coding or of a CodeableConcept's codings."""
    concept = _dict(concept)
    codings = _list(concept.get("coding")) if "coding" in concept else [concept]
    return [c for c in (_text(_dict(x).get("code")) for x in codings) if c]


def reference_id(reference: str) -> str:
    """The logical id of a reference: ``Practitioner/nv01234/_history/2`` -> ``nv01234``."""
    return reference.split("/_history/", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _reference_type(reference: str) -> str:
    parts = reference.split("/_history/", 1)[0].rstrip("/").rsplit("/", 2)
    return parts[-2] if len(parts) >= 2 else ""


def _who_id(who: dict[str, Any]) -> str | None:
    value = _text(_dict(who.get("identifier")).get("value"))
    if value:
        return value
    ref = _text(who.get("reference"))
    return reference_id(ref) if ref and not ref.startswith("#") else None


def _requestor(agents: list[Any]) -> dict[str, Any]:
    for agent in agents:
        if type(agent) is dict and agent.get("requestor") is True:
            return agent
    return _dict(agents[0]) if agents else {}


def _network(agent: dict[str, Any], agents: list[Any]) -> dict[str, Any]:
    network = _dict(agent.get("network"))
    if _text(network.get("address")):
        return network
    for other in agents:
        other = _dict(other)
        candidate = _dict(other.get("network"))
        if _text(candidate.get("address")) and _DESTINATION not in _codes(other.get("type")):
            return candidate
    return {}


def _is_patient(entity: dict[str, Any], what: dict[str, Any]) -> bool:
    ref = _text(what.get("reference"))
    if ref and _reference_type(ref) == "Patient":
        return True
    kind = _text(what.get("type")) or ""
    if kind == "Patient" or kind.endswith("/Patient") or "Patient" in _codes(entity.get("type")):
        return True
    role = _dict(entity.get("role"))
    system = role.get("system")
    return role.get("code") == "1" and (system is None or "object-role" in str(system))


def _action(resource: dict[str, Any]) -> str | None:
    for code in _codes({"coding": resource.get("subtype")}):
        if code in CODE_ACTIONS:
            return CODE_ACTIONS[code]
    for code in _codes(resource.get("type")):
        if code in TYPE_ACTIONS:
            return TYPE_ACTIONS[code]
    letter = resource.get("action")
    return LETTER_ACTIONS.get(letter) if type(letter) is str else None


def audit_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """The ECS fields of one AuditEvent, before the shared checks and defaults."""
    fields: dict[str, Any] = {}
    recorded = resource.get("recorded")
    if recorded is not None:
        fields["@timestamp"] = recorded
    outcome = OUTCOMES.get(str(resource.get("outcome", "")))
    action = _action(resource)
    if action == "login" and outcome == "failure":
        action = "login_failed"
    if action:
        fields["event.action"] = action
    if outcome:
        fields["event.outcome"] = outcome
    reason = _text(resource.get("outcomeDesc"))
    if reason:
        fields["event.reason"] = reason
    rid = _text(resource.get("id"))
    if rid:
        fields["event.id"] = rid

    agents = _list(resource.get("agent"))
    agent = _requestor(agents)
    who = _dict(agent.get("who"))
    user = _who_id(who)
    if user:
        fields["user.id"] = user
    name = _text(who.get("display")) or _text(agent.get("name"))
    if name:
        fields["user.name"] = name
    roles = [c for r in _list(agent.get("role")) for c in _codes(r)]
    if not roles:
        roles = [c for c in _codes(agent.get("type")) if c not in PARTICIPANT_CODES]
    if roles:
        fields["user.roles"] = list(dict.fromkeys(roles))
    network = _network(agent, agents)
    address = _text(network.get("address"))
    if address:
        fields["source.address"] = address
        try:
            fields["source.ip"] = str(ipaddress.ip_address(address))
        except ValueError:
            if str(network.get("type", "1")) == "1":  # a machine name
                fields["host.name"] = address

    patients: list[str] = []
    for entity in _list(resource.get("entity")):
        entity = _dict(entity)
        what = _dict(entity.get("what"))
        if _is_patient(entity, what):
            pid = _who_id(what)
            if pid and pid not in patients:
                patients.append(pid)
    if patients:
        fields["patient.id"] = patients[0]
        fields["his.record_count"] = len(patients)

    source = _dict(resource.get("source"))
    observer = _dict(source.get("observer"))
    observer_name = _text(observer.get("display")) or _text(source.get("site"))
    if observer_name:
        fields["observer.name"] = observer_name
    return fields


class FhirParser:
    """Parses FHIR AuditEvents and Bundles of them; stateless."""

    __slots__ = ("_finish", "document", "settle_seconds")

    def __init__(self, config: FhirParserConfig | None = None) -> None:
        config = config or FhirParserConfig(format="fhir")
        #: Whether each file is one whole document (read by ``parse_document``), not NDJSON.
        self.document = config.document
        self.settle_seconds = config.settle_seconds
        self._finish = Normalizer(
            get_zone(config.timezone or DEFAULT_ZONE),
            tuple(config.timestamp_formats),
            config.organization_id,
        ).event

    def parse(self, line: bytes, ref: str) -> list[Event]:
        """The events of one NDJSON line (an AuditEvent or a Bundle)."""
        if not line.strip():
            return []
        return self._document(line, ref, line_is_record=True)

    def parse_document(self, data: bytes, ref: str) -> list[Event]:
        """The events of one whole JSON document: an AuditEvent or a Bundle file."""
        return self._document(data, ref, line_is_record=False)

    def _document(self, data: bytes, ref: str, *, line_is_record: bool) -> list[Event]:
        try:
            doc = orjson.loads(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
        except orjson.JSONDecodeError as e:
            raise decode_error(data, e) from None
        if type(doc) is not dict:
            raise ParseError("expected a FHIR resource (a JSON object)", "resourceType")
        kind = doc.get("resourceType")
        if kind == "AuditEvent":
            return [self._event(doc, data if line_is_record else None, ref)]
        if kind == "Bundle":
            events: list[Event] = []
            for i, entry in enumerate(_list(doc.get("entry"))):
                resource = _dict(_dict(entry).get("resource"))
                if resource.get("resourceType") != "AuditEvent":
                    continue
                try:
                    events.append(self._event(resource, None, ref))
                except ParseError as e:
                    raise ParseError(f"Bundle entry {i}: {e.reason}", e.field) from None
            return events
        raise ParseError(
            f"expected a FHIR AuditEvent or Bundle, found resourceType {show(kind)}",
            "resourceType",
        )

    def _event(self, resource: dict[str, Any], raw: bytes | None, ref: str) -> Event:
        """``raw`` is fingerprinted when the resource has no id; ``None``: its JSON is."""
        fields = audit_fields(resource)
        if raw is None:
            raw = b"" if "event.id" in fields else orjson.dumps(resource)
        return self._finish(fields, raw, ref, ORIGIN)


def parse_document(data: bytes, ref: str, config: FhirParserConfig | None = None) -> list[Event]:
    """The events of a whole FHIR document (a pretty-printed Bundle file, say)."""
    return FhirParser(config).parse_document(data, ref)
