"""DNS query and answer events from port-53 payloads.

Why two dissectors: scapy's is well trodden on what hand-written parsers get wrong (name
compression, odd record types, malformations), but it takes ~130 µs a message, which made
DNS a fifth of the flow reader's time on a capture where it is 1% of the packets. Most
messages are plain: names in RFC 1035 form, compression pointing backwards, answers of
types whose data scapy reads generically. ``_parse_plain`` reads exactly those, in a few
µs, and gives up (``_NotPlain``) on anything else — a label or pointer it does not vouch
for, a record type scapy dissects with a class of its own, truncation, a section past
scapy's list limit — which then goes to scapy as before. It accepts only messages on
which scapy yields the same fields, so an event is the same whichever path read it
(``tests/flows/test_dns_paths.py`` checks both on generated and mutated messages).

DNS tunnels (dnscat2, iodine, dns2tcp) show up as long query names and TXT/NULL/CNAME/MX
record types, so the event carries the full question name and type.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from scapy.config import conf
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRR_DISPATCHER, dnstypes

from sensors.errors import InputError
from sensors.event import NETWORK_DNS, Event

RCODES: dict[int, str] = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
}  # fmt: skip
_HEADER = struct.Struct("!HHHHHH")
_QUESTION = struct.Struct("!HH")
_RR = struct.Struct("!HHIH")
_u16 = struct.Struct("!H").unpack_from
_FLAG_NAMES = ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"),
               (0x0020, "AD"), (0x0010, "CD"))  # fmt: skip
_OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
_CLASSES = {1: "IN", 3: "CH", 4: "HS", 255: "ANY"}
_TEXT_TYPES = frozenset({1, 2, 5, 12, 28, 39})  # A, NS, CNAME, PTR, AAAA, DNAME
#: Record types whose data scapy reads as a name (NS, MD, MF, CNAME, PTR, DNAME).
_NAME_TYPES = frozenset({2, 3, 4, 5, 12, 39})
#: Record types scapy dissects with a class of its own (SOA, MX, OPT, RRSIG …): whether
#: that succeeds on a given record is scapy's to say, so the plain parser leaves them.
_SCAPY_TYPES = frozenset(DNSRR_DISPATCHER)
#: Pointer hops the plain parser follows in one name; scapy stops following after 20.
_MAX_HOPS = 16


class MalformedDNS(InputError, ValueError):
    """The payload is not a well-formed DNS message; ``reason`` is the counter's key."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class _NotPlain(Exception):
    """The plain parser does not vouch for this message: scapy reads it."""


def _name(raw: bytes | str) -> str:
    text = raw.decode("ascii", "backslashreplace") if isinstance(raw, bytes) else raw
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


def _type_name(code: int) -> str:
    name = dnstypes.get(code)
    return name if isinstance(name, str) else str(code)


