"""The two DNS dissectors agree: whatever the plain parser accepts, scapy reads the same.

``sensors.flows.dns`` reads plain messages with its own strict parser and leaves the rest
to scapy; the events must not depend on which did. Checked on the public captures, on
hand-built messages, and on generated messages (compressed names, odd labels, record
types of every kind, counts that lie) before and after random damage.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowkit import CAPTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRROPT, DNSRRSOA
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from sensors.flows import dns as dnsmod
from sensors.flows.reader import FlowReader

_HEAD = struct.Struct("!HHHHHH")


def _scapy(payload: bytes) -> tuple[str, Any]:
    try:
        return "ok", dnsmod._parse_scapy(payload)
    except dnsmod.MalformedDNS:
        return "malformed", None


def _plain(payload: bytes) -> dict[str, Any] | None:
    try:
        return dnsmod._parse_plain(payload)
    except dnsmod._NotPlain:
        return None


def _agree(payload: bytes) -> bool:
    """Assert the paths agree on ``payload``; True if the plain parser took it."""
    if len(payload) < 12:
        return False
    plain = _plain(payload)
    if plain is not None:
        assert _scapy(payload) == ("ok", plain), payload.hex()
    dnsmod.clear_cache()
    with contextlib.suppress(dnsmod.MalformedDNS):  # and raises nothing else
        dnsmod.parse_dns(payload)
    return plain is not None


def _msg(**kw: Any) -> bytes:
    return bytes(DNS(**kw))


HAND_BUILT = {
    "query": _msg(id=1, qd=DNSQR(qname="ris.his.benh-vien.vn", qtype="A")),
    "query with EDNS": _msg(id=2, qd=DNSQR(qname="pacs.local", qtype="AAAA"), ar=[DNSRROPT()]),
    "answer A": _msg(id=3, qr=1, rd=1, ra=1, qd=DNSQR(qname="x.example.org"),
                     an=DNSRR(rrname="x.example.org", rdata="192.0.2.7", ttl=30)),
    "CNAME then AAAA": _msg(
        id=4, qr=1, qd=DNSQR(qname="www.example.org", qtype="AAAA"),
        an=[DNSRR(rrname="www.example.org", type="CNAME", rdata="cdn.example.net"),
            DNSRR(rrname="cdn.example.net", type="AAAA", rdata="2001:db8::ff00:42:8329")],
    ),
    "PTR with SOA authority": _msg(
        id=5, qr=1, qd=DNSQR(qname="7.1.20.10.in-addr.arpa", qtype="PTR"),
        an=DNSRR(rrname="7.1.20.10.in-addr.arpa", type="PTR", rdata="ws-0007.his.local"),
        ns=DNSRRSOA(rrname="his.local"),
    ),
    "TXT": _msg(id=6, qr=1, qd=DNSQR(qname="t.example.org", qtype="TXT"),
                an=DNSRR(rrname="t.example.org", type="TXT", rdata=["a" * 200, "b"])),
    "NXDOMAIN": _msg(id=7, qr=1, rcode=3, qd=DNSQR(qname="nope.example.org")),
    "root NS": _msg(id=8, qr=1, qd=DNSQR(qname=".", qtype="NS"),
                    an=DNSRR(rrname=".", type="NS", rdata="a.root-servers.net")),
    "MX (scapy's)": _msg(id=9, qr=1, qd=DNSQR(qname="m.example.org", qtype="MX"),
                         an=DNSRRMX(rrname="m.example.org", exchange="mx.example.org")),
}  # fmt: skip
PLAIN = {"query", "query with EDNS", "answer A", "CNAME then AAAA", "PTR with SOA authority",
         "TXT", "NXDOMAIN", "root NS"}  # fmt: skip


@pytest.mark.parametrize("name", list(HAND_BUILT))
def test_hand_built(name: str) -> None:
    payload = HAND_BUILT[name]
    assert _agree(payload) is (name in PLAIN)
    for cut in range(12, len(payload)):  # every truncation too
        _agree(payload[:cut])


def test_cname_chain_fields() -> None:
    fields = dnsmod.parse_dns(HAND_BUILT["CNAME then AAAA"])
    assert fields["dns.answers"] == [
        {"name": "www.example.org", "type": "CNAME", "ttl": 0, "data": "cdn.example.net"},
        {"name": "cdn.example.net", "type": "AAAA", "ttl": 0, "data": "2001:db8::ff00:42:8329"},
    ]
    assert fields["dns.resolved_ip"] == ["2001:db8::ff00:42:8329"]


def test_opt_among_answers_is_malformed_not_fatal(pcap: Callable[..., Path]) -> None:
    """scapy's OPT record has no TTL: this once escaped as an AttributeError."""
    answer = _HEAD.pack(1, 0x8180, 1, 1, 0, 0) + b"\x01a\x00\x00\x01\x00\x01"
    answer += b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)
    with pytest.raises(dnsmod.MalformedDNS):
        dnsmod.parse_dns(answer)
    frame = Ether() / IP(src="10.0.0.53", dst="10.0.0.1") / UDP(sport=53, dport=5353) / answer
    reader = FlowReader(pcap([bytes(frame)]))
    assert [e.get("event.dataset") for e in reader] == ["network.flow"]
    assert reader.counters.dns_errors == {"malformed": 1}


