"""DNS query and answer events from port-53 payloads, dissected with scapy.

Why scapy here and not in the flow loop: DNS messages are few next to the packets of a
capture, and their name compression, record types and malformations are where a
home-grown parser goes wrong; scapy's dissector is well trodden. DNS tunnels (dnscat2,
iodine, dns2tcp) show up as long query names and TXT/NULL/CNAME/MX record types, so the
event carries the full question name and type.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from scapy.layers.dns import DNS, DNSQR, DNSRR, dnstypes

from sensors.event import Event

RCODES: dict[int, str] = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
}  # fmt: skip
_HEADER = struct.Struct("!HHHHHH")
_FLAG_NAMES = ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"),
               (0x0020, "AD"), (0x0010, "CD"))  # fmt: skip
_TEXT_TYPES = frozenset({1, 2, 5, 12, 28, 39})  # A, NS, CNAME, PTR, AAAA, DNAME


class MalformedDNS(ValueError):
    """The payload is not a well-formed DNS message."""


def _name(raw: bytes | str) -> str:
    text = raw.decode("ascii", "backslashreplace") if isinstance(raw, bytes) else raw
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


def _type_name(code: int) -> str:
    name = dnstypes.get(code)
    return name if isinstance(name, str) else str(code)


def parse_dns(payload: bytes) -> dict[str, Any]:
    """ECS ``dns.*`` fields of one DNS message; raises :class:`MalformedDNS`.

    scapy takes a few hundred microseconds per message, and most DNS traffic repeats
    itself (the same names asked again and again) with only the 16-bit ID changed, so the
    dissection is cached on the message without its ID.
    """
    if len(payload) < 12:
        raise MalformedDNS("shorter than a DNS header")
    cached = _parse_cached(payload[2:])
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
    ident, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(payload)
    try:
        msg = DNS(payload)
    except Exception as exc:  # scapy raises struct.error, IndexError …
        raise MalformedDNS(f"scapy: {exc}") from exc
    questions = list(msg.qd or [])
    if len(questions) != qdcount or not all(isinstance(q, DNSQR) for q in questions):
        raise MalformedDNS("question section does not parse")
    is_answer = bool(flags & 0x8000)
    fields: dict[str, Any] = {
        "dns.id": str(ident),
        "dns.type": "answer" if is_answer else "query",
        "dns.op_code": {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}.get(
            (flags >> 11) & 0xF, str((flags >> 11) & 0xF)
        ),
        "dns.header_flags": [name for bit, name in _FLAG_NAMES if flags & bit],
        "dns.response_code": RCODES.get(flags & 0xF, str(flags & 0xF)),
    }
    if questions:
        q = questions[0]
        fields["dns.question.name"] = _name(q.qname)
        fields["dns.question.type"] = _type_name(q.qtype)
        fields["dns.question.class"] = {1: "IN", 3: "CH", 4: "HS", 255: "ANY"}.get(
            q.qclass, str(q.qclass)
        )
    if is_answer and ancount:
        answers = []
        resolved = []
        for rr in list(msg.an or []):
            if not hasattr(rr, "rrname"):  # scapy left undecodable bytes
                continue
            entry: dict[str, Any] = {
                "name": _name(rr.rrname), "type": _type_name(rr.type), "ttl": rr.ttl,
            }  # fmt: skip
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


def clear_cache() -> None:
    """Forget cached dissections (a benchmark starts each run cold with it)."""
    _parse_cached.cache_clear()


def dns_event(
    payload: bytes, ts: float, src: str, sport: int, dst: str, dport: int, transport: str,
    network_type: str, ref: str,
) -> Event:  # fmt: skip
    """A ``network.dns`` event for one message; raises :class:`MalformedDNS`."""
    fields: dict[str, Any] = {
        "event.dataset": "network.dns",
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
    fields.update(parse_dns(payload))
    key = f"{ts:.6f}|{src}|{sport}|{dst}|{dport}|{fields['dns.id']}|{fields['dns.type']}"
    eid = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return Event(datetime.fromtimestamp(ts, UTC), fields, ref=ref, id=eid)
