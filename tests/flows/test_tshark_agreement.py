"""Every public capture: our conversation table equals ``tshark -q -z conv,ip`` (and ipv6).

Two checks per capture. ``-z conv`` itself: frames exactly, bytes exactly as tshark prints
them (tshark rounds sizes of 10,000 bytes and more down to kB). And exact bytes, from a
Lua listener on the same ``ip``/``ipv6`` taps that feed ``-z conv``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flowkit import CAPTURES, PCAP_DIR, ExactTable

from sensors.flows.conversations import compare, conversations, run_tshark_conv

if not CAPTURES:
    pytest.skip(f"public captures not found in {PCAP_DIR}", allow_module_level=True)


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_conversations_equal_tshark_conv(capture: Path, tshark: str) -> None:
    ours = conversations(capture)
    tables = run_tshark_conv(capture, tshark)
    problems = compare([c for c in ours if c.version == 4], tables.get("IPv4", []))
    problems += compare([c for c in ours if c.version == 6], tables.get("IPv6", []))
    assert problems == []
    assert len(ours) == len(tables.get("IPv4", [])) + len(tables.get("IPv6", []))
    assert ours, "every public capture has IP traffic"


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
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
