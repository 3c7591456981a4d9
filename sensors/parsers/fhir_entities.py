"""What an AuditEvent says about *whom* and *where*: patients, record counts, workstation.

Split from ``sensors.parsers.fhir`` (which decides *what* happened) because these three
readings each walk the loosely typed parts of an AuditEvent (``entity``, ``agent``,
``source``) and carry most of the judgement calls; the table of what is read is in the
``fhir`` module docstring. Every accessor tolerates any JSON at any path: a value of the
wrong type is treated as absent, never as a crash.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: Reference types that name a person acting (the agent is a human user).
PERSON_TYPES = frozenset({"Practitioner", "PractitionerRole", "Patient", "RelatedPerson",
                          "Person"})
#: Reference types that name a machine or an organisation acting (no human user).
MACHINE_TYPES = frozenset({"Device", "Organization", "Endpoint"})
#: Agent type codes that say what part a system played, not the user's role (IHE BALP,
#: DICOM 110150-110155); ``humanuser`` says there is a person but is no role either.
PARTICIPANT_CODES = frozenset(
    {"humanuser", "110150", "110151", "110152", "110153", "110154", "110155"}
)
DESTINATION = "110152"
#: ``entity.detail.type`` values (lower case, accents and punctuation removed) that name
#: how many records an action returned or wrote out. R4 has no standard element for it
#: (BALP neither); these are the spellings HIS vendors use, English and Vietnamese.
COUNT_TYPES = frozenset({
    "count", "total", "quantity", "records", "results", "rows", "hits", "matches",
    "recordcount", "resultcount", "rowcount", "patientcount", "totalrecords",
    "totalresults", "numberofrecords", "numberofresults", "numberofpatients",
    "soluong", "soluonghoso", "sobanghi", "tongso",
})
#: Detail values at most this long are decoded (a count is a handful of digits).
_MAX_COUNT_TEXT = 32
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def as_dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def as_list(value: Any) -> list[Any]:
    return value if type(value) is list else []


def text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def codes(concept: Any) -> list[str]:
    """The codes of a Coding, or of a CodeableConcept's codings (R4 and R5 shapes)."""
    concept = as_dict(concept)
    codings = as_list(concept.get("coding")) if "coding" in concept else [concept]
    return [c for c in (text(as_dict(x).get("code")) for x in codings) if c]


