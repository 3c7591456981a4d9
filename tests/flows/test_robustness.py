"""Truncated and garbage packets and files are counted by reason, never fatal."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from encapsulations import CASES
from flowkit import write_pcap
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from sensors.flows.decode import LT_ETHERNET, LT_LOOP, LT_NULL, LT_RAW, LT_SLL, LT_SLL2, decode
from sensors.flows.pcapfile import Capture, CaptureError
from sensors.flows.reader import FlowReader

LINKTYPES = [LT_ETHERNET, LT_RAW, LT_NULL, LT_LOOP, LT_SLL, LT_SLL2, 228, 229, 147]
JUNK = bytes(range(256)) * 4


@pytest.mark.parametrize("name", list(CASES))
def test_every_prefix_decodes_without_reading_past_the_frame(name: str) -> None:
    frame = bytes(CASES[name][0])
    for cut in range(len(frame) + 1):
        alone = decode(frame[:cut], 0, cut, LT_ETHERNET)
        # In a mapped capture the next record follows: it must never be read.
        embedded = decode(b"\x45" * 3 + frame[:cut] + JUNK, 3, 3 + cut, LT_ETHERNET)
        assert len(alone) == 15
        assert _plain(embedded) == _plain(alone), cut


def _plain(d: tuple[object, ...]) -> tuple[object, ...]:
    """A result with payload offsets made relative, so two buffers compare."""
    return (*d[:9], *d[11:])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), linktype=st.sampled_from(LINKTYPES))
def test_garbage_never_raises(data: bytes, linktype: int) -> None:
    result = decode(data, 0, len(data), linktype)
    assert len(result) == 15
    assert result[14] is None or isinstance(result[14], str)


def test_reader_counts_truncated_frames_by_reason(pcap: Callable[..., Path]) -> None:
    good = bytes(
        Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=1, dport=2)
    )
    frames: list[bytes | tuple[bytes, int]] = [
        good,
        (good[:10], len(good)),  # cut inside Ethernet
        (good[:20], len(good)),  # cut inside IPv4
        (good[:40], len(good)),  # cut inside TCP, after the ports: still in its flow
        b"\xff" * 60,  # garbage ethertype
        bytes(Ether(src="00:01:02:03:04:05", dst="ff:ff:ff:ff:ff:ff", type=0x0806))
        + b"\0" * 28,  # ARP: not IP, not an error
    ]
    reader = FlowReader(pcap(frames))
    events = list(reader)
    c = reader.counters
    assert c.packets == 6
    assert c.decode_errors == {"truncated.ethernet": 1, "truncated.ipv4": 1, "truncated.tcp": 1}
    assert c.non_ip == {"non_ip.0xffff": 1, "non_ip.0x0806": 1}
    flows = [e for e in events if e.get("event.dataset") == "network.flow"]
    assert [(e.get("source.port"), e.get("network.packets")) for e in flows] == [(1, 2)]


def test_capture_cut_mid_record_ends_cleanly(tmp_path: Path, pcap: Callable[..., Path]) -> None:
    frame = bytes(
        Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
        / IP()
        / UDP(sport=5, dport=6)
        / (b"x" * 100)
    )
    path = pcap([frame, frame, frame])
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-50])
    reader = FlowReader(cut)
    events = list(reader)
    assert reader.counters.packets == 2
    assert reader.counters.truncated_records == 1
    assert events[0].get("network.packets") == 2


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a pcap")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        Capture(bad)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureError):
        Capture(empty)


def test_unknown_linktype_is_counted(pcap: Callable[..., Path]) -> None:
    reader = FlowReader(pcap([b"\0" * 40, b"\1" * 40], linktype=147))
    assert list(reader) == []
    assert reader.counters.decode_errors == {"unsupported.linktype147": 2}


def test_corrupt_pcapng_block_length_stops_with_count(tmp_path: Path) -> None:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 0) + struct.pack("<I", 20)
    broken = struct.pack("<II", 6, 1_000_000) + b"\0" * 40
    path = tmp_path / "broken.pcapng"
    path.write_bytes(shb + idb + broken)
    reader = FlowReader(path)
    assert list(reader) == []
    assert reader.counters.truncated_records == 1


def _tunnel_fragments() -> list[list[bytes]]:
    """Outer IPv4 datagrams of GRE, GTP-U and VXLAN tunnels carrying DNS, fragmented."""
    from scapy.contrib.gtp import GTP_U_Header
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import fragment
    from scapy.layers.l2 import GRE
    from scapy.layers.vxlan import VXLAN

    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    inner = (IP(src="10.1.1.5", dst="10.0.0.53") / UDP(sport=40000, dport=53)
             / DNS(id=1, qd=DNSQR(qname="a" * 50 + ".example.org", qtype="TXT")))  # fmt: skip
    outer = IP(src="192.0.2.1", dst="192.0.2.2", id=9)
    tunnels = [outer / GRE() / inner,
               outer / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=1) / inner,
               outer / UDP(sport=50000, dport=4789) / VXLAN() / eth / inner]  # fmt: skip
    return [[bytes(eth / f) for f in fragment(t, fragsize=size)]  # type: ignore[no-untyped-call]
            for t in tunnels for size in (8, 24, 48)]  # fmt: skip


FRAGMENTED = _tunnel_fragments()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_tunnel_fragments_never_raise(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fragments of tunnels in any order, some lost, repeated, cut by the snap length or
    overwritten: counted, never an exception out of the reader."""
    frames = data.draw(st.sampled_from(FRAGMENTED))
    picked = data.draw(st.lists(st.sampled_from(frames), max_size=8))
    out: list[bytes | tuple[bytes, int]] = []
    for frame in picked:
        raw = bytearray(frame)
        for _ in range(data.draw(st.integers(0, 2))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(14, len(raw)))
        out.append((bytes(raw[:cut]), len(raw)))
    path = write_pcap(tmp_path_factory.mktemp("frags") / "t.pcap", out)
    reader = FlowReader(path, conversations=True)
    events = list(reader)
    assert reader.counters.packets == len(out)
    flows = [e for e in events if e.get("event.dataset") == "network.flow"]
    assert sum(e.get("network.bytes") for e in flows) <= sum(w for _, w in out)
