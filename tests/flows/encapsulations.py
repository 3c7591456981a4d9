"""Hand-built packets of every encapsulation the decoder follows, with what it must find.

Shared by the decoder tests and the robustness tests (every prefix of each of these).
"""

from __future__ import annotations

import socket
from typing import Any

from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import GRE, LLC, SNAP, Dot1AD, Dot1Q, Dot3, Ether
from scapy.layers.l2tp import L2TP
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw


def eth() -> Ether:
    return Ether(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e")


def ip(n: int) -> IP:
    return IP(src=f"10.{n}.0.1", dst=f"10.{n}.0.2")


def v4(text: str) -> int:
    return int.from_bytes(socket.inet_aton(text), "big")


def v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


OUTER = (4, v4("192.0.2.1"), v4("192.0.2.2"))
TUN = IP(src="192.0.2.1", dst="192.0.2.2")


def dot11(subtype: int = 8, flags: int = 0x01, qos: int = 0, htc: bool = False) -> Raw:
    """An 802.11 data frame header as Aruba access points tunnel it (no FCS): frame control
    (``flags``: 1 to-DS, 2 from-DS, 0x40 protected, 0x80 order), duration, three addresses,
    sequence, a fourth address when to- and from-DS, QoS control in QoS subtypes, and HT
    control when a QoS frame has the order bit."""
    head = bytes([subtype << 4 | 0x08, flags]) + b"\0\0" + bytes(range(1, 19)) + b"\x10\0"
    if flags & 3 == 3:
        head += bytes(range(21, 27))
    if subtype & 8:
        head += bytes([qos, 0])
        if htc and flags & 0x80:
            head += b"\0\0\0\0"
    return Raw(head)


SNAP_IP = LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800)


def amsdu(*packets: Packet) -> Raw:
    """An A-MSDU body: per subframe destination, source, length, LLC/SNAP and the packet,
    each but the last padded to a multiple of 4 bytes."""
    out = b""
    for i, pkt in enumerate(packets):
        body = bytes(SNAP_IP / pkt)
        out += bytes(range(6)) + bytes(range(6, 12)) + len(body).to_bytes(2, "big") + body
        if i < len(packets) - 1:
            out += b"\0" * (-len(out) % 4)
    return Raw(out)


