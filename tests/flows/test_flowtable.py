"""Flows: both directions in one entry, timeouts, eviction, fragments, and the ECS event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from sensors.flows.flowtable import FlowTable, flow_event
from sensors.flows.reader import FlowReader, read_flows

A, B = 0x0A000001, 0x0A000002  # 10.0.0.1, 10.0.0.2


def eth() -> Ether:
    return Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")


def test_both_directions_one_flow_initiator_is_first_sender() -> None:
    table = FlowTable()
    table.add(1.0, 4, B, A, 6, 443, 5000, 0x02, -1, -1, 60, 1)  # B speaks first
    table.add(1.1, 4, A, B, 6, 5000, 443, 0x12, -1, -1, 70, 2)
    table.add(1.2, 4, B, A, 6, 443, 5000, 0x10, -1, -1, 1000, 3)
    assert len(table) == 1
    table.flush()
    (flow,) = table.take()
    assert (flow.a_packets, flow.a_bytes, flow.b_packets, flow.b_bytes) == (2, 1060, 1, 70)
    ev = flow_event(flow, "x.pcap")
    assert ev.get("source.ip") == "10.0.0.2" and ev.get("source.port") == 443
    assert ev.get("destination.ip") == "10.0.0.1" and ev.get("destination.port") == 5000
    assert ev.get("phiwatch.flow.tcp_flags") == ["SYN", "ACK"]


def test_idle_timeout_ends_flow_and_a_new_one_starts() -> None:
    table = FlowTable(idle_timeout=10, active_timeout=1000)
    table.add(0.0, 4, A, B, 17, 1, 2, 0, -1, -1, 100, 1)
    table.expire(5.0)
    assert table.take() == []
    table.expire(10.5)
    (flow,) = table.take()
    assert flow.end_reason == "idle_timeout"
    table.add(11.0, 4, A, B, 17, 1, 2, 0, -1, -1, 100, 2)
    assert len(table) == 1 and table.idle_expired == 1


def test_active_timeout_splits_a_long_flow() -> None:
    table = FlowTable(idle_timeout=100, active_timeout=30)
    for i in range(10):
        table.add(i * 10.0, 4, A, B, 6, 1, 2, 0x10, -1, -1, 100, i + 1)
    table.flush()
    flows = table.take()
    assert [f.a_packets for f in flows] == [3, 3, 3, 1]
    assert [f.end_reason for f in flows] == ["active_timeout"] * 3 + ["end_of_capture"]
    assert flow_event(flows[0]).get("flow.final") is False
    assert flow_event(flows[-1]).get("flow.final") is True
    assert table.active_expired == 3


def test_max_flows_evicts_the_longest_idle_and_counts_it() -> None:
    table = FlowTable(max_flows=3)
    for port in (1, 2, 3):
        table.add(float(port), 4, A, B, 17, port, 53, 0, -1, -1, 80, port)
    table.add(4.0, 4, A, B, 17, 1, 53, 0, -1, -1, 80, 4)  # port 1 is fresh again
    table.add(5.0, 4, A, B, 17, 9, 53, 0, -1, -1, 80, 5)  # a fourth flow: evict port 2
    (evicted,) = table.take()
    assert evicted.key[2] == 2 or evicted.key[4] == 2
    assert evicted.end_reason == "evicted" and table.evicted == 1
    assert len(table) == 3


def test_reader_timeouts_are_configurable(pcap: Callable[..., Path]) -> None:
    frame = bytes(eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7, dport=8))
    path = pcap([frame] * 6, step=5.0)  # one packet every 5 s
    assert len(list(read_flows(path, idle_timeout=4, dns=False))) == 6
    assert len(list(read_flows(path, idle_timeout=60, dns=False))) == 1
    assert len(list(read_flows(path, idle_timeout=60, active_timeout=12, dns=False))) == 2


def test_reader_evicts_under_max_flows(pcap: Callable[..., Path]) -> None:
    frames = [bytes(eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=p, dport=9))
              for p in range(1, 21)]  # fmt: skip
    reader = FlowReader(pcap(frames), max_flows=5, dns=False)
    assert len(list(reader)) == 20
    assert reader.counters.flows_evicted == 15
    assert reader.counters.flows == 20


def test_flow_event_fields(pcap: Callable[..., Path]) -> None:
    c2s = (
        eth() / Dot1Q(vlan=42) / IP(src="10.1.1.1", dst="203.0.113.9") / TCP(sport=50000, dport=443)
    )
    s2c = (
        eth() / Dot1Q(vlan=42) / IP(src="203.0.113.9", dst="10.1.1.1") / TCP(sport=443, dport=50000)
    )
    path = pcap([bytes(c2s), bytes(s2c), bytes(c2s)], start=1_700_000_000.25, step=0.5)
    (ev,) = list(read_flows(path))
    f = ev.fields
    assert f["event.dataset"] == "network.flow"
    assert f["event.kind"] == "event" and f["event.category"] == ["network"]
    assert f["event.start"] == "2023-11-14T22:13:20.250000Z"
    assert f["event.end"] == "2023-11-14T22:13:21.250000Z"
    assert ev.timestamp == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert (f["source.ip"], f["source.port"], f["source.packets"]) == ("10.1.1.1", 50000, 2)
    assert (f["destination.ip"], f["destination.port"], f["destination.packets"]) == (
        "203.0.113.9", 443, 1)  # fmt: skip
    assert f["source.bytes"] == 2 * len(c2s) and f["destination.bytes"] == len(s2c)
    assert f["network.bytes"] == 2 * len(c2s) + len(s2c) and f["network.packets"] == 3
    assert (f["network.transport"], f["network.type"], f["network.vlan.id"]) == (
        "tcp",
        "ipv4",
        "42",
    )
    assert ev.ref == f"{path}:#1"
    assert ev.id == f["flow.id"] and len(ev.id) == 32
    again = next(iter(read_flows(path)))
    assert again.id == ev.id  # stable across replays


def test_bytes_are_wire_length_not_captured_length(pcap: Callable[..., Path]) -> None:
    frame = bytes(
        eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2) / (b"x" * 500)
    )
    (ev,) = list(read_flows(pcap([(frame[:96], len(frame))])))
    assert ev.get("network.bytes") == len(frame)
    assert ev.get("network.type") == "ipv6" and ev.get("source.ip") == "2001:db8::1"


@pytest.mark.parametrize("order", ["in-order", "reversed"])
def test_fragments_join_the_flow_of_their_first_fragment(
    pcap: Callable[..., Path], order: str
) -> None:
    big = IP(src="10.0.0.1", dst="10.0.0.2", id=99) / UDP(sport=4000, dport=5000) / (b"f" * 4000)
    frames = [bytes(eth() / f) for f in fragment(big, fragsize=1400)]  # type: ignore[no-untyped-call]
    if order == "reversed":  # old Linux sent the last fragment first
        frames.reverse()
    reader = FlowReader(pcap(frames), dns=False)
    (ev,) = list(reader)
    assert (ev.get("source.port"), ev.get("destination.port")) == (4000, 5000)
    assert ev.get("network.packets") == len(frames) == reader.counters.fragments
    assert ev.get("network.bytes") == sum(len(f) for f in frames)


def test_fragments_without_their_first_make_a_portless_flow(pcap: Callable[..., Path]) -> None:
    big = IP(src="10.0.0.1", dst="10.0.0.2", id=7) / UDP(sport=4000, dport=5000) / (b"f" * 4000)
    frames = [bytes(eth() / f) for f in fragment(big, fragsize=1400)][1:]  # type: ignore[no-untyped-call]
    reader = FlowReader(pcap(frames), dns=False)
    (ev,) = list(reader)
    assert "source.port" not in ev.fields or ev.get("source.port") == 0
    assert ev.get("network.packets") == 2
    assert reader.counters.fragments_unmatched == 2


def test_reading_twice_gives_the_same_events_and_counters(pcap: Callable[..., Path]) -> None:
    frame = bytes(eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7, dport=8))
    reader = FlowReader(pcap([frame] * 3), conversations=True)
    first = list(reader)
    counters = reader.counters.as_dict()
    assert list(reader) == first
    assert (
        reader.counters.as_dict()
        == counters
        == {**counters, "packets": 3, "ip_packets": 3, "flows": 1, "bytes": 3 * len(frame)}
    )
    assert [c.frames for c in reader.conversations()] == [3]


def test_a_flow_cut_by_the_active_timeout_keeps_its_initiator() -> None:
    from sensors.flows.flowtable import FlowTable

    table = FlowTable(idle_timeout=60, active_timeout=300.25)  # the server's ACK at 300.5 opens #2
    client, server = 0x0A14150D, 0x67617D08  # 10.20.21.13 -> 103.97.125.8
    t = 0.0
    while t < 600:  # an upload: the client sends 1500-byte segments, the server ACKs
        table.add(t, 4, client, server, 6, 50000, 443, 0x10, -1, -1, 1500, 1)
        table.add(t + 0.5, 4, server, client, 6, 443, 50000, 0x10, -1, -1, 60, 2)
        t += 1.0
    table.flush()
    flows = table.take()
    assert len(flows) == 2
    for f in flows:
        a, _, b, _ = f.endpoints
        assert (a, b) == (client, server)
        assert f.a_bytes > 20 * f.b_bytes
