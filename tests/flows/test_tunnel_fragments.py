"""Tunnel packets whose outer IP datagram was fragmented count in their inner flow.

Zeek's trace ``gtp1_gn_normal_incl_fragmentation.pcap`` (tests/fixtures/pcap) is an HTTP
download through a GTP-U tunnel: 108 frames, of which 32 are whole tunnel packets, 72 are
36 outer IPv4 datagrams in two fragments each, and 4 are first fragments whose second
never came. What tshark 4.0 counts on it:

* ``-z conv,ip``: the outer pair 239.114.155.111 <-> 63.94.149.181, 108 frames (every
  fragment); the inner pair 10.131.47.185 <-> 79.101.110.141, 68 frames (32 whole and 36
  reassembled, each on the frame that completes it, with that frame's length);
* ``-z conv,tcp``: 10.131.47.185:1923 <-> 79.101.110.141:80, the same 68 frames (27 and
  41 each way, 6,278 bytes);
* ``-z conv,udp``: the tunnel itself, UDP 2152 <-> 2152, the same 68 frames.

Before reassembly, phiwatch's inner TCP flow had 32 packets: the 36 fragmented packets
went, fragment by fragment, to a flow of the tunnel's outer UDP header. Now the
conversation table equals tshark's exactly (``test_tshark_agreement.py``) and the inner
flow has tshark's 68 packets, 27 and 41 each way. Deliberate differences:

* bytes: a reassembled packet counts the wire bytes of every frame that carried it (here
  1,514 + 60), where tshark's TCP conversation counts the completing frame alone (60).
  The flow is a leak detector's measure of what left: an upload through a tunnel whose
  packets get fragmented would otherwise look 25 times smaller;
* the tunnel's UDP conversation is no flow: tunnelled traffic is keyed on the inner
  header, fragmented or not (as for every tunnel the decoder follows);
* the 4 first fragments that never completed count in the flow of their fragmented
  (outer) header, UDP 2152, as any fragmented datagram that never completes; tshark counts
  them nowhere above IP.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from flowkit import FIXTURE_DIR, ExactTable
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.l2 import GRE, Ether
from scapy.packet import Packet

from sensors.flows.conversations import conversations
from sensors.flows.decode import LT_ETHERNET, decode
from sensors.flows.fragments import FragmentTracker
from sensors.flows.reader import FlowReader

GTP = FIXTURE_DIR / "gtp1_gn_normal_incl_fragmentation.pcap"
INNER = ("10.131.47.185", 1923, "79.101.110.141", 80)


def _flows(path: Path) -> tuple[FlowReader, list[dict[str, object]]]:
    reader = FlowReader(path, idle_timeout=1e9, active_timeout=1e9)
    return reader, [e.fields for e in reader]


def test_gtp_fragmented_packets_reach_the_inner_flow() -> None:
    reader, events = _flows(GTP)
    flows = {(f["source.ip"], f["source.port"], f["destination.ip"], f["destination.port"]): f
             for f in events if f["event.dataset"] == "network.flow"}  # fmt: skip
    inner = flows.pop(INNER)
    assert (inner["network.transport"], inner["network.packets"]) == ("tcp", 68)
    assert (inner["source.packets"], inner["destination.packets"]) == (27, 41)
    # everything but the 4 lone first fragments (1,514 bytes each)
    assert inner["network.bytes"] == 66_838 - 4 * 1514
    (orphans,) = flows.values()
    assert (orphans["network.transport"], orphans["source.port"], orphans["network.packets"],
            orphans["network.bytes"]) == ("udp", 2152, 4, 4 * 1514)  # fmt: skip
    c = reader.counters
    assert (c.fragments, c.tunnel_reassembled, c.tunnel_incomplete) == (76, 36, 4)
    assert c.fragments_unmatched == 0 and not c.decode_errors


def test_gtp_inner_flow_against_tshark(tshark: str) -> None:
    """Packets each way as tshark's TCP conversation; bytes those of every frame that
    carried them, which tshark lists per reassembled packet in ``ip.fragment``."""
    out = subprocess.run(
        [tshark, "-n", "-r", str(GTP), "-T", "fields", "-E", "separator=;", "-e",
         "frame.number", "-e", "frame.len", "-e", "ip.fragment", "-e", "tcp.srcport"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    length: dict[int, int] = {}
    want = {1923: [0, 0], 80: [0, 0]}  # by TCP source port: packets, bytes
    for line in out.splitlines():
        number, size, parts, sport = line.split(";")
        length[int(number)] = int(size)
        if sport:
            carried = [int(n) for n in parts.split(",")] if parts else [int(number)]
            want[int(sport)][0] += 1
            want[int(sport)][1] += sum(length[n] for n in carried)
    _, events = _flows(GTP)
    (inner,) = [f for f in events if f.get("network.transport") == "tcp"]
    assert [inner["source.packets"], inner["source.bytes"]] == want[1923]
    assert [inner["destination.packets"], inner["destination.bytes"]] == want[80]


# -- hand-built: DNS in GRE, the outer datagram cut in three -------------------------------

OUTER = IP(src="192.0.2.1", dst="192.0.2.2", id=77)
QUERY = DNS(id=5, qd=DNSQR(qname="x" * 40 + ".exfil.example.org", qtype="TXT"))


def _tunnelled(fragsize: int = 48) -> list[Packet]:
    inner = IP(src="10.1.1.5", dst="10.0.0.53") / UDP(sport=40000, dport=53) / QUERY
    eth = Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")
    return [eth / f for f in fragment(OUTER / GRE() / inner, fragsize=fragsize)]  # type: ignore[no-untyped-call]


def test_dns_through_a_fragmented_tunnel(
    pcap: Callable[..., Path], tshark_exact: Callable[[Path], ExactTable]
) -> None:
    frames = [bytes(f) for f in _tunnelled()]
    assert len(frames) == 3
    for order in (frames, frames[::-1], [frames[1], frames[0], frames[2]]):
        path = pcap(order)
        reader, events = _flows(path)
        dns = [f for f in events if f["event.dataset"] == "network.dns"]
        flows = [f for f in events if f["event.dataset"] == "network.flow"]
        assert [(f["dns.question.name"], f["dns.question.type"]) for f in dns] == [
            ("x" * 40 + ".exfil.example.org", "TXT")]
        assert [(f["source.ip"], f["destination.port"], f["network.packets"],
                 f["network.bytes"]) for f in flows] == [
            ("10.1.1.5", 53, 1, sum(map(len, frames)))]  # fmt: skip
        assert reader.counters.tunnel_reassembled == 1
        want = tshark_exact(path)
        got = {(c.version, c.pair()): (c.frames, c.bytes) for c in conversations(path)}
        assert got == {k: (v[2] + v[4], v[3] + v[5]) for k, v in want.items()}


def test_a_cut_fragment_gives_a_cut_dns_message(pcap: Callable[..., Path]) -> None:
    """The last fragment's frame cut by the snap length: the message is read as far as
    the bytes go, and its length is known from the tunnel's inner headers."""
    frames = [bytes(f) for f in _tunnelled()]
    last = frames[-1]
    events = _flows(pcap([*frames[:-1], (last[:40], len(last))]))[1]
    (dns,) = [f for f in events if f["event.dataset"] == "network.dns"]
    assert dns["dns.truncated_capture"] is True
    assert dns["phiwatch.dns.message_bytes"] == len(bytes(QUERY))
    assert dns["phiwatch.dns.captured_bytes"] < len(bytes(QUERY))
    assert ("x" * 40 + ".exfil.example.org").startswith(dns["dns.question.name"])