# name -> (packet, expected flow layer (ver, src, dst, proto, sport, dport), vlan, ivlan,
#          expected outer taps)
CASES: dict[str, tuple[Packet, tuple[Any, ...], int, int, list[Any]]] = {
    "ethernet-tcp": (eth() / ip(1) / TCP(sport=1025, dport=443, flags="S"),
                     (4, v4("10.1.0.1"), v4("10.1.0.2"), 6, 1025, 443), -1, -1, []),
    "vlan": (eth() / Dot1Q(vlan=10) / ip(2) / UDP(sport=5000, dport=514),
             (4, v4("10.2.0.1"), v4("10.2.0.2"), 17, 5000, 514), 10, -1, []),
    "qinq": (eth() / Dot1AD(vlan=100) / Dot1Q(vlan=20) / ip(3) / TCP(sport=1, dport=2),
             (4, v4("10.3.0.1"), v4("10.3.0.2"), 6, 1, 2), 100, 20, []),
    "three-tags": (eth() / Dot1Q(vlan=3) / Dot1Q(vlan=4) / Dot1Q(vlan=5) / ip(4) / UDP(),
                   (4, v4("10.4.0.1"), v4("10.4.0.2"), 17, 53, 53), 3, 4, []),
    "mpls-stack": (eth() / MPLS(label=100, s=0) / MPLS(label=200, s=1) / ip(5) / TCP(),
                   (4, v4("10.5.0.1"), v4("10.5.0.2"), 6, 20, 80), -1, -1, []),
    "mpls-pw-cw-vlan": (eth() / MPLS(label=7, s=1) / Raw(b"\0\0\0\x05") / eth() / Dot1Q(vlan=9)
                        / ip(6) / TCP(), (4, v4("10.6.0.1"), v4("10.6.0.2"), 6, 20, 80), 9, -1, []),
    "vlan-mpls-ipv6": (eth() / Dot1Q(vlan=8, type=0x8847) / MPLS(s=1)
                       / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=7, dport=9),
                       (6, v6("2001:db8::1"), v6("2001:db8::2"), 17, 7, 9), 8, -1, []),
    "ipv6-ext": (eth() / IPv6(src="2001:db8::3", dst="2001:db8::4") / IPv6ExtHdrHopByHop()
                 / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(addresses=["2001:db8::99"])
                 / TCP(sport=5, dport=6, flags="PA"),
                 (6, v6("2001:db8::3"), v6("2001:db8::4"), 6, 5, 6), -1, -1, []),
    "icmp": (eth() / ip(7) / ICMP() / b"ping", (4, v4("10.7.0.1"), v4("10.7.0.2"), 1, 0, 0),
             -1, -1, []),
    "icmp-error-quotes-ip": (eth() / ip(8) / ICMP(type=3, code=3) / ip(99) / UDP(),
                             (4, v4("10.8.0.1"), v4("10.8.0.2"), 1, 0, 0), -1, -1, []),
    "icmpv6": (eth() / IPv6(src="2001:db8::5", dst="2001:db8::6") / ICMPv6EchoRequest(),
               (6, v6("2001:db8::5"), v6("2001:db8::6"), 58, 0, 0), -1, -1, []),
    "gre-ipv4": (eth() / TUN / GRE() / ip(9) / UDP(sport=1, dport=2),
                 (4, v4("10.9.0.1"), v4("10.9.0.2"), 17, 1, 2), -1, -1, [OUTER]),
    "gre-key-seq-ipv6": (eth() / TUN / GRE(key_present=1, key=7, seqnum_present=1, proto=0x86DD)
                         / IPv6(src="2001:db8::7", dst="2001:db8::8") / UDP(sport=3, dport=4),
                         (6, v6("2001:db8::7"), v6("2001:db8::8"), 17, 3, 4), -1, -1, [OUTER]),
    "gre-teb": (eth() / TUN / GRE(proto=0x6558) / eth() / ip(10) / TCP(),
                (4, v4("10.10.0.1"), v4("10.10.0.2"), 6, 20, 80), -1, -1, [OUTER]),
    "erspan-ii": (eth() / TUN / GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II(vlan=7) / eth()
                  / ip(11) / UDP(sport=9, dport=10),
                  (4, v4("10.11.0.1"), v4("10.11.0.2"), 17, 9, 10), -1, -1, [OUTER]),
    "erspan-i": (eth() / TUN / GRE(proto=0x88BE) / eth() / ip(12) / UDP(sport=9, dport=10),
                 (4, v4("10.12.0.1"), v4("10.12.0.2"), 17, 9, 10), -1, -1, [OUTER]),
    "erspan-iii-dot1q": (eth() / TUN / GRE(proto=0x22EB, seqnum_present=1) / ERSPAN_III()
                         / eth() / Dot1Q(vlan=10) / ip(13) / ICMP(),
                         (4, v4("10.13.0.1"), v4("10.13.0.2"), 1, 0, 0), 10, -1, [OUTER]),
    "gre-mpls": (eth() / TUN / GRE(proto=0x8847) / MPLS(s=1) / ip(14) / UDP(sport=1, dport=2),
                 (4, v4("10.14.0.1"), v4("10.14.0.2"), 17, 1, 2), -1, -1, [OUTER]),
    "6in4": (eth() / TUN / IPv6(src="2001:db8::9", dst="2001:db8::a") / TCP(sport=8, dport=9),
             (6, v6("2001:db8::9"), v6("2001:db8::a"), 6, 8, 9), -1, -1, [OUTER]),
    "ipip": (eth() / TUN / ip(15) / TCP(sport=8, dport=9),
             (4, v4("10.15.0.1"), v4("10.15.0.2"), 6, 8, 9), -1, -1, [OUTER]),
    "4in6": (eth() / IPv6(src="2001:db8::b", dst="2001:db8::c") / ip(16) / UDP(sport=1, dport=2),
             (4, v4("10.16.0.1"), v4("10.16.0.2"), 17, 1, 2), -1, -1,
             [(6, v6("2001:db8::b"), v6("2001:db8::c"))]),
    "vxlan": (eth() / TUN / UDP(sport=50000, dport=4789) / VXLAN(vni=5) / eth() / ip(17) / TCP(),
              (4, v4("10.17.0.1"), v4("10.17.0.2"), 6, 20, 80), -1, -1, [OUTER]),
    "geneve": (eth() / TUN / UDP(sport=50000, dport=6081) / GENEVE(proto=0x6558) / eth() / ip(18)
               / UDP(sport=1, dport=2), (4, v4("10.18.0.1"), v4("10.18.0.2"), 17, 1, 2), -1, -1,
               [OUTER]),
    "gtp-u": (eth() / TUN / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=1) / ip(19) / TCP(),
              (4, v4("10.19.0.1"), v4("10.19.0.2"), 6, 20, 80), -1, -1, [OUTER]),
    "teredo": (eth() / TUN / UDP(sport=40000, dport=3544) / IPv6(src="2001::1", dst="2001::2")
               / UDP(sport=1, dport=2), (6, v6("2001::1"), v6("2001::2"), 17, 1, 2), -1, -1,
               [OUTER]),
    "l2tp": (eth() / TUN / UDP(sport=1701, dport=1701) / L2TP() / PPP(proto=0x0021) / ip(20)
             / UDP(sport=1, dport=2), (4, v4("10.20.0.1"), v4("10.20.0.2"), 17, 1, 2), -1, -1,
             [OUTER]),
    "dns-port-wins-over-vxlan": (eth() / TUN / UDP(sport=53, dport=4789) / VXLAN() / eth() / ip(21)
                                 / UDP(), (4, *OUTER[1:], 17, 53, 4789), -1, -1, []),
    "pppoe": (eth() / PPPoE(sessionid=1) / PPP(proto=0x0021) / ip(22) / UDP(sport=1, dport=2),
              (4, v4("10.22.0.1"), v4("10.22.0.2"), 17, 1, 2), -1, -1, []),
    "llc-snap": (Dot3(src="00:01:02:03:04:05", dst="00:0a:0b:0c:0d:0e") / LLC(dsap=0xAA, ssap=0xAA,
                 ctrl=3) / SNAP(OUI=0, code=0x0800) / ip(23) / UDP(sport=1, dport=2),
                 (4, v4("10.23.0.1"), v4("10.23.0.2"), 17, 1, 2), -1, -1, []),
    "aruba-qos-data": (eth() / Dot1Q(vlan=300) / TUN / GRE(proto=0x8200) / dot11() / SNAP_IP
                       / ip(24) / TCP(sport=58973, dport=80),
                       (4, v4("10.24.0.1"), v4("10.24.0.2"), 6, 58973, 80), 300, -1, [OUTER]),
    "aruba-data-four-addresses": (eth() / TUN / GRE(proto=0x8370) / dot11(0, 0x03) / SNAP_IP
                                  / ip(25) / UDP(sport=1, dport=2),
                                  (4, v4("10.25.0.1"), v4("10.25.0.2"), 17, 1, 2), -1, -1,
                                  [OUTER]),
    "aruba-qos-htc-ipv6": (eth() / TUN / GRE(proto=0x8240) / dot11(8, 0x82, htc=True)
                           / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x86DD)
                           / IPv6(src="2001:db8::d", dst="2001:db8::e") / UDP(sport=3, dport=4),
                           (6, v6("2001:db8::d"), v6("2001:db8::e"), 17, 3, 4), -1, -1, [OUTER]),
    "aruba-amsdu": (eth() / TUN / GRE(proto=0x8240) / dot11(8, 0x02, qos=0x80)
                    / amsdu(ip(26) / TCP(sport=443, dport=5000) / (b"a" * 5),
                            ip(27) / UDP(sport=5, dport=6)),
                    (4, v4("10.26.0.1"), v4("10.26.0.2"), 6, 443, 5000), -1, -1,
                    [(4, v4("10.27.0.1"), v4("10.27.0.2")), OUTER]),
    "aruba-protected": (eth() / TUN / GRE(proto=0x8300) / dot11(8, 0x41) / (b"\x5a" * 40),
                        (4, *OUTER[1:], 47, 0, 0), -1, -1, []),
    "aruba-null-data": (eth() / TUN / GRE(proto=0x8200) / dot11(12, 0x01),
                        (4, *OUTER[1:], 47, 0, 0), -1, -1, []),
}  # fmt: skip
