"""The decoder on hand-built packets of every encapsulation, checked against tshark too."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from encapsulations import CASES, OUTER, TUN, eth, ip, v4, v6
from flowkit import FIXTURE_DIR, ExactTable
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import GRE
from scapy.packet import Packet

from sensors.flows.conversations import compare, conversations, run_tshark_conv
from sensors.flows.decode import LT_ETHERNET, LT_NULL, LT_RAW, LT_SLL, LT_SLL2, decode


def _decode(frame: bytes, linktype: int = LT_ETHERNET) -> tuple[Any, ...]:
    return decode(frame, 0, len(frame), linktype)


@pytest.mark.parametrize("name", list(CASES))
def test_encapsulation(name: str) -> None:
    packet, flow, vlan, ivlan, outer = CASES[name]
    d = _decode(bytes(packet))
    assert d[:6] == flow
    assert (d[7], d[8]) == (vlan, ivlan)
    assert d[11] is True  # tshark counts the flow layer
    assert (d[12] or []) == outer
    assert d[13] is None  # not a fragment


def test_tcp_flags_and_payload_range() -> None:
    frame = bytes(eth() / ip(1) / TCP(sport=1, dport=2, flags="PA") / b"hello")
    d = _decode(frame)
    assert d[6] == 0x18
    assert frame[d[9] : d[10]] == b"hello"


def test_udp_payload_excludes_ethernet_padding() -> None:
    frame = bytes(eth() / ip(1) / UDP(sport=1, dport=53) / b"abc") + b"\0" * 20
    d = _decode(frame)
    assert frame[d[9] : d[10]] == b"abc"


@pytest.mark.parametrize(
    ("linktype", "header"),
    [
        (LT_RAW, b""),
        (LT_NULL, struct.pack("<I", 2)),
        (LT_SLL, struct.pack("!HHH8sH", 0, 1, 6, b"\0" * 8, 0x0800)),
        (LT_SLL2, struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\0" * 8)),
    ],
    ids=["raw", "null", "sll", "sll2"],
)
def test_link_types(linktype: int, header: bytes) -> None:
    d = _decode(header + bytes(ip(30) / TCP(sport=3, dport=4)), linktype)
    assert d[:6] == (4, v4("10.30.0.1"), v4("10.30.0.2"), 6, 3, 4)
    assert d[14] is None


def test_ipv4_fragments_carry_flow_key_and_defer_inner_taps() -> None:
    big = TUN / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=9, dport=10) / (b"z" * 3000)
    frags = [bytes(eth() / f) for f in _fragment(big)]
    first, middle = _decode(frags[0]), _decode(frags[1])
    assert first[:6] == (4, *OUTER[1:], 41, 0, 0)
    assert first[11] is True and first[13] is not None
    assert first[13][4] == [(6, v6("2001:db8::1"), v6("2001:db8::2"))]  # counted on completion
    assert middle[4:6] == (-1, -1)


def test_ipv6_fragment_is_not_counted_until_complete() -> None:
    pkt = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(m=1, id=5)
    d = _decode(bytes(eth() / pkt / UDP(sport=1, dport=2) / (b"q" * 64)))
    assert d[:6] == (6, v6("2001:db8::1"), v6("2001:db8::2"), 17, 1, 2)
    assert d[11] is False and d[13] is not None


def _fragment(packet: Packet) -> list[Packet]:
    from scapy.layers.inet import fragment

    return list(fragment(packet, fragsize=1400))  # type: ignore[no-untyped-call]


def test_all_encapsulations_agree_with_tshark(
    pcap: Callable[..., Path], tshark: str, tshark_exact: Callable[[Path], ExactTable]
) -> None:
    frames = [bytes(packet) for packet, *_ in CASES.values()]
    frames += [bytes(eth() / f) for f in _fragment(
        TUN / GRE() / ip(40) / UDP(sport=1, dport=2) / (b"g" * 3000))]  # fmt: skip
    path = pcap(frames)
    want = tshark_exact(path)
    got = {(c.version, c.pair()): (c.frames, c.bytes) for c in conversations(path)}
    assert got == {k: (v[2] + v[4], v[3] + v[5]) for k, v in want.items()}
    tables = run_tshark_conv(path, tshark)
    ours = conversations(path)
    assert compare([c for c in ours if c.version == 4], tables["IPv4"]) == []
    assert compare([c for c in ours if c.version == 6], tables["IPv6"]) == []


def test_aruba_gre_traces() -> None:
    """Zeek's Aruba traces (tests/fixtures/pcap): an access point's 802.11 frames in GRE.

    tshark 4 counts 12 IPv4 conversations in gre-aruba.pcap (the tunnel and 11 inner
    pairs); before 802.11-in-GRE was decoded, phiwatch saw the tunnel alone. The exact
    per-pair frames and bytes are checked against tshark in test_tshark_agreement.py.
    """
    pairs = {frozenset((c.a, c.b)): (c.frames, c.bytes)
             for c in conversations(FIXTURE_DIR / "gre-aruba.pcap")}  # fmt: skip
    assert len(pairs) == 12
    assert pairs[frozenset(("10.3.34.171", "10.33.10.23"))] == (2407, 345_593)  # the tunnel
    assert pairs[frozenset(("10.37.36.92", "72.21.81.240"))] == (1506, 215_441)
    # A-MSDU: both subframes' IP headers count; encrypted (CCMP) bodies are not followed
    amsdu = {frozenset((c.a, c.b)): c.frames
             for c in conversations(FIXTURE_DIR / "gre-aruba-amsdu.pcap")}  # fmt: skip
    assert amsdu == {frozenset(("10.226.22.9", "10.102.16.187")): 1,
                     frozenset(("157.240.18.16", "149.159.130.184")): 2}  # fmt: skip
    ccmp = [c.pair() for c in conversations(FIXTURE_DIR / "gre-aruba-ccmp.pcap")]
    assert ccmp == [frozenset(("10.226.22.9", "10.102.16.111"))]
