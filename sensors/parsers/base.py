"""What every record parser shares: the error type, the protocol and the finishing step.

Whatever the input format, a record ends the same way (``Normalizer.event``): the three
required fields are checked, ``@timestamp`` becomes the event's UTC time, a few fields are
coerced to the types the rules compare (``his.record_count`` an int, ``user.roles`` a
list), the derived fields are filled in, and the event gets its stable id. Doing this in
one place is what makes a CSV row, a JSON line and a FHIR AuditEvent with the same content
the same event.

Identity (``event.id``, ``Event.id``) is a hash of the *normalised* content, never of the
raw bytes: single-event rules derive their alert id from it (``rules.explain``), so the
same access read from JSON, CSV or FHIR must get the same id, or a hospital that changes
its export format would get every such alert twice. The key (``identity``) is

    UTC time to the microsecond, event.dataset, organization.id, user.id, event.action,
    event.outcome, patient.id, source.ip (IPv6 in canonical form), host.name,
    his.record_count

that is: who did what to whom, when, from where, with what result and how many records.
Left out on purpose: names, roles and departments (descriptions of the user, which differ
between exports of the same access), ``his.module`` (FHIR has no element for it, and two
accesses by one user to one patient in the same microsecond from one workstation are one
access) and the source's own record id. That id (a JSON ``event.id``, a FHIR resource
``id``) is kept, for tracing an alert back to the HIS, in ``his.event_id`` (``SOURCE_ID``):
ECS has no field for "the producer's id of this record" (``event.reference`` is a URL,
``event.code`` a type of event) and custom fields belong outside ECS's own field sets, so
it goes in phiwatch's ``his`` namespace. Two records identical in every key field are one
event, exactly as two byte-identical lines always were.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import orjson

from sensors.errors import InputError
from sensors.event import HIS_ACCESS, HIS_SYSTEM, Event
from sensors.timestamps import MAX_YEAR, MIN_YEAR, TimeRangeError, parse_timestamp

#: Fields without which an HIS access event means nothing to the rules.
REQUIRED_FIELDS: tuple[str, ...] = ("@timestamp", "event.action", "user.id")
#: ``event.dataset`` when the record does not say.
DEFAULT_DATASET = HIS_ACCESS
#: ``event.dataset`` of HIS events that are not a person's access: an application starting
#: or stopping, a job with no human user (see ``sensors.parsers.fhir``). No rule reads it,
#: so such events can never count as a user's search or view; ``user.id`` is optional.
SYSTEM_DATASET = HIS_SYSTEM
#: Where the source's own id of a record is kept (see the module docstring).
SOURCE_ID = "his.event_id"

#: An empty 12-byte BLAKE2b: copying it costs less than building one with its parameters
#: (about 0.2 µs per event), and gives the same digest.
_blake2b_12 = hashlib.blake2b(digest_size=12)

_fromisoformat = datetime.fromisoformat


class ParseError(InputError):
    """A record that cannot become an event; ``reason`` is one line naming the field.

    ``field`` is the ECS name of the offending field (``"user.id"``), or ``None`` when the
    record as a whole is bad (not JSON, not UTF-8). The tailer writes both to the
    dead-letter file.
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class RecordParser(Protocol):
    """Turns one complete line (without its line ending) into events (the line formats'
    side of ``sensors.formats.LineParser``).

    Usually one event; a FHIR Bundle line gives several, a CSV header line none. Raises
    ``ParseError`` for a bad record and nothing else.
    """

    def parse(self, line: bytes, ref: str) -> list[Event]: ...


def fingerprint(raw: bytes) -> str:
    """The id of a record that has none of its own: same bytes, same id, on every replay."""
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def identity(epoch: float, fields: Mapping[str, Any]) -> str:
    """The content key of a normalised event (module docstring): same access, same id.

    ``epoch`` is ``Event.epoch``: the same instant gives the same float whatever offset it
    was written with (``datetime.timestamp`` is exact arithmetic, rounded once), and two
    instants a microsecond apart give different floats until 2106 (2**32 s; to two
    microseconds until ``MAX_YEAR``), so it stands for "UTC to the microsecond" without a
    conversion. Runs once per event: one tuple, one ``orjson.dumps`` (a JSON array cannot
    be made ambiguous by separators inside values) and one BLAKE2b (as fast as any hashlib
    digest here), about a microsecond in all.
    """
    get = fields.get
    ip = get("source.ip")
    if type(ip) is str and ":" in ip:
        ip = _canonical_ip(ip)
    key = (epoch, get("event.dataset"), get("organization.id"), get("user.id"),
           get("event.action"), get("event.outcome"), get("patient.id"), ip,
           get("host.name"), get("his.record_count"))
    try:
        data = orjson.dumps(key)
    except (TypeError, orjson.JSONEncodeError):  # a value orjson cannot write: its repr
        data = repr(key).encode("utf-8", "surrogatepass")
    h = _blake2b_12.copy()
    h.update(data)
    return h.hexdigest()


