"""NDJSON/CSV output, tshark output parsing and size formatting."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from sensors.flows.conversations import (
    Conversation,
    TsharkConversation,
    compare,
    format_bytes,
    parse_size,
    parse_tshark_conv,
)
from sensors.flows.output import CSV_COLUMNS, write_events
from sensors.flows.reader import read_flows

TSHARK_OUTPUT = """\
================================================================================
IPv6 Conversations
Filter:<No Filter>
                                               |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |
                                               | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |
2001:470:1f11:81f:c999:d94:aa7c:2e3e <-> 2001:470:4867:99::21      56 9217 bytes      80 7262 bytes     136 16 kB         0.000000000        26.7677
================================================================================
================================================================================
IPv4 Conversations
Filter:<No Filter>
                                               |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |
                                               | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |
141.42.64.125        <-> 125.190.109.199           10 10 kB          12 898 bytes      22 10 kB      176618088.575991005         1.7340
127.0.0.1            <-> 127.0.0.1                  0 0 bytes        38 247 kB         38 247 kB        0.000000000        46.5349
================================================================================
"""  # noqa: E501


def test_parse_tshark_conv() -> None:
    tables = parse_tshark_conv(TSHARK_OUTPUT)
    assert tables["IPv6"] == [
        TsharkConversation("2001:470:1f11:81f:c999:d94:aa7c:2e3e", "2001:470:4867:99::21",
                           56, "9217 bytes", 80, "7262 bytes"),
    ]  # fmt: skip
    assert [(t.a, t.frames_ba, t.bytes_ba, t.frames_ab, t.bytes_ab) for t in tables["IPv4"]] == [
        ("141.42.64.125", 10, "10 kB", 12, "898 bytes"),
        ("127.0.0.1", 0, "0 bytes", 38, "247 kB"),
    ]


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 bytes"), (9999, "9999 bytes"), (10_000, "10 kB"), (16_479, "16 kB"),
    (247_999, "247 kB"), (9_999_999, "9999 kB"), (10_000_000, "10 MB"), (12 * 10**9, "12 GB"),
])  # fmt: skip
def test_format_bytes_like_tshark(n: int, text: str) -> None:
    assert format_bytes(n) == text
    assert parse_size(text) <= n


def test_compare_reports_differences() -> None:
    theirs = parse_tshark_conv(TSHARK_OUTPUT)["IPv4"]
    ours = [
        Conversation("141.42.64.125", "125.190.109.199", 12, 898, 10, 10_500),
        Conversation("127.0.0.1", "127.0.0.1", 38, 247_100, 0, 0),
    ]
    assert compare(ours, theirs) == []
    ours[0].frames_ab = 13
    ours.append(Conversation("10.0.0.1", "10.0.0.2", 1, 60))
    problems = compare(ours, theirs)
    assert len(problems) == 2 and problems[1] == "extra 10.0.0.1 <-> 10.0.0.2"


@pytest.fixture
def capture(pcap: Callable[..., Path]) -> Path:
    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    frames = [
        bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=443, flags="S")),
        bytes(eth / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=443, dport=1, flags="SA")),
    ]
    return pcap(frames)


def test_ndjson_is_one_ecs_document_per_line(capture: Path) -> None:
    out = io.StringIO()
    assert write_events(read_flows(capture), out, "ndjson") == 1
    (line,) = out.getvalue().splitlines()
    doc = orjson.loads(line)
    assert doc["@timestamp"].endswith("Z")
    assert doc["event"]["dataset"] == "network.flow" and len(doc["event"]["id"]) == 32
    assert doc["source"] == {"ip": "10.0.0.1", "port": 1, "bytes": 54, "packets": 1}
    assert doc["network"]["bytes"] == 108 and doc["event"]["reference"] == f"{capture}:#1"


def test_csv_has_fixed_columns(capture: Path) -> None:
    out = io.StringIO()
    write_events(read_flows(capture), out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["source.ip"] == "10.0.0.1" and rows[0]["destination.port"] == "443"
    assert rows[0]["phiwatch.flow.tcp_flags"] == "SYN|ACK"
    assert rows[0]["dns.question.name"] == ""


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        write_events([], io.StringIO(), "xml")