def reference_id(reference: str) -> str:
    """The logical id of a reference: ``Practitioner/nv01234/_history/2`` -> ``nv01234``."""
    return reference.split("/_history/", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def reference_type(reference: str) -> str:
    parts = reference.split("/_history/", 1)[0].rstrip("/").rsplit("/", 2)
    return parts[-2] if len(parts) >= 2 else ""


def split_cx(value: str) -> tuple[str, str | None]:
    """An HL7 v2 CX composite (``id^^^&2.16.840.1&ISO``) as (id, assigning authority).

    The authority is component 4 (HD: namespace ``&`` universal id ``&`` type): the
    universal id (an OID) when given, else the namespace. A plain value is returned as is.
    """
    if "^" not in value:
        return value, None
    parts = value.split("^")
    ident = parts[0]
    authority = None
    if len(parts) > 3:
        hd = parts[3].split("&")
        authority = (hd[1] if len(hd) > 1 and hd[1] else hd[0]) or None
    return (ident, authority) if ident else (value, None)


def identifier_value(identifier: Any) -> tuple[str | None, str | None]:
    """(value, system) of an Identifier; a CX composite value is split (``split_cx``)."""
    identifier = as_dict(identifier)
    value = text(identifier.get("value"))
    if value is None:
        return None, None
    ident, authority = split_cx(value)
    return ident, text(identifier.get("system")) or authority


# -- agents ---------------------------------------------------------------------------------


def who_id(who: dict[str, Any]) -> str | None:
    """An agent's id: its identifier value, else the id of its (non-contained) reference."""
    value, _ = identifier_value(who.get("identifier"))
    if value:
        return value
    ref = text(who.get("reference"))
    return reference_id(ref) if ref and not ref.startswith("#") else None


def is_human(agent: dict[str, Any]) -> bool:
    """Whether an agent is a person: typed ``humanuser``, a person reference, a role or a
    non-participant type; not when only participant codes or a Device reference say what
    it is. An agent nothing is known of counts as a person (the safe side for detection).
    """
    kinds = codes(agent.get("type"))
    if "humanuser" in kinds:
        return True
    ref = text(as_dict(agent.get("who")).get("reference"))
    if ref and not ref.startswith("#"):
        kind = reference_type(ref)
        if kind in PERSON_TYPES:
            return True
        if kind in MACHINE_TYPES:
            return False
    if any(codes(r) for r in as_list(agent.get("role"))):
        return True
    if any(k not in PARTICIPANT_CODES for k in kinds):
        return True
    return not kinds


def requestor(agents: list[Any]) -> dict[str, Any]:
    """The agent who asked: ``requestor: true``, else the first person, else the first."""
    for agent in agents:
        if type(agent) is dict and agent.get("requestor") is True:
            return agent
    for agent in agents:
        if type(agent) is dict and is_human(agent):
            return agent
    return as_dict(agents[0]) if agents else {}


# -- workstation ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def as_ip(address: str) -> str | None:
    """``address`` in canonical IP form, or ``None``; cached, as a hospital's workstations
    are a few thousand addresses seen over and over (parsing one costs microseconds)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _place(address: str, kind: Any, out: dict[str, Any]) -> None:
    """Put one network address into ``source.ip`` or ``host.name``, if still empty."""
    out.setdefault("source.address", address)
    ip = as_ip(address) if len(address) <= 64 else None
    if ip is not None:
        out.setdefault("source.ip", ip)
    elif str(kind) in ("1", "None") and not any(c in address for c in " @/:"):
        out.setdefault("host.name", address)  # a machine name (type 1, or no type)


def _network(agent: dict[str, Any]) -> tuple[str | None, Any]:
    network = as_dict(agent.get("network"))
    address = text(network.get("address"))
    if address:
        return address, network.get("type")
    return text(agent.get("networkString")), None  # R5 spelling


def workstation(agent: dict[str, Any], agents: list[Any], source: dict[str, Any]) -> dict[str, Any]:
    """``source.address``, ``source.ip``, ``host.name``: where the user sat.

    In order, each filling only what is still empty: the requesting agent's network
    address; the addresses of the other agents that are not the destination (110152: the
    server) — typically the client machine (110153); the observer's name when the audit
    source is a user device (``source.type`` 1); the requesting agent's ``location``.
    """
    out: dict[str, Any] = {}
    candidates = [agent] + [as_dict(a) for a in agents if a is not agent]
    for candidate in candidates:
        if candidate is not agent and DESTINATION in codes(candidate.get("type")):
            continue
        address, kind = _network(candidate)
        if address:
            _place(address, kind, out)
    if "host.name" not in out:
        observer = as_dict(source.get("observer"))
        if "1" in [c for t in as_list(source.get("type")) for c in codes(t)]:
            name = text(observer.get("display"))
            if name:
                out["host.name"] = name
    if "host.name" not in out:
        location = as_dict(agent.get("location"))
        name = text(location.get("display")) or identifier_value(location.get("identifier"))[0]
        ref = text(location.get("reference"))
        if name is None and ref and not ref.startswith("#"):
            name = reference_id(ref)
        if name:
            out["host.name"] = name
    return out


# -- patients and counts --------------------------------------------------------------------


@dataclass
class Patient:
    """One patient an event names, however many entities name it."""

    keys: set[str] = field(default_factory=set)
    identifier: str | None = None
    system: str | None = None
    reference: str | None = None

    @property
    def id(self) -> str | None:
        return self.identifier or self.reference


def _contained(resource: dict[str, Any], local: str) -> dict[str, Any]:
    for item in as_list(resource.get("contained")):
        item = as_dict(item)
        if item.get("id") == local:
            return item
    return {}


def has_code(concept: Any, code: str, system_part: str) -> bool:
    """Whether a Coding or CodeableConcept has ``code`` in a system containing
    ``system_part``, or in no stated system."""
    concept = as_dict(concept)
    codings = as_list(concept.get("coding")) if "coding" in concept else [concept]
    for coding in codings:
        coding = as_dict(coding)
        if coding.get("code") == code:
            system = coding.get("system")
            if system is None or (type(system) is str and system_part in system):
                return True
    return False


def _is_patient(entity: dict[str, Any], what: dict[str, Any]) -> bool:
    ref = text(what.get("reference"))
    if ref and not ref.startswith("#") and reference_type(ref) == "Patient":
        return True
    kind = text(what.get("type")) or ""
    if kind == "Patient" or kind.endswith("/Patient"):
        return True
    entity_type = entity.get("type")
    if "Patient" in codes(entity_type):
        return True
    role = entity.get("role")
    if codes(role):
        return has_code(role, "1", "object-role")
    # No role: an entity of type Person (audit-entity-type 1) is the patient.
    return has_code(entity_type, "1", "audit-entity-type")


def _entity_patient(resource: dict[str, Any], what: dict[str, Any]) -> Patient | None:
    patient = Patient()
    value, system = identifier_value(what.get("identifier"))
    ref = text(what.get("reference"))
    if ref and ref.startswith("#"):  # a contained resource: its identifier, else its id
        inner = _contained(resource, ref[1:])
        ids = as_list(inner.get("identifier"))
        if value is None and ids:
            value, system = identifier_value(ids[0])
        ref = None
    if value:
        patient.identifier, patient.system = value, system
        patient.keys.add(value)
    if ref:
        patient.reference = reference_id(ref)
        patient.keys.add(patient.reference)
    return patient if patient.keys else None


def patients(resource: dict[str, Any]) -> list[Patient]:
    """The distinct patients of an AuditEvent's entities, in order of first mention.

    Entities sharing any key (a reference id or an identifier value) are one patient: the
    HL7 "disclosure" example names one patient by reference and again by reference plus
    identifier. A patient's id is its first identifier value, else its reference id.
    """
    found: list[Patient] = []
    for entity in as_list(resource.get("entity")):
        entity = as_dict(entity)
        what = as_dict(entity.get("what"))
        if not _is_patient(entity, what):
            continue
        patient = _entity_patient(resource, what)
        if patient is None:
            continue
        same = [p for p in found if p.keys & patient.keys]
        if not same:
            found.append(patient)
            continue
        first = same[0]
        for other in [*same[1:], patient]:
            first.keys |= other.keys
            if first.identifier is None and other.identifier is not None:
                first.identifier, first.system = other.identifier, other.system
            first.reference = first.reference or other.reference
            if other is not patient:
                found.remove(other)
    return found


def _words(value: Any) -> str:
    """A detail type as one lower-case run of letters and digits, accents removed."""
    parts: list[str] = []
    if type(value) is str:
        parts.append(value)
    else:
        concept = as_dict(value)
        parts.extend(codes(concept))
        label = text(concept.get("text"))
        if label:
            parts.append(label)
    out = []
    for part in parts[:4]:
        part = part[:64].replace("đ", "d").replace("Đ", "D")
        folded = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode()
        out.append(_NOT_ALNUM.sub("", folded.lower()))
    return " ".join(out)


def _count_value(detail: dict[str, Any]) -> int | None:
    """A whole number >= 0 from a detail's value[x], or ``None``."""
    for key in ("valueInteger", "valueUnsignedInt", "valuePositiveInt"):
        value = detail.get(key)
        if type(value) is int and value >= 0:
            return value
    quantity = as_dict(detail.get("valueQuantity"))
    value = quantity.get("value")
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and 0 <= value < 2**63:
        return int(value)
    raw = detail.get("valueString")
    if type(raw) is not str:
        encoded = detail.get("valueBase64Binary")
        if type(encoded) is not str or len(encoded) > _MAX_COUNT_TEXT:
            return None
        try:
            raw = base64.b64decode(encoded, validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            return None
    raw = raw.strip()
    if 0 < len(raw) <= _MAX_COUNT_TEXT and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def declared_count(resource: dict[str, Any]) -> int | None:
    """The largest record count any ``entity.detail`` declares (``COUNT_TYPES``)."""
    best: int | None = None
    for entity in as_list(resource.get("entity")):
        for detail in as_list(as_dict(entity).get("detail")):
            detail = as_dict(detail)
            names = _words(detail.get("type")).split(" ")
            if not any(n in COUNT_TYPES for n in names):
                continue
            value = _count_value(detail)
            if value is not None and (best is None or value > best):
                best = value
    return best
