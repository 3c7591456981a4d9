"""The capture reader: pcap byte orders and resolutions, pcapng sections and interfaces."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from flowkit import CAPTURES
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapNgReader, RawPcapReader

from sensors.flows.pcapfile import Capture
from sensors.flows.reader import FlowReader

ETH = bytes(
    Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    / IP(src="10.0.0.1", dst="10.0.0.2")
    / UDP(sport=1, dport=2)
)
RAW = bytes(IP(src="10.9.9.1", dst="10.9.9.2") / UDP(sport=3, dport=4))


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _shb(e: str) -> bytes:
    return _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def _idb(e: str, linktype: int, tsresol: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(e + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + struct.pack(e + "HH", 0, 0)
    return _block(e, 1, struct.pack(e + "HHI", linktype, 0, 0) + opts)


def _epb(e: str, iface: int, ticks: int, data: bytes, wirelen: int | None = None) -> bytes:
    head = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                       wirelen or len(data))  # fmt: skip
    return _block(e, 6, head + data)


def test_pcapng_sections_interfaces_link_types_and_resolutions(tmp_path: Path) -> None:
    t = 1_700_000_000
    little = (
        _shb("<") + _idb("<", 1) + _idb("<", 101, tsresol=9)
        + _epb("<", 0, t * 10**6 + 250_000, ETH)
        + _epb("<", 1, t * 10**9 + 1, RAW, wirelen=1000)
        + _block("<", 3, struct.pack("<I", len(ETH)) + ETH)  # simple packet block
        + _block("<", 5, b"\0" * 8)  # interface statistics: skipped
    )  # fmt: skip
    big = _shb(">") + _idb(">", 101, tsresol=0x80 | 10) + _epb(">", 0, (t + 5) * 1024, RAW)
    path = tmp_path / "multi.pcapng"
    path.write_bytes(little + big)
    with Capture(path) as cap:
        recs = [(ts, lt, bytes(cap.buf[o : o + n]), w) for ts, lt, o, n, w in cap.records()]
        assert cap.linktypes == {1, 101}
        assert cap.unknown_blocks == 1
    assert [(lt, data, w) for _, lt, data, w in recs] == [
        (1, ETH, len(ETH)), (101, RAW, 1000), (1, ETH, len(ETH)), (101, RAW, len(RAW)),
    ]  # fmt: skip
    assert recs[0][0] == pytest.approx(t + 0.25)
    assert recs[1][0] == pytest.approx(t + 1e-9, abs=1e-6)
    assert recs[3][0] == pytest.approx(t + 5)
    reader = FlowReader(path)
    events = list(reader)
    assert reader.counters.packets == 4 and reader.counters.linktypes == [1, 101]
    assert sorted(e.get("network.packets") for e in events) == [2, 2]


@pytest.mark.parametrize(("endian", "magic", "scale"), [
    ("<", 0xA1B2C3D4, 1e-6), (">", 0xA1B2C3D4, 1e-6), ("<", 0xA1B23C4D, 1e-9),
    (">", 0xA1B23C4D, 1e-9),
])  # fmt: skip
def test_pcap_byte_orders_and_nanoseconds(
    tmp_path: Path, endian: str, magic: int, scale: float
) -> None:
    frac = 123_456 if scale == 1e-6 else 123_456_789
    data = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    data += struct.pack(endian + "IIII", 1_700_000_000, frac, len(ETH), len(ETH)) + ETH
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    with Capture(path) as cap:
        ((ts, lt, off, n, w),) = list(cap.records())
    assert lt == 1 and n == w == len(ETH) and off == 40
    assert ts == pytest.approx(1_700_000_000 + frac * scale, abs=1e-6)


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_same_frames_as_scapy_raw_readers(capture: Path) -> None:
    reader_cls = RawPcapNgReader if capture.suffix == ".pcapng" else RawPcapReader
    with reader_cls(str(capture)) as rd:
        theirs = [(data, meta.wirelen) for data, meta in rd]
    with Capture(capture) as cap:
        ours = [(bytes(cap.buf[o : o + n]), w) for _, _, o, n, w in cap.records()]
    assert ours == theirs
