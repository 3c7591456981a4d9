"""How tshark 4 counts conversations in odd cases, pinned down against tshark itself.

Each case is a small capture; the expected counts were found by running tshark on it and
are asserted here too, so a change in our rules shows up even where tshark is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from sensors.flows.conversations import conversations

Frames = list[bytes | tuple[bytes, int]]


def eth() -> Ether:
    return Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")


def cut(packet: Packet, *lengths: int) -> Frames:
    """The frame captured only up to each length (its wire length stays whole)."""
    data = bytes(packet)
    return [(data[:n], len(data)) for n in lengths]


def patched(packet: Packet, at: int, value: bytes) -> bytes:
    data = bytearray(bytes(packet))
    data[at : at + len(value)] = value
    return bytes(data)


def _frags(packet: Packet, v6: bool = False) -> Frames:
    parts = fragment6(packet, 1400) if v6 else fragment(packet, fragsize=1400)  # type: ignore[no-untyped-call]
    frames: Frames = [bytes(eth() / p) for p in parts]
    return frames


V4 = IP(src="10.0.0.1", dst="10.0.0.2")
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
TCP20 = TCP() / (b"y" * 20)

# name -> (frames, {(version, frames counted), ...} expected for the capture)
CASES: dict[str, tuple[Frames, dict[int, int]]] = {
    # IPv4 counts once its ihl*4 bytes are captured, whatever follows.
    "ipv4-cut": (cut(eth() / V4 / TCP20, 20, 33, 34, 40), {4: 2}),
    "ipv4-options-cut": (
        cut(eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR()]) / UDP(), 37, 38),
        {4: 1},
    ),
    "ipv4-insane": (
        [
            patched(eth() / V4 / TCP(), 14, b"\x44"),  # ihl 4
            patched(eth() / V4 / TCP(), 16, b"\x00\x10"),  # total length < header
            patched(eth() / V4 / TCP(), 14, b"\x55"),  # version 5
            patched(eth() / V4 / TCP(), 16, b"\x00\x00"),  # total length 0 (TSO): counts
            patched(eth() / V4 / TCP(), 16, b"\x05\x00"),
        ],  # longer than the frame: counts
        {4: 2},
    ),
    # IPv6 counts once its header and every extension header are captured.
    "ipv6-ext-cut": (
        cut(eth() / V6 / IPv6ExtHdrHopByHop() / TCP20, 53, 54 + 6, 62, 70)
        + cut(eth() / V6 / IPv6ExtHdrDestOpt() / TCP20, 58, 62)
        + cut(eth() / V6 / IPv6ExtHdrRouting(addresses=["2001:db8::9"]) / TCP20, 70, 78),
        {6: 4},
    ),
    "ipv6-mobility-shim6-never": (
        [
            bytes(
                eth()
                / IPv6(src="2001:db8::1", dst="2001:db8::2", nh=nh)
                / (b"\x3b\x01" + b"\0" * 14)
            )
            for nh in (135, 140, 139)
        ],
        {6: 1},  # only HIP (139)
    ),
    "icmp-error-quote": (
        [bytes(eth() / V4 / ICMP(type=3, code=3) / IP(src="10.0.0.2", dst="10.9.9.9") / UDP())],
        {4: 1},
    ),
    # IPv6 fragments count only on the frame completing reassembly; atomic ones at once.
    "ipv6-fragments": (
        [
            *_frags(V6 / IPv6ExtHdrFragment(id=5) / UDP(sport=1, dport=2) / (b"q" * 3000), True),
            bytes(eth() / V6 / IPv6ExtHdrFragment(m=0, offset=0, id=6) / UDP()),
            bytes(eth() / V6 / IPv6ExtHdrFragment(m=1, offset=0, id=7) / UDP()),
        ],
        {6: 2},
    ),
    # Every IPv4 fragment counts; the tunnelled header inside only on completion.
    "ipv4-fragmented-6in4": (
        _frags(
            IP(src="10.0.0.1", dst="10.0.0.2", id=77, proto=41)
            / IPv6(src="2001:db8::7", dst="2001:db8::8")
            / UDP()
            / (b"z" * 3000)
        ),
        {4: 3, 6: 1},
    ),
    "ipv4-fragmented-6in4-incomplete": (
        [
            f
            for i, f in enumerate(
                _frags(
                    IP(src="10.0.0.1", dst="10.0.0.2", id=78, proto=41)
                    / IPv6(src="2001:db8::7", dst="2001:db8::8")
                    / UDP()
                    / (b"z" * 3000)
                )
            )
            if i != 1
        ],
        {4: 2},
    ),
}


def _counts(path: Path) -> dict[int, int]:
    out: dict[int, int] = {}
    for c in conversations(path):
        out[c.version] = out.get(c.version, 0) + c.frames
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_counts(name: str, pcap: Callable[..., Path]) -> None:
    frames, expected = CASES[name]
    assert _counts(pcap(frames)) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_same_as_tshark(
    name: str,
    pcap: Callable[..., Path],
    tshark_exact: Callable[[Path], dict[object, tuple[object, ...]]],
) -> None:
    path = pcap(CASES[name][0])
    want = tshark_exact(path)
    got = {
        (c.version, c.pair()): (c.a, c.b, c.frames_ab, c.bytes_ab, c.frames_ba, c.bytes_ba)
        for c in conversations(path)
    }
    assert got == want
