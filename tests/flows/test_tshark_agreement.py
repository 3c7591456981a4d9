"""Every public capture (shared, and committed under tests/fixtures/pcap): our conversation
table equals ``tshark -q -z conv,ip`` (and ipv6), and our flows equal tshark's TCP and UDP
conversations.

Two checks per capture. ``-z conv`` itself: frames exactly, bytes exactly as tshark prints
them (tshark rounds sizes of 10,000 bytes and more down to kB). And exact bytes, from a
Lua listener on the same ``ip``/``ipv6`` taps that feed ``-z conv``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from flowkit import CAPTURES, FIXTURES, ExactTable

from sensors.flows.conversations import compare, conversations, format_bytes, run_tshark_conv
from sensors.flows.reader import FlowReader

#: The committed fixtures are checked even where the shared captures are absent.
ALL = CAPTURES + FIXTURES


@pytest.mark.parametrize("capture", ALL, ids=[p.name for p in ALL])
def test_conversations_equal_tshark_conv(capture: Path, tshark: str) -> None:
    ours = conversations(capture)
    tables = run_tshark_conv(capture, tshark)
    problems = compare([c for c in ours if c.version == 4], tables.get("IPv4", []))
    problems += compare([c for c in ours if c.version == 6], tables.get("IPv6", []))
    assert problems == []
    assert len(ours) == len(tables.get("IPv4", [])) + len(tables.get("IPv6", []))
    assert ours, "every public capture has IP traffic"


@pytest.mark.parametrize("capture", ALL, ids=[p.name for p in ALL])
def test_conversation_bytes_exact(
    capture: Path, tshark_exact: Callable[[Path], ExactTable]
) -> None:
    want = tshark_exact(capture)
    got = {
        (c.version, c.pair()): (c.a, c.b, c.frames_ab, c.bytes_ab, c.frames_ba, c.bytes_ba)
        for c in conversations(capture)
    }
    assert set(got) == set(want)
    for key, row in want.items():
        mine = got[key]
        if row[0] == row[1]:  # loopback to itself: everything is A -> B
            assert mine[2:] == row[2:], key
        else:
            assert mine == row, key


_ENDPOINT_ROW = re.compile(
    r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)"
)
#: Where flows and tshark's TCP/UDP conversations differ by design, and why.
FLOW_DIVERGENCES = {
    "edge-ipv4-fragmented.pcap": "its fragments never reassemble, so tshark sees no TCP at "
    "all; the flow sensor counts every fragment in the flow of the first fragment",
    "gtp1_gn_normal_incl_fragmentation.pcap": "a GTP-U tunnel whose outer datagrams are "
    "often fragmented: the tunnel's own UDP conversation is no flow (flows are keyed on the "
    "inner header) and a reassembled packet counts the bytes of all its fragments' frames; "
    "test_tunnel_fragments.py checks it against tshark in detail",
    **dict.fromkeys(
        ["dns-edns-ecs-s96.pcap", "dns-edns-ecs-s128.pcap"],
        "large DNS answers in two IPv4 fragments, cut by the snap length: the flow counts "
        "both fragments, tshark (unable to reassemble what was cut) the first alone",
    ),
    "gre-aruba-amsdu.pcap": "one 802.11 A-MSDU frame carrying two TCP segments: tshark counts "
    "two frames in the TCP conversation; a frame has one flow layer, its first subframe, so "
    "the flow counts one packet (both IP headers count in the conversation table, as tshark)",
}


@pytest.mark.parametrize("capture", ALL, ids=[p.name for p in ALL])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_flows_equal_tshark_tcp_udp_conversations(
    capture: Path, transport: str, tshark: str
) -> None:
    if capture.name in FLOW_DIVERGENCES:
        pytest.skip(FLOW_DIVERGENCES[capture.name])
    out = subprocess.run(
        [tshark, "-n", "-q", "-r", str(capture), "-z", f"conv,{transport}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs: dict[frozenset[tuple[str, int]], tuple[int, str]] = {}
    for line in out.splitlines():
        m = _ENDPOINT_ROW.match(line)
        if m:
            key = frozenset(((m[1], int(m[2])), (m[3], int(m[4]))))
            assert key not in theirs, "port reuse: tshark splits it by TCP stream"
            theirs[key] = (int(m[9]), m[10])
    ours: dict[frozenset[tuple[str, int]], tuple[int, str]] = {}
    reader = FlowReader(capture, idle_timeout=1e9, active_timeout=1e9, dns=False)
    for ev in reader:
        if ev.get("network.transport") == transport:
            key = frozenset(
                ((ev.get("source.ip"), ev.get("source.port")),
                 (ev.get("destination.ip"), ev.get("destination.port")))
            )  # fmt: skip
            assert key not in ours
            ours[key] = (ev.get("network.packets"), format_bytes(ev.get("network.bytes")))
    assert ours == theirs
