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
from dnskit import HEAD, damaged, messages
from flowkit import CAPTURES
from hypothesis import HealthCheck, given, settings
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRROPT, DNSRRSOA
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from sensors.flows import dns as dnsmod
from sensors.flows.reader import FlowReader


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
    answer = HEAD.pack(1, 0x8180, 1, 1, 0, 0) + b"\x01a\x00\x00\x01\x00\x01"
    answer += b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)
    with pytest.raises(dnsmod.MalformedDNS):
        dnsmod.parse_dns(answer)
    frame = Ether() / IP(src="10.0.0.53", dst="10.0.0.1") / UDP(sport=53, dport=5353) / answer
    reader = FlowReader(pcap([bytes(frame)]))
    assert [e.get("event.dataset") for e in reader] == ["network.flow"]
    assert reader.counters.dns_errors == {"malformed": 1}


def test_names_the_plain_parser_leaves_to_scapy() -> None:
    head = HEAD.pack(1, 0x0100, 1, 0, 0, 0)
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
        payload = HEAD.pack(1, 0x8180, 1, count, 0, 0) + b"\x04host\x00\x00\x01\x00\x01"
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_messages_agree(payload: bytes) -> None:
    _agree(payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_messages_agree(payload: bytes) -> None:
    _agree(payload)
