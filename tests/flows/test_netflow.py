"""The NetFlow v5/v9 and IPFIX collector, fed real UDP datagrams built with scapy."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from scapy.compat import raw
from scapy.layers.netflow import (
    GetNetflowRecordV9,
    NetflowDataflowsetV9,
    NetflowFlowsetV9,
    NetflowHeader,
    NetflowHeaderV5,
    NetflowHeaderV9,
    NetflowHeaderV10,
    NetflowRecordV5,
    NetflowTemplateFieldV9,
    NetflowTemplateV9,
)

from sensors.flows.netflow import NetflowCollector
from sensors.flows.network_model import NetworkTagger

NOW = 1795420800  # 2026-11-23 08:00:00 UTC


def v5(*records: Any) -> bytes:
    head = NetflowHeader(version=5) / NetflowHeaderV5(unixSecs=NOW, sysUptime=60_000)
    pkt = head
    for r in records:
        pkt = pkt / r
    return raw(pkt)


def v9_template(template_id: int = 256, flowset_id: int = 0) -> Any:
    types = (8, 12, 7, 11, 4, 1, 2, 6, 22, 21) if flowset_id == 0 else (8, 12, 7, 11, 4, 1, 2,
                                                                        152, 153)  # fmt: skip
    fields = [NetflowTemplateFieldV9(fieldType=t) for t in types]  # type: ignore[no-untyped-call]
    return NetflowFlowsetV9(
        flowSetID=flowset_id,
        templates=[NetflowTemplateV9(templateID=template_id, template_fields=fields)],
    )


@pytest.fixture
def collector() -> Any:
    with NetflowCollector("127.0.0.1", 0) as c:
        yield c


def send(collector: NetflowCollector, *datagrams: bytes) -> list[Any]:
    """Send each datagram over UDP to the collector and read its events back."""
    events = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in datagrams:
            s.sendto(data, collector.address)
            events.extend(collector.receive(timeout=5))
    return events


def test_v5_over_udp(collector: NetflowCollector) -> None:
    data = v5(
        NetflowRecordV5(src="10.1.1.5", dst="45.3.3.3", srcport=50000, dstport=443, prot=6,
                        dOctets=70_000_000, dpkts=50_000, first=0, last=30_000, tcpFlags=0x1B),
        NetflowRecordV5(src="10.1.1.5", dst="10.0.0.53", srcport=5353, dstport=53, prot=17,
                        dOctets=80, dpkts=1, first=59_000, last=59_000),
    )  # fmt: skip
    up, dns = send(collector, data)
    f = up.fields
    assert (f["source.ip"], f["source.port"], f["destination.ip"], f["destination.port"]) == (
        "10.1.1.5",
        50000,
        "45.3.3.3",
        443,
    )
    assert (f["source.bytes"], f["source.packets"], f["destination.bytes"]) == (
        70_000_000,
        50_000,
        0,
    )
    assert f["network.transport"] == "tcp"
    assert f["phiwatch.flow.tcp_flags"] == ["FIN", "SYN", "PSH", "ACK"]
    assert f["observer.ip"] == "127.0.0.1" and f["netflow.version"] == 5
    assert up.epoch == NOW - 60 and f["event.duration"] == 30_000_000_000
    assert dns.fields["network.transport"] == "udp" and dns.epoch == NOW - 1
    assert collector.counters["records"] == 2 and collector.counters["events"] == 2
    # tagged like any flow
    assert NetworkTagger().tag(up).fields["network.direction"] == "outbound"


def test_v5_reply_half_is_turned_round(collector: NetflowCollector) -> None:
    (ev,) = send(
        collector,
        v5(
            NetflowRecordV5(
                src="10.10.1.7", dst="45.3.3.3", srcport=443, dstport=50000, prot=6, dOctets=9000
            )
        ),
    )
    f = ev.fields
    assert (f["source.ip"], f["source.port"], f["destination.ip"]) == (
        "45.3.3.3",
        50000,
        "10.10.1.7",
    )
    assert (f["source.bytes"], f["destination.bytes"]) == (0, 9000)


def test_v9_templates_across_datagrams_per_exporter(collector: NetflowCollector) -> None:
    tpl = v9_template()
    rec = GetNetflowRecordV9(tpl)(  # type: ignore[no-untyped-call]
        IPV4_SRC_ADDR="10.1.1.5", IPV4_DST_ADDR="45.3.3.3", L4_SRC_PORT=50000, L4_DST_PORT=21,
        PROTOCOL=6, IN_BYTES=871, IN_PKTS=13, TCP_FLAGS=0x18, FIRST_SWITCHED=50_000,
        LAST_SWITCHED=55_000)  # fmt: skip
    head = NetflowHeader(version=9) / NetflowHeaderV9(sysUptime=60_000, unixSecs=NOW, SourceID=7)
    data_only = raw(head / NetflowDataflowsetV9(templateID=256, records=[rec, rec]))
    # Data before its template: counted, dropped.
    assert send(collector, data_only) == []
    assert collector.counters["records_without_template"] == 1
    assert send(collector, raw(head / tpl)) == []  # the template alone
    events = send(collector, data_only)  # now it decodes
    assert len(events) == 2
    f = events[0].fields
    assert (f["destination.port"], f["source.bytes"], f["source.packets"]) == (21, 871, 13)
    assert events[0].epoch == NOW - 10 and f["event.duration"] == 5_000_000_000
    assert f["netflow.version"] == 9
    # Another source id of the same exporter has its own templates.
    other = NetflowHeader(version=9) / NetflowHeaderV9(sysUptime=60_000, unixSecs=NOW,
                                                       SourceID=8)  # fmt: skip
    assert send(collector, raw(other / NetflowDataflowsetV9(templateID=256, records=[rec]))) == []


def test_ipfix(collector: NetflowCollector) -> None:
    tpl = v9_template(300, flowset_id=2)
    rec = GetNetflowRecordV9(tpl)(  # type: ignore[no-untyped-call]
        IPV4_SRC_ADDR="10.1.1.5", IPV4_DST_ADDR="45.3.3.3", L4_SRC_PORT=50000, L4_DST_PORT=587,
        PROTOCOL=6, IN_BYTES=1721, IN_PKTS=13, flowStartMilliseconds=NOW * 1000 + 250,
        flowEndMilliseconds=NOW * 1000 + 1250)  # fmt: skip
    pkt = (NetflowHeader(version=10) / NetflowHeaderV10(ExportTime=NOW + 5, ObservationDomainID=1)
           / tpl / NetflowDataflowsetV9(templateID=300, records=[rec]))  # fmt: skip
    (ev,) = send(collector, raw(pkt))
    assert ev.epoch == NOW + 0.25
    assert ev.fields["destination.port"] == 587 and ev.fields["source.bytes"] == 1721
    assert ev.fields["event.duration"] == 1_000_000_000 and ev.fields["netflow.version"] == 10


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00", "error:short"),
        (b"\x00\x07" + bytes(30), "error:version_7"),
        (b"\x00\x05\x00\x03garbage", None),
    ],
)
def test_garbage_is_counted_not_raised(collector: NetflowCollector, data: bytes,
                                       reason: str | None) -> None:  # fmt: skip
    events = send(collector, data)
    assert events == [] or all(e.fields["event.dataset"] == "network.flow" for e in events)
    if reason:
        assert collector.counters[reason] == 1
    # and the collector still works
    assert len(send(collector, v5(NetflowRecordV5(src="10.0.0.1", dst="10.0.0.2")))) == 1


def test_decode_without_socket() -> None:
    c = NetflowCollector(bind=False)
    (ev,) = c.decode(v5(NetflowRecordV5(src="10.0.0.1", dst="10.0.0.2")))
    assert "observer.ip" not in ev.fields
    with pytest.raises(RuntimeError):
        c.receive(0.1)


def test_receive_times_out_empty(collector: NetflowCollector) -> None:
    assert collector.receive(timeout=0.05) == []


def test_events_until_stopped(collector: NetflowCollector) -> None:
    stop = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(v5(NetflowRecordV5(src="10.0.0.1", dst="10.0.0.2")), collector.address)
    got = []
    for ev in collector.events(stop, poll=0.05):
        got.append(ev)
        stop.set()
    assert len(got) == 1
