"""Live capture on the loopback interface: UDP packets sent to 127.0.0.1 become flows."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from scapy.layers.dns import DNS, DNSQR

from sensors.event import Event
from sensors.flows.live import LiveCapture, bpf_unavailable, loopback_available

REASON = loopback_available("lo")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
NO_BPF = bpf_unavailable()
needs_bpf = pytest.mark.skipif(NO_BPF is not None, reason=NO_BPF or "")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_capture(cap: LiveCapture, send: list[tuple[bytes, int]], settle: float = 0.3
                ) -> list[Event]:  # fmt: skip
    """Capture in a thread while ``send``ing (payload, port) datagrams to 127.0.0.1."""
    stop = threading.Event()
    events: list[Event] = []
    thread = threading.Thread(target=lambda: events.extend(cap.events(stop, poll=0.05)))
    thread.start()
    time.sleep(0.2)  # the loop is in select() before the first packet
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        for payload, port in send:
            s.sendto(payload, ("127.0.0.1", port))
    time.sleep(settle)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return events


@needs_bpf
def test_udp_on_loopback_becomes_one_flow() -> None:
    port = free_udp_port()
    with LiveCapture("lo", f"udp and dst port {port}", idle_timeout=30) as cap:
        events = run_capture(cap, [(b"x" * 100, port)] * 20)
    flows = [e for e in events if e.fields["event.dataset"] == "network.flow"]
    assert len(flows) == 1, flows
    f = flows[0].fields
    assert (f["source.ip"], f["destination.ip"], f["destination.port"]) == (
        "127.0.0.1",
        "127.0.0.1",
        port,
    )
    assert f["network.transport"] == "udp"
    # each datagram once (the kernel's outgoing copy is skipped): 14+20+8+100 bytes
    assert f["source.packets"] == 20 and f["source.bytes"] == 20 * 142
    assert f["phiwatch.flow.end_reason"] == "end_of_capture"
    assert cap.counters.packets == 20 and cap.kernel_drops == 0


@needs_bpf
def test_bpf_filter_keeps_other_traffic_out() -> None:
    wanted, other = free_udp_port(), free_udp_port()
    with LiveCapture("lo", f"udp and dst port {wanted}") as cap:
        events = run_capture(cap, [(b"a", other)] * 5 + [(b"b", wanted)] * 3)
    (flow,) = [e for e in events if e.fields["event.dataset"] == "network.flow"]
    assert flow.fields["destination.port"] == wanted and cap.counters.packets == 3


@needs_bpf
def test_dns_on_loopback() -> None:
    # Port 53 is taken by nothing on 127.0.0.1 in the test machine, and sending needs no
    # listener: the datagram crosses lo either way.
    query = bytes(DNS(id=7, rd=1, qd=DNSQR(qname="laczi1dwmfbaywb0fm5xhkrgz0heotzq.t1.biillpi.com",
                                            qtype="NULL")))  # fmt: skip
    with LiveCapture("lo", "udp and dst port 53") as cap:
        events = run_capture(cap, [(query, 53)])
    (dns,) = [e for e in events if e.fields["event.dataset"] == "network.dns"]
    assert dns.fields["dns.question.name"] == "laczi1dwmfbaywb0fm5xhkrgz0heotzq.t1.biillpi.com"
    assert dns.fields["dns.question.type"] == "NULL"


@needs_bpf
def test_closed_capture_refuses() -> None:
    cap = LiveCapture("lo", "udp and port 9")
    cap.close()
    with pytest.raises(RuntimeError):
        next(iter(cap.events()))