def _canonical_ip(text: str) -> str:
    """An IPv6 address in its one canonical spelling (``fe80:0::1`` -> ``fe80::1``)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def show(value: object, limit: int = 60) -> str:
    """A value quoted for an error message, cut short so the message stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages read by people who wrote JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


#: More records than any HIS holds: a larger count is a corrupt or crafted record (and
#: would not fit the 64-bit integers of JSON writers and Elasticsearch).
MAX_RECORD_COUNT = 10**12


def coerce_count(value: Any) -> int:
    """``his.record_count`` as a non-negative int, from an int, a whole float or digits."""
    count: int | None = None
    if type(value) is int and value >= 0:
        count = value
    elif isinstance(value, float) and value.is_integer() and value >= 0:
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        digits = value.strip()
        count = int(digits) if len(digits) <= 13 else MAX_RECORD_COUNT + 1
    if count is None:
        raise ParseError(
            f"his.record_count is not a whole number >= 0: {show(value)}", "his.record_count")
    if count > MAX_RECORD_COUNT:
        raise ParseError(f"his.record_count {show(value)} is larger than any HIS holds "
                         f"(at most {MAX_RECORD_COUNT:,})", "his.record_count")
    return count


class Normalizer:
    """The finishing step shared by the parsers, configured once per parser."""

    __slots__ = ("formats", "organization_id", "zone")

    def __init__(self, zone: ZoneInfo, formats: tuple[str, ...], organization_id: str | None):
        self.zone = zone
        self.formats = formats
        self.organization_id = organization_id

    def event(
        self,
        fields: dict[str, Any],
        raw: bytes = b"",
        ref: str = "",
        origin: Mapping[str, str] | None = None,
    ) -> Event:
        """Check, coerce and complete ``fields`` (changed in place) into an ``Event``.

        ``origin`` maps an ECS field to where it came from in the input (a CSV column, a
        FHIR path), for messages. ``raw`` is no longer read (identity comes from the
        content, see the module docstring); it stays for callers that pass it.
        """
        stamp = fields.pop("@timestamp", None)
        when: datetime | None = None
        if type(stamp) is str:  # the fast path of parse_timestamp, inlined (hot path)
            try:
                when = _fromisoformat(stamp)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=self.zone)
                if not MIN_YEAR <= when.year <= MAX_YEAR:
                    when = None  # parse_timestamp below says why
            except ValueError:
                pass
        if when is None:
            if stamp is None or stamp == "":
                raise self._missing("@timestamp", origin)
            try:
                when = parse_timestamp(stamp, self.zone, self.formats)
            except TimeRangeError:
                raise ParseError(
                    f"@timestamp {show(stamp)} is outside the years {MIN_YEAR}-{MAX_YEAR}",
                    "@timestamp",
                ) from None
            except ValueError:
                raise ParseError(f"unparseable @timestamp {show(stamp)}", "@timestamp") from None

        action = fields.get("event.action")
        if type(action) is not str or not action:
            if action is None or action == "":
                raise self._missing("event.action", origin)
            raise ParseError(
                f"event.action must be a string, not {type_name(action)}", "event.action"
            )
        dataset = fields.get("event.dataset")
        if dataset is None:
            dataset = fields["event.dataset"] = DEFAULT_DATASET
        user = fields.get("user.id")
        if type(user) is not str or not user:
            if dataset == SYSTEM_DATASET and (user is None or user == ""):
                fields.pop("user.id", None)  # an application's event: no user to name
            else:
                fields["user.id"] = self._text_id("user.id", user, origin)
        patient = fields.get("patient.id")
        if patient is not None and type(patient) is not str:
            fields["patient.id"] = self._text_id("patient.id", patient, origin)
        count = fields.get("his.record_count")
        if count is not None and (type(count) is not int or not 0 <= count <= MAX_RECORD_COUNT):
            fields["his.record_count"] = coerce_count(count)
        roles = fields.get("user.roles")
        if type(roles) is str:
            fields["user.roles"] = [roles]

        if "event.kind" not in fields:
            fields["event.kind"] = "event"
        if self.organization_id is not None and "organization.id" not in fields:
            fields["organization.id"] = self.organization_id
        own = fields.get("event.id")
        if own is not None and own != "":
            if type(own) is not str:
                own = self._text_id("event.id", own, origin)
            fields.setdefault(SOURCE_ID, own)
        event = Event(when, fields, ref)
        event.id = fields["event.id"] = identity(event.epoch, fields)
        return event

    @staticmethod
    def _missing(name: str, origin: Mapping[str, str] | None) -> ParseError:
        where = origin.get(name) if origin else None
        suffix = f" ({where})" if where else ""
        return ParseError(f"missing required field {name!r}{suffix}", name)

    def _text_id(self, name: str, value: Any, origin: Mapping[str, str] | None) -> str:
        """An identifier as text: numbers are accepted (HIS ids are often numeric)."""
        if value is None or value == "":
            raise self._missing(name, origin)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):  # only the empty string reaches here, handled above
            return value
        raise ParseError(f"{name} must be a string, not {type_name(value)}", name)