def _plain_name(msg: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` as :func:`_name` spells scapy's reading of it, and the offset
    after it; raises :class:`_NotPlain` unless it is in strict RFC 1035 form.

    Strict: label lengths below 64 (scapy takes 64-191 as pointers), each pointer
    strictly before the previous one or the name's start (so no loops), at most
    ``_MAX_HOPS`` of them, nothing past the message's end. On such names scapy's
    ``dns_get_str`` reads the same labels and ends at the same offset.
    """
    labels: list[bytes] = []
    end = -1
    limit = pos
    hops = 0
    size = len(msg)
    while True:
        if pos >= size:
            raise _NotPlain("name runs past the end")
        n = msg[pos]
        if n == 0:
            break
        if n < 64:
            if pos + 1 + n > size:
                raise _NotPlain("label runs past the end")
            labels.append(msg[pos + 1 : pos + 1 + n])
            pos += 1 + n
        elif n >= 0xC0 and pos + 1 < size:
            target = ((n & 0x3F) << 8) | msg[pos + 1]
            hops += 1
            if target >= limit or hops > _MAX_HOPS:
                raise _NotPlain("pointer not strictly backwards, or too many")
            if end < 0:
                end = pos + 2
            limit = pos = target
        else:
            raise _NotPlain("label type")
    if end < 0:
        end = pos + 1
    if not labels:
        return ".", end
    return b".".join(labels).decode("ascii", "backslashreplace"), end


def _header_fields(ident: int, flags: int) -> dict[str, Any]:
    """The header's fields, read from its bits (both dissectors)."""
    return {
        "dns.id": str(ident),
        "dns.type": "answer" if flags & 0x8000 else "query",
        "dns.op_code": _OPCODES.get((flags >> 11) & 0xF, str((flags >> 11) & 0xF)),
        "dns.header_flags": [name for bit, name in _FLAG_NAMES if flags & bit],
        "dns.response_code": RCODES.get(flags & 0xF, str(flags & 0xF)),
    }


def _question_fields(fields: dict[str, Any], name: str, qtype: int, qclass: int) -> None:
    fields["dns.question.name"] = name
    fields["dns.question.type"] = _type_name(qtype)
    fields["dns.question.class"] = _CLASSES.get(qclass, str(qclass))


def _parse_plain(payload: bytes) -> dict[str, Any]:
    """The fields of a plain message (see the module docstring); raises :class:`_NotPlain`.

    The authority and additional sections are not read: no field comes from them, and
    scapy turns what it cannot dissect there into raw bytes rather than fail — except
    past ``conf.max_list_count`` records in a section, checked here on the counts.
    """
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(payload)
    limit = conf.max_list_count
    if max(qdcount, ancount, nscount, arcount) > limit or conf.debug_dissector:
        raise _NotPlain("scapy raises past its list limit")
    size = len(payload)
    pos = 12
    fields = _header_fields(ident, flags)
    for i in range(qdcount):
        name, pos = _plain_name(payload, pos)
        if pos + 4 > size:
            raise _NotPlain("question runs past the end")
        if i == 0:
            qtype, qclass = _QUESTION.unpack_from(payload, pos)
            _question_fields(fields, name, qtype, qclass & 0x7FFF)  # scapy: 15-bit class
        pos += 4
    if flags & 0x8000 and ancount:
        answers: list[dict[str, Any]] = []
        resolved: list[str] = []
        for _ in range(ancount):
            pos = _plain_record(payload, pos, answers, resolved)
        fields["dns.answers"] = answers
        if resolved:
            fields["dns.resolved_ip"] = resolved
    return fields


def _plain_record(payload: bytes, pos: int, answers: list[dict[str, Any]],
                  resolved: list[str]) -> int:  # fmt: skip
    """Read the resource record at ``pos`` into ``answers`` (and its address into
    ``resolved``); return the offset after it. Raises :class:`_NotPlain` like
    :func:`_plain_name`, and on a record type scapy dissects with a class of its own."""
    size = len(payload)
    name, pos = _plain_name(payload, pos)
    if pos + 10 > size:
        raise _NotPlain("record header runs past the end")
    rtype, _, ttl, rdlen = _RR.unpack_from(payload, pos)
    pos += 10
    end: int = pos + rdlen
    if end > size or rtype in _SCAPY_TYPES:
        raise _NotPlain("record data past the end, or a type scapy dissects")
    entry: dict[str, Any] = {"name": name, "type": _type_name(rtype), "ttl": ttl}
    if rtype == 1 or rtype == 28:
        if rdlen != (4 if rtype == 1 else 16):
            raise _NotPlain("address of the wrong length")
        data = payload[pos:end]
        entry["data"] = (
            socket.inet_ntoa(data) if rtype == 1
            else socket.inet_ntop(socket.AF_INET6, data)
        )  # fmt: skip
        resolved.append(entry["data"])
    elif rtype in _NAME_TYPES:
        target, after = _plain_name(payload, pos)
        if after != end:
            raise _NotPlain("name does not fill the record data")
        if rtype in _TEXT_TYPES:
            entry["data"] = target
    answers.append(entry)
    return end


def _parse_scapy(payload: bytes) -> dict[str, Any]:
    """The fields of any message, dissected by scapy; raises :class:`MalformedDNS`."""
    ident, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(payload)
    try:
        msg = DNS(payload)
    except Exception as exc:  # scapy raises struct.error, IndexError …
        raise MalformedDNS(f"scapy: {exc}") from exc
    questions = list(msg.qd or [])
    if len(questions) != qdcount or not all(isinstance(q, DNSQR) for q in questions):
        raise MalformedDNS("question section does not parse")
    fields = _header_fields(ident, flags)
    if questions:
        q = questions[0]
        _question_fields(fields, _name(q.qname), q.qtype, q.qclass)
    if flags & 0x8000 and ancount:
        answers = []
        resolved = []
        for rr in list(msg.an or []):
            if not hasattr(rr, "rrname"):  # scapy left undecodable bytes
                continue
            try:
                entry: dict[str, Any] = {
                    "name": _name(rr.rrname), "type": _type_name(rr.type), "ttl": rr.ttl,
                }  # fmt: skip
            except AttributeError as exc:  # an OPT record among the answers has no TTL
                raise MalformedDNS(f"answer record: {exc}") from exc
            if isinstance(rr, DNSRR) and rr.type in _TEXT_TYPES:
                data = rr.rdata
                entry["data"] = _name(data) if isinstance(data, bytes | str) else str(data)
                if rr.type in (1, 28):
                    resolved.append(entry["data"])
            answers.append(entry)
        fields["dns.answers"] = answers
        if resolved:
            fields["dns.resolved_ip"] = resolved
    return fields


def parse_dns(payload: bytes) -> dict[str, Any]:
    """ECS ``dns.*`` fields of one DNS message; raises :class:`MalformedDNS`.

    Most DNS traffic repeats itself (the same names asked again and again) with only the
    16-bit ID changed, so the dissection is cached on the message without its ID.
    """
    if len(payload) < 12:
        raise MalformedDNS("shorter than a DNS header")
    return _with_id(_parse_cached(payload[2:]), payload)


def parse_cut_dns(payload: bytes, announced: int) -> dict[str, Any]:
    """The fields of a message the capture cut short, as far as they go; raises
    :class:`MalformedDNS` (reason ``cut_header`` when not even the header is there).

    ``announced`` is the message's length on the wire (0 if unknown). Cached like
    :func:`parse_dns`: a periodic lookup of a long name is cut at the same byte each time.
    """
    if len(payload) < 12:
        raise MalformedDNS("the capture kept less than a DNS header", "cut_header")
    return _with_id(_parse_cut_cached(payload[2:], announced), payload)


def _with_id(cached: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """A fresh copy of cached fields with the message's own ID."""
    fields = dict(cached)
    fields["dns.id"] = str(int.from_bytes(payload[:2], "big"))
    for key, value in cached.items():  # events must not share mutable values
        if isinstance(value, list):
            fields[key] = [dict(v) if isinstance(v, dict) else v for v in value]
    return fields


@lru_cache(maxsize=8192)
def _parse_cached(rest: bytes) -> dict[str, Any]:
    """Dissect a message whose first two bytes (the ID) were cut off."""
    payload = b"\0\0" + rest
    try:
        return _parse_plain(payload)
    except _NotPlain:
        return _parse_scapy(payload)


@lru_cache(maxsize=4096)
def _parse_cut_cached(rest: bytes, announced: int) -> dict[str, Any]:
    return _parse_cut(b"\0\0" + rest, announced)


def _parse_cut(payload: bytes, announced: int) -> dict[str, Any]:
    """Header, first question and whole answers of a cut message (see ``parse_cut_dns``).

    Nothing is guessed: a field is set only from bytes that were captured. The question
    name keeps the labels that fit and the captured start of the label the cut fell in
    (``phiwatch.dns.cut_label_seen`` of its ``phiwatch.dns.label_lengths[-1]`` bytes); its
    type and class only when their bytes are there; answers only whole records of the
    kinds the plain parser reads, up to the first that is cut or that it leaves to scapy.
    Label types other than lengths and backward pointers make the message malformed.
    """
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(payload)
    fields = _header_fields(ident, flags)
    fields["dns.truncated_capture"] = True
    fields["phiwatch.dns.captured_bytes"] = len(payload)
    if announced > len(payload):
        fields["phiwatch.dns.message_bytes"] = announced
    fields["phiwatch.dns.question_count"] = qdcount
    fields["phiwatch.dns.answer_count"] = ancount
    fields["phiwatch.dns.authority_count"] = nscount
    fields["phiwatch.dns.additional_count"] = arcount
    if not qdcount:
        return fields
    pos = _cut_question(payload, fields)
    if pos < 0 or not (flags & 0x8000 and ancount):
        return fields
    answers: list[dict[str, Any]] = []
    resolved: list[str] = []
    try:  # the other questions, then the answers, as long as they are whole
        for _ in range(qdcount - 1):
            pos = _plain_name(payload, pos)[1] + 4
        for _ in range(min(ancount, conf.max_list_count)):
            pos = _plain_record(payload, pos, answers, resolved)
    except _NotPlain:
        pass
    if answers:
        fields["dns.answers"] = answers
    if resolved:
        fields["dns.resolved_ip"] = resolved
    return fields


def _cut_question(payload: bytes, fields: dict[str, Any]) -> int:
    """Set the first question's fields from what was captured; return the offset after
    it, or -1 if the cut fell inside it. Raises :class:`MalformedDNS` on a label type."""
    size = len(payload)
    pos = limit = 12
    end = -1
    hops = 0
    labels: list[bytes] = []
    lengths: list[int] = []
    cut = False
    while True:
        if pos >= size:
            cut = True
            break
        n = payload[pos]
        if n == 0:
            break
        if n < 64:
            lengths.append(n)
            if pos + 1 + n > size:
                if end >= 0:  # behind a pointer every byte was captured: not a cut
                    raise MalformedDNS("question name: label past the pointer")
                fields["phiwatch.dns.cut_label_seen"] = size - pos - 1
                if size > pos + 1:
                    labels.append(payload[pos + 1 : size])
                cut = True
                break
            labels.append(payload[pos + 1 : pos + 1 + n])
            pos += 1 + n
        elif n >= 0xC0:
            if pos + 1 >= size:
                cut = True
                break
            target = ((n & 0x3F) << 8) | payload[pos + 1]
            hops += 1
            if target >= limit or hops > _MAX_HOPS:
                raise MalformedDNS("question name: pointer not strictly backwards")
            if end < 0:
                end = pos + 2
            limit = pos = target
        else:
            raise MalformedDNS(f"question name: label type {n >> 6}")
    if labels:
        fields["dns.question.name"] = b".".join(labels).decode("ascii", "backslashreplace")
    elif not cut:
        fields["dns.question.name"] = "."
    if lengths or cut:
        fields["phiwatch.dns.label_lengths"] = lengths
    if cut:
        fields["phiwatch.dns.name_cut"] = True
        return -1
    pos = end if end >= 0 else pos + 1
    if pos + 2 <= size:
        fields["dns.question.type"] = _type_name(_u16(payload, pos)[0])
    if pos + 4 > size:
        return -1
    qclass = _u16(payload, pos + 2)[0] & 0x7FFF  # scapy's 15-bit class, as parse_dns
    fields["dns.question.class"] = _CLASSES.get(qclass, str(qclass))
    return pos + 4


def clear_cache() -> None:
    """Forget cached dissections (a benchmark starts each run cold with it)."""
    _parse_cached.cache_clear()
    _parse_cut_cached.cache_clear()


def dns_event(
    payload: bytes, ts: float, src: str, sport: int, dst: str, dport: int, transport: str,
    network_type: str, ref: str, announced: int | None = None,
) -> Event:  # fmt: skip
    """A ``network.dns`` event for one message; raises :class:`MalformedDNS`.

    ``announced`` (the message's length on the wire, 0 if unknown) says the capture cut
    the message short: it is then read as far as it goes and marked
    ``dns.truncated_capture``.
    """
    fields: dict[str, Any] = {
        "event.dataset": NETWORK_DNS,
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["protocol"],
        "network.protocol": "dns",
        "network.transport": transport,
        "network.type": network_type,
        "source.ip": src,
        "source.port": sport,
        "destination.ip": dst,
        "destination.port": dport,
    }
    fields.update(parse_dns(payload) if announced is None else parse_cut_dns(payload, announced))
    key = f"{ts:.6f}|{src}|{sport}|{dst}|{dport}|{fields['dns.id']}|{fields['dns.type']}"
    eid = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return Event(datetime.fromtimestamp(ts, UTC), fields, ref=ref, id=eid)