def test_names_the_plain_parser_leaves_to_scapy() -> None:
    head = _HEAD.pack(1, 0x0100, 1, 0, 0, 0)
    forward = head + b"\xc0\x14\x00\x01\x00\x01" + b"\x01a\x00"  # pointer forwards
    loop = head + b"\xc0\x0c\x00\x01\x00\x01"  # pointer to itself
    extended = head + b"\x41" + b"x" * 65 + b"\x00\x00\x01\x00\x01"  # label type 01
    for payload in (forward, loop, extended):
        assert _plain(payload) is None
        _agree(payload)


def test_pointer_chains() -> None:
    """Chains up to the plain parser's limit are its; scapy stops following after 20."""
    for count in (16, 17, 25):
        # Answer i's name points at answer i-1's, the first at the question's: i+1 hops.
        payload = _HEAD.pack(1, 0x8180, 1, count, 0, 0) + b"\x04host\x00\x00\x01\x00\x01"
        for i in range(count):
            payload += struct.pack("!HHHIH", 0xC000 | (12 if i == 0 else 22 + 12 * (i - 1)),
                                   10, 1, 0, 0)  # fmt: skip
        assert _agree(payload) is (count <= 16)
        names = [a["name"] for a in dnsmod.parse_dns(payload)["dns.answers"]]
        assert (names == ["host"] * count) is (count <= 20)


def test_public_captures() -> None:
    """Every DNS payload of the public captures: the paths agree, and most are plain."""
    if not CAPTURES:
        pytest.skip("public captures not found")
    import sensors.flows.reader as reader_mod

    payloads: list[bytes] = []
    real = reader_mod.dns_event

    def spy(payload: bytes, *args: Any) -> Any:
        payloads.append(payload)
        return real(payload, *args)

    reader_mod.dns_event = spy  # type: ignore[assignment]
    try:
        for path in CAPTURES:
            for _ in FlowReader(path):
                pass
    finally:
        reader_mod.dns_event = real
    assert len(payloads) > 100
    plain = sum(_agree(p) for p in payloads)
    assert plain > len(payloads) // 2


# Generated messages: names with odd bytes and compression, records of every kind.
_LABEL = st.binary(min_size=1, max_size=12) | st.sampled_from(
    [b"www", b"his", b"a" * 63, b"a.b", b"\xff\x80", b"x" * 70]
)
_NAME = st.lists(_LABEL, max_size=5)
#: Addresses, names, TXT/NULL, scapy's own classes (MX, SOA, SRV, OPT, RRSIG, SVCB …), any.
_TYPES = st.sampled_from([1, 28, 2, 5, 12, 39, 3, 16, 10, 15, 6, 33, 41, 46, 64, 65, 99])
_TYPES |= st.integers(0, 65535)


class _Writer:
    """A message under construction, compressing names against what it already holds."""

    def __init__(self) -> None:
        self.buf = bytearray(12)
        self.seen: dict[tuple[bytes, ...], int] = {}

    def name(self, labels: list[bytes], compress: bool, into: bytearray | None = None) -> bytes:
        out = bytearray()
        base = len(self.buf) if into is None else len(self.buf) + len(into)
        for i in range(len(labels)):
            suffix = tuple(labels[i:])
            if compress and suffix in self.seen:
                out += struct.pack("!H", 0xC000 | self.seen[suffix])
                return bytes(out)
            if base + len(out) < 0x3FFF:
                self.seen.setdefault(suffix, base + len(out))
            out += bytes([len(labels[i]) & 0xFF]) + labels[i][:63]
        return bytes(out + b"\0")


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    w = _Writer()
    compress = draw(st.booleans())
    names = [draw(_NAME) for _ in range(3)]
    questions = draw(st.integers(0, 2))
    for _ in range(questions):
        w.buf += w.name(draw(st.sampled_from(names)), compress)
        w.buf += struct.pack("!HH", draw(_TYPES), draw(st.sampled_from([1, 3, 255, 0x8001])))
    records = draw(st.lists(st.tuples(_TYPES, st.integers(0, 2**32 - 1)), max_size=4))
    for rtype, ttl in records:
        w.buf += w.name(draw(st.sampled_from(names)), compress)
        if rtype in (2, 3, 4, 5, 12, 39) and draw(st.booleans()):
            rdata = bytearray()
            rdata += w.name(draw(st.sampled_from(names)), compress, into=bytearray(10))
        elif rtype in (1, 28) and draw(st.booleans()):
            rdata = bytearray(draw(st.binary(min_size=4, max_size=4) if rtype == 1 else
                                   st.binary(min_size=16, max_size=16)))  # fmt: skip
        else:
            rdata = bytearray(draw(st.binary(max_size=24)))
        w.buf += struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
    answers = draw(st.integers(0, len(records)))
    authority = draw(st.integers(0, len(records) - answers))
    counts = [questions, answers, authority, len(records) - answers - authority]
    if draw(st.integers(0, 9)) == 0:  # counts that lie
        counts[draw(st.integers(0, 3))] = draw(st.integers(0, 5))
    flags = draw(st.integers(0, 0xFFFF)) | (0x8000 if draw(st.booleans()) else 0)
    w.buf[:12] = _HEAD.pack(draw(st.integers(0, 0xFFFF)), flags, *counts)
    return bytes(w.buf)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(messages()))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 3))
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == 0 and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == 1:
            del data[max(where, 12) :]
        elif kind == 2:
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        elif len(data) > 13:
            data[where : where + 2] = struct.pack("!H", 0xC000 | draw(st.integers(0, len(data))))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_messages_agree(payload: bytes) -> None:
    _agree(payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_messages_agree(payload: bytes) -> None:
    _agree(payload)
