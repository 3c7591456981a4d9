"""DNS events from the DNS-tunnel captures and from hand-built messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from flowkit import PCAP_DIR
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from sensors.event import Event
from sensors.flows.dns import MalformedDNS, parse_dns
from sensors.flows.reader import FlowReader


def _dns_events(path: Path) -> tuple[list[Event], FlowReader]:
    if not path.exists():
        pytest.skip(f"public capture {path.name} not found in {PCAP_DIR}")
    reader = FlowReader(path)
    return [e for e in reader if e.get("event.dataset") == "network.dns"], reader


# capture -> (query types seen, domain every query name ends with, longest name at least)
TUNNELS = {
    "dns-tunnel-dnscat2.pcap": ({"TXT": 5, "MX": 6, "CNAME": 1}, ".biillpi.com", 40),
    "dns-tunnel-iodine.pcap": ({"NULL": 12}, ".t1.biillpi.com", 200),
    "dns-tunnel-dns2tcp.pcap": ({"TXT": 22}, ".dns2tcp.hsc.fr", 150),
    "dns-tunnel-dnsextrator.pcap": ({"TXT": 14}, ".hsc.fr", 230),
}


@pytest.mark.parametrize("name", list(TUNNELS))
def test_tunnel_queries(name: str) -> None:
    types, domain, longest = TUNNELS[name]
    events, reader = _dns_events(PCAP_DIR / name)
    queries = [e for e in events if e.get("dns.type") == "query"]
    assert Counter(e.get("dns.question.type") for e in queries) == types
    names = [e.get("dns.question.name") for e in queries]
    assert all(n.endswith(domain) for n in names), names[:3]
    assert max(len(n) for n in names) >= longest
    assert reader.counters.dns_errors == {}
    assert reader.counters.dns_events == len(events)
    for e in events:
        assert e.get("network.protocol") == "dns" and e.get("dns.response_code") == "NOERROR"
        assert e.get("destination.port") == 53 or e.get("source.port") == 53
        assert e.ref.startswith(str(PCAP_DIR / name) + ":#")


def test_iodine_answers_are_null_records() -> None:
    events, _ = _dns_events(PCAP_DIR / "dns-tunnel-iodine.pcap")
    answers = [e for e in events if e.get("dns.type") == "answer"]
    assert len(answers) == 12
    assert all(a["type"] == "NULL" for e in answers for a in e.get("dns.answers"))


def test_answer_fields() -> None:
    msg = DNS(id=7, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname="x.example.org", qtype="A"),
              an=DNSRR(rrname="x.example.org", type="A", rdata="192.0.2.7", ttl=30))  # fmt: skip
    fields = parse_dns(bytes(msg))
    assert fields["dns.type"] == "answer" and fields["dns.id"] == "7"
    assert fields["dns.response_code"] == "NXDOMAIN"
    assert fields["dns.header_flags"] == ["RD", "RA"]
    assert fields["dns.question.name"] == "x.example.org"
    assert fields["dns.resolved_ip"] == ["192.0.2.7"]
    assert fields["dns.answers"] == [
        {"name": "x.example.org", "type": "A", "ttl": 30, "data": "192.0.2.7"}
    ]


@pytest.mark.parametrize(
    "payload", [b"", b"\0" * 5, b"\x12\x34\x01\x00\x00\x01" + b"\0" * 6 + b"\x05ab"]
)
def test_malformed_raises(payload: bytes) -> None:
    with pytest.raises(MalformedDNS):
        parse_dns(payload)


def test_malformed_and_tcp_dns_are_counted_not_fatal(pcap: Callable[..., Path]) -> None:
    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    ip = IP(src="10.0.0.1", dst="10.0.0.53")
    query = bytes(DNS(id=1, qd=DNSQR(qname="a.example.org", qtype="TXT")))
    frames = [
        bytes(eth / ip / UDP(sport=5353, dport=53) / (b"\xde\xad\xbe\xef" * 5)),  # garbage
        bytes(eth / ip / UDP(sport=5354, dport=53) / query),
        bytes(
            eth
            / ip
            / TCP(sport=5355, dport=53, flags="PA")
            / (len(query).to_bytes(2, "big") + query)
        ),
        bytes(eth / ip / TCP(sport=5356, dport=53, flags="PA") / (b"\x01\x00" + query)),  # partial
    ]
    reader = FlowReader(pcap(frames))
    events = list(reader)
    dns = [e for e in events if e.get("event.dataset") == "network.dns"]
    assert [(e.get("network.transport"), e.get("dns.question.type")) for e in dns] == [
        ("udp", "TXT"),
        ("tcp", "TXT"),
    ]
    assert reader.counters.dns_errors == {"malformed": 1, "tcp_segmented": 1}
    assert sum(e.get("event.dataset") == "network.flow" for e in events) == 4


def test_dns_can_be_turned_off(pcap: Callable[..., Path]) -> None:
    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    query = bytes(DNS(id=1, qd=DNSQR(qname="a.example.org")))
    frames = [bytes(eth / IP() / UDP(sport=5353, dport=53) / query)]
    reader = FlowReader(pcap(frames), dns=False)
    assert [e.get("event.dataset") for e in reader] == ["network.flow"]