def test_a_tunnel_datagram_never_completed_counts_in_its_outer_flow(
    pcap: Callable[..., Path]
) -> None:
    frames = [bytes(f) for f in _tunnelled()]
    reader, events = _flows(pcap(frames[:2]))
    (flow,) = [f for f in events if f["event.dataset"] == "network.flow"]
    assert (flow["source.ip"], flow["network.transport"], flow["network.packets"]) == (
        "192.0.2.1", "gre", 2)
    assert reader.counters.tunnel_incomplete == 2
    assert not [f for f in events if f["event.dataset"] == "network.dns"]


def test_past_the_byte_budget_a_tunnel_counts_as_plain_fragments() -> None:
    frames = [bytes(f) for f in _tunnelled()]
    tracker = FragmentTracker(max_bytes=40)
    results = []
    for i, frame in enumerate(frames):
        d = decode(frame, 0, len(frame), LT_ETHERNET)
        assert d[13] is not None
        results.append(tracker.add(d[13], float(i), len(frame), i + 1, d[4], d[5], frame))
    assert [r[0] for r in results] == [None, None, (0, 0)]  # held, then given back
    assert results[-1][1] == [(0.0, len(frames[0]), 1), (1.0, len(frames[1]), 2)]
    assert results[-1][3] is None and tracker.over_budget == 1
    assert len(tracker) == 0
