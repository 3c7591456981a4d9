"""Helpers shared by the flow sensor tests: where the public captures are, pcap writing."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PCAP_DIR = ROOT.parent / "shared" / "data" / "pcap"
CAPTURES = sorted(PCAP_DIR.glob("*.pcap*")) if PCAP_DIR.is_dir() else []
#: Public captures committed with the tests (provenance in their README.md).
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "pcap"
FIXTURES = sorted(FIXTURE_DIR.glob("*.pcap*"))

#: A tshark Lua listener on the same ``ip``/``ipv6`` taps that feed ``-z conv,ip``: one
#: line per tap with the exact frame length, where ``-z conv`` prints rounded kB.
TAP_LUA = """
local f6src = Field.new("ipv6.src")
local f6dst = Field.new("ipv6.dst")
local t4 = Listener.new("ip")
local t6 = Listener.new("ipv6")
local n6 = {}
function t4.packet(pinfo, tvb, ip)
  print("4", pinfo.number, pinfo.len, tostring(ip.ip_src), tostring(ip.ip_dst))
end
function t6.packet(pinfo, tvb, ip)
  local k = (n6[pinfo.number] or 0) + 1
  n6[pinfo.number] = k
  local s = {f6src()}
  local d = {f6dst()}
  print("6", pinfo.number, pinfo.len, tostring(s[k]), tostring(d[k]))
end
"""

#: (version, {a, b}) -> (a, b, frames a->b, bytes a->b, frames b->a, bytes b->a)
ExactTable = dict[tuple[int, frozenset[str]], tuple[str, str, int, int, int, int]]


def write_pcap(
    path: Path, frames: Iterable[bytes | tuple[bytes, int]], linktype: int = 1,
    start: float = 1_700_000_000.0, step: float = 0.001,
) -> Path:  # fmt: skip
    """Write a classic pcap; a frame given as (bytes, wirelen) was cut short in capture."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for i, item in enumerate(frames):
            data, wirelen = (item, len(item)) if isinstance(item, bytes) else item
            ts = start + i * step
            sec = int(ts)
            out.write(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(data), wirelen))
            out.write(data)
    return path
