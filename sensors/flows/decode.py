"""Packet decoding from raw frame bytes with precompiled ``struct`` unpackers.

Why not scapy here: dissecting a packet into scapy objects costs tens of microseconds;
a flow sensor touches every packet and needs only addresses, ports and flags. This walks
the headers in place (``buf`` is the whole mapped capture, the frame is ``buf[off:end]``)
and returns one flat tuple, so a packet costs no allocation beyond that tuple.

Besides the *flow layer* (the innermost valid IP header and its transport), it reports
which IP headers tshark's ``ip``/``ipv6`` conversation taps would count for the frame, so
:mod:`sensors.flows.conversations` can reproduce ``tshark -z conv,ip`` exactly:

* every IPv4 header whose ``ihl*4`` bytes are captured, with version 4, ``ihl >= 5`` and
  total length 0 (TSO) or at least ``ihl*4``; every IPv6 header whose 40 bytes and all
  extension headers are captured, unless the chain ends in a Mobility or Shim6 header;
  each tunnel level counts again (outer and inner);
* never the IP header quoted inside an ICMP/ICMPv6 error;
* a fragmented datagram's inner layers (a tunnel carried in IPv4 fragments, and an IPv6
  header with a fragment header at all) only when reassembly completes; the decoder
  hands those back as *deferred* taps and :mod:`sensors.flows.fragments` releases them.
"""

from __future__ import annotations

import struct
from typing import Final

from sensors.flows.tunnels import (
    ETH as _ETH,
)
from sensors.flows.tunnels import (
    ETHERTYPE as _ET,
)
from sensors.flows.tunnels import (
    IP4 as _IP4,
)
from sensors.flows.tunnels import (
    IP6 as _IP6,
)
from sensors.flows.tunnels import (
    L4 as _L4,
)
from sensors.flows.tunnels import (
    MPLS as _MPLS,
)
from sensors.flows.tunnels import (
    PPP as _PPP,
)
from sensors.flows.tunnels import (
    RAWIP as _RAWIP,
)
from sensors.flows.tunnels import (
    UDP_CLAIMED as _UDP_CLAIMED,
)
from sensors.flows.tunnels import (
    UDP_TUNNELS as _UDP_TUNNELS,
)
from sensors.flows.tunnels import (
    WLAN as _WLAN,
)
from sensors.flows.tunnels import (
    Buffer,
)
from sensors.flows.tunnels import (
    gre_payload as _gre_payload,
)
from sensors.flows.tunnels import (
    llc_snap as _llc_snap,
)
from sensors.flows.tunnels import (
    ppp as _ppp,
)
from sensors.flows.tunnels import (
    udp_tunnel as _udp_tunnel,
)
from sensors.flows.tunnels import (
    wlan_data as _wlan_data,
)

# Link types (LINKTYPE_* values as stored in pcap/pcapng).
LT_NULL: Final = 0
LT_ETHERNET: Final = 1
LT_RAW: Final = 101
LT_LOOP: Final = 108
LT_SLL: Final = 113
LT_IPV4: Final = 228
LT_IPV6: Final = 229
LT_SLL2: Final = 276
_RAW_LINKTYPES: Final = frozenset({LT_RAW, 12, 14})


_VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
_PW_CW_NEXT: Final = frozenset({0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8, 0x9100, 0x8847})
_IP6_EXT: Final = frozenset({0, 43, 60, 51})  # hop-by-hop, routing, dest opts, AH

_u16 = struct.Struct("!H").unpack_from
_u32 = struct.Struct("!I").unpack_from
_le32 = struct.Struct("<I").unpack_from
_ip4 = struct.Struct("!BxHHHxBxxII").unpack_from  # vhl, len, id, frag, proto, src, dst
_ip6 = struct.Struct("!B3xHBx16s16s").unpack_from  # vtc, plen, nh, src, dst
_ports = struct.Struct("!HH").unpack_from
_udp = struct.Struct("!HHH").unpack_from  # sport, dport, length
# Ethernet type, IPv4 (vhl, len, frag, proto, src, dst) and the first 14 bytes of TCP or
# UDP (ports, UDP length, TCP data offset and flags) in one call.
_eth_ip4_l4 = struct.Struct("!12xHBxHxxHxBxxIIHHH6xBB").unpack_from
_vlan_ip4_l4 = struct.Struct("!14xHHBxHxxHxBxxIIHHH6xBB").unpack_from  # the same, 802.1Q
_tcp = struct.Struct("!HH8xBB").unpack_from  # sport, dport, data offset, flags

#: (version, source, destination) of an IP header a conversation tap counts.
Tap = tuple[int, int | bytes, int | bytes]
#: A fragment: (key, first byte, end byte, more fragments, taps deferred to reassembly,
#: where its captured bytes start and end in the buffer).
Frag = tuple[tuple[int, int | bytes, int | bytes, int, int], int, int, bool, list[Tap], int, int]
#: See :func:`decode` for the meaning of each position.
Decoded = tuple[
    int, int | bytes, int | bytes, int, int, int, int, int, int, int, int,
    bool, list[Tap] | None, Frag | None, str | None,
]  # fmt: skip


def decode(buf: Buffer, off: int, end: int, linktype: int) -> Decoded:
    """Decode the frame ``buf[off:end]`` of link type ``linktype``.

    Returns ``(ver, src, dst, proto, sport, dport, tcp_flags, vlan, inner_vlan,
    l4_start, l4_end, tapped, outer_taps, frag, reason)``: the flow layer's IP version
    (0 when the frame has no usable IP header), addresses (ints for IPv4, 16-byte
    ``bytes`` for IPv6), IP protocol, ports (-1 on a non-first fragment, 0 where the
    protocol has none), TCP flags, the outer and inner VLAN ids (-1 if none), the
    transport payload's byte range, whether tshark taps the flow layer, the taps of
    outer IP headers (tunnels) or None, fragment details or None, and why decoding
    stopped early (``"truncated.tcp"``, ``"non_ip.0x0806"`` …) or None.
    """
    if linktype == LT_ETHERNET and end - off >= 54:  # (54: room for IPv6 + UDP too)
        # Fast path: Ethernet, at most one 802.1Q tag, unfragmented IPv4 without options
        # or IPv6 without extension headers, TCP or non-tunnel UDP, each in as few
        # unpacks as possible. Anything else, or anything odd, takes the general walk.
        et, vhl, tlen, fragw, proto, s4, d4, sport, dport, ulen, doff, flags = _eth_ip4_l4(buf, off)
        vlan = -1
        p = off + 14
        if et == 0x8100:
            tci, et, vhl, tlen, fragw, proto, s4, d4, sport, dport, ulen, doff, flags = (
                _vlan_ip4_l4(buf, off)
            )
            vlan = tci & 0xFFF
            p = off + 18
        if et == 0x0800:
            if vhl == 0x45 and not fragw & 0x3FFF:
                fend = p + tlen if p + tlen < end else end
                if proto == 6 and tlen >= 40:
                    return (4, s4, d4, 6, sport, dport, flags, vlan, -1, p + 20 + (doff >> 4) * 4,
                            fend, True, None, None, None)  # fmt: skip
                if (proto == 17 and tlen >= 28 and sport not in _UDP_TUNNELS
                        and dport not in _UDP_TUNNELS):  # fmt: skip
                    p += 20
                    if 8 <= ulen < fend - p:
                        fend = p + ulen
                    return (4, s4, d4, 17, sport, dport, 0, vlan, -1, p + 8, fend,
                            True, None, None, None)  # fmt: skip
        elif et == 0x86DD and end - p >= 48:
            vtc, plen, nh, s6, d6 = _ip6(buf, p)
            if vtc >> 4 == 6 and (nh == 6 or nh == 17):
                fend = p + 40 + plen if plen and p + 40 + plen < end else end
                p += 40
                if nh == 6 and fend - p >= 14:
                    sport, dport, doff, flags = _tcp(buf, p)
                    return (6, s6, d6, 6, sport, dport, flags, vlan, -1, p + (doff >> 4) * 4,
                            fend, True, None, None, None)  # fmt: skip
                if nh == 17 and fend - p >= 8:
                    sport, dport, ulen = _udp(buf, p)
                    if sport not in _UDP_TUNNELS and dport not in _UDP_TUNNELS:
                        if 8 <= ulen < fend - p:
                            fend = p + ulen
                        return (6, s6, d6, 17, sport, dport, 0, vlan, -1, p + 8, fend,
                                True, None, None, None)  # fmt: skip
    ver = proto = nxt = sport = dport = flags = l4s = l4e = 0
    src: int | bytes = 0
    dst: int | bytes = 0
    vlan = ivlan = -1
    tapped = False
    outer: list[Tap] | None = None
    frag: Frag | None = None
    reason: str | None = None
    deferred: list[Tap] | None = None  # set while decoding inside a fragmented datagram
    own_l4 = False  # the transport header ahead belongs to the flow layer
    et = 0
    if linktype == LT_ETHERNET:
        state = _ETH
    elif linktype in _RAW_LINKTYPES or linktype in (LT_IPV4, LT_IPV6):
        state = _RAWIP
    elif linktype == LT_SLL:
        if end - off < 16:
            return _stop(0, 0, 0, "truncated.sll")
        et = _u16(buf, off + 14)[0]
        off += 16
        state = _ET
    elif linktype == LT_SLL2:
        if end - off < 20:
            return _stop(0, 0, 0, "truncated.sll2")
        et = _u16(buf, off)[0]
        off += 20
        state = _ET
    elif linktype in (LT_NULL, LT_LOOP):
        if end - off < 4:
            return _stop(0, 0, 0, "truncated.null")
        af = (_le32 if linktype == LT_NULL else _u32)(buf, off)[0]
        if af > 0xFFFF:  # written in the other byte order
            af = struct.unpack_from("<I" if linktype != LT_NULL else ">I", buf, off)[0]
        off += 4
        state = _IP4 if af == 2 else _IP6 if af in (10, 24, 28, 30) else -1
        if state < 0:
            return _stop(0, 0, 0, f"non_ip.af{af}")
    else:
        return _stop(0, 0, 0, f"unsupported.linktype{linktype}")

    while True:
        if state == _ETH:
            if end - off < 14:
                reason = "truncated.ethernet"
                break
            et = _u16(buf, off + 12)[0]
            off += 14
            if et < 0x0600:  # 802.3 length: only LLC/SNAP carries IP
                if end - off >= 8 and _u32(buf, off)[0] == 0xAAAA0300:
                    et = _u16(buf, off + 6)[0]
                    off += 8
                else:
                    reason = "non_ip.llc"
                    break
            state = _ET
        elif state == _ET:
            if et == 0x0800:
                state = _IP4
            elif et == 0x86DD:
                state = _IP6
            elif et in _VLAN_TYPES:
                if end - off < 4:
                    reason = "truncated.vlan"
                    break
                tci, et = _ports(buf, off)
                off += 4
                if vlan < 0:
                    vlan = tci & 0xFFF
                elif ivlan < 0:
                    ivlan = tci & 0xFFF
            elif et == 0x8847 or et == 0x8848:
                state = _MPLS
            elif et == 0x8864:  # PPPoE session
                off += 6
                state = _PPP
            else:
                reason = f"non_ip.{et:#06x}"
                break
        elif state == _IP4:
            if end - off < 20:
                reason = "truncated.ipv4"
                break
            vhl, tlen, ident, fragw, nproto, s4, d4 = _ip4(buf, off)
            hlen = (vhl & 15) * 4
            if vhl >> 4 != 4 or hlen < 20 or (tlen and tlen < hlen):
                reason = "bad_header.ipv4"
                break
            if end - off < hlen:
                reason = "truncated.ipv4"
                break
            if tlen and off + tlen < end:
                end = off + tlen  # drop Ethernet padding and trailers
            own_l4 = deferred is None
            nxt = nproto
            if deferred is not None:
                deferred.append((4, s4, d4))
            else:
                if tapped:
                    if outer is None:
                        outer = []
                    outer.append((ver, src, dst))
                ver, src, dst, proto, tapped = 4, s4, d4, nproto, True
                sport = dport = flags = 0
            off += hlen
            if fragw & 0x3FFF and deferred is None:  # MF set or offset > 0
                start = (fragw & 0x1FFF) * 8
                flen = (tlen - hlen) if tlen else end - off
                frag = ((4, s4, d4, nproto, ident), start, start + flen, bool(fragw & 0x2000), [],
                        off, end)  # fmt: skip
                if start:
                    sport = dport = -1
                    break
                deferred = frag[4]
            state = _L4
        elif state == _L4:
            if nxt == 6:
                if end - off < 14:
                    reason = "truncated.tcp"
                    if own_l4 and end - off >= 4:
                        sport, dport = _ports(buf, off)
                elif own_l4:
                    sport, dport, doff, flags = _tcp(buf, off)
                    l4s, l4e = off + (doff >> 4) * 4, end
                break
            if nxt == 17:
                if end - off < 8:
                    reason = "truncated.udp"
                    if own_l4 and end - off >= 4:
                        sport, dport = _ports(buf, off)
                    break
                p1, p2 = _ports(buf, off)
                if own_l4:
                    own_l4 = False
                    sport, dport = p1, p2
                    ulen = _u16(buf, off + 4)[0]
                    l4s, l4e = off + 8, min(end, off + ulen) if ulen >= 8 else end
                lo, hi = (p1, p2) if p1 <= p2 else (p2, p1)
                tun = _UDP_TUNNELS.get(lo)
                if tun is None and lo not in _UDP_CLAIMED:
                    tun = _UDP_TUNNELS.get(hi)
                if tun is None:
                    break
                off, state = _udp_tunnel(buf, off + 8, end, tun)
                if state < 0:
                    break
            elif nxt == 4:
                state = _IP4
            elif nxt == 41:
                state = _IP6
            elif nxt == 47:
                own_l4 = False
                off, state, et = _gre_payload(buf, off, end)
                if state < 0:
                    reason = "truncated.gre" if state == -1 else None
                    break
            elif nxt == 51:  # AH: skip it, go on with what it protects
                if end - off < 8:
                    reason = "truncated.ah"
                    break
                nxt = buf[off]
                if own_l4:
                    proto = nxt
                off += (buf[off + 1] + 2) * 4
            else:
                break
        elif state == _IP6:
            if end - off < 40:
                reason = "truncated.ipv6"
                break
            vtc, plen, nh, s6, d6 = _ip6(buf, off)
            if vtc >> 4 != 6:
                reason = "bad_header.ipv6"
                break
            if plen and off + 40 + plen < end:
                end = off + 40 + plen
            p = off + 40
            fr6: tuple[int, int, bool] | None = None
            while nh in _IP6_EXT or nh == 44:
                if end - p < 8:
                    break
                if nh == 44:
                    fw, ident6 = struct.unpack_from("!HI", buf, p + 2)
                    if fw & 0xFFF9:  # offset or M set: a real fragment
                        fr6 = (ident6, fw & 0xFFF8, bool(fw & 1))
                    nh, p = buf[p], p + 8
                else:
                    step = (buf[p + 1] + 2) * 4 if nh == 51 else (buf[p + 1] + 1) * 8
                    nh, p = buf[p], p + step
            if p > end or (nh in _IP6_EXT or nh == 44):
                reason = "truncated.ipv6_ext"
                break
            own_l4 = deferred is None
            nxt = nh
            if deferred is not None:
                deferred.append((6, s6, d6))
            else:
                if tapped:
                    if outer is None:
                        outer = []
                    outer.append((ver, src, dst))
                ver, src, dst, proto = 6, s6, d6, nh
                sport = dport = flags = 0
                # tshark never counts a header chain ending in Mobility or Shim6
                tapped = fr6 is None and nh != 135 and nh != 140
                if fr6 is not None:
                    start = fr6[1]
                    more = fr6[2]
                    frag = ((6, s6, d6, nh, fr6[0]), start, start + end - p, more, [(6, s6, d6)],
                            p, end)  # fmt: skip
                    if start:
                        sport = dport = -1
                        break
                    deferred = frag[4]
            off = p
            state = _L4
        elif state == _MPLS:
            while end - off >= 4 and not buf[off + 2] & 1:
                off += 4
            off += 4
            if end - off < 1:
                reason = "truncated.mpls"
                break
            nib = buf[off] >> 4
            if nib == 4:
                state = _IP4
            elif nib == 6:
                state = _IP6
            elif nib == 1 and end - off >= 4:  # pseudowire associated channel header
                ach = _u16(buf, off + 2)[0]
                off += 4
                state = _IP4 if ach == 0x0021 else _IP6 if ach == 0x0057 else -1
                if state < 0:
                    break
            elif nib == 0:  # Ethernet pseudowire, with a control word when it fits
                if end - off >= 18 and _u16(buf, off + 16)[0] in _PW_CW_NEXT:
                    off += 4
                state = _ETH
            else:
                reason = "non_ip.mpls"
                break
        elif state == _PPP:
            off, state = _ppp(buf, off, end)
            if state < 0:
                reason = "non_ip.ppp"
                break
        elif state == _WLAN:  # an 802.11 data frame, from an Aruba access point
            body, amsdu = _wlan_data(buf, off, end)
            if body < 0:
                reason = "truncated.wlan" if body == -1 else None
                break
            off = body
            if amsdu:
                # A-MSDU: the first subframe is the flow layer; tshark taps the IP
                # headers of the others too, so they count as taps of this frame.
                if end - off < 14:
                    reason = "truncated.wlan"
                    break
                first_end = off + 14 + _u16(buf, off + 12)[0]
                subtaps = _amsdu_taps(buf, off, first_end, end)
                if deferred is not None:
                    deferred.extend(subtaps)
                elif subtaps:
                    outer = subtaps if outer is None else outer + subtaps
                off += 14
                if first_end < end:
                    end = first_end
            off, state, et = _llc_snap(buf, off, end)
            if state < 0:
                reason = "truncated.wlan" if state == -1 else None
                break
        else:  # _RAWIP
            if end - off < 1:
                reason = "truncated.ip"
                break
            nib = buf[off] >> 4
            state = _IP4 if nib == 4 else _IP6 if nib == 6 else -1
            if state < 0:
                reason = "bad_header.ip"
                break
    return (ver, src, dst, proto, sport, dport, flags, vlan, ivlan, l4s, l4e,
            tapped, outer, frag, reason)  # fmt: skip


def _amsdu_taps(buf: Buffer, start: int, first_end: int, end: int) -> list[Tap]:
    """The taps of an A-MSDU's subframes after the first (which ends at ``first_end``).

    Each subframe is a 14-byte header (destination, source, length), LLC/SNAP and the
    packet, padded to a multiple of 4 bytes from the A-MSDU's ``start``; each packet is
    decoded for its taps alone (its flow is not followed: a frame has one flow layer).
    """
    taps: list[Tap] = []
    p = first_end + (start - first_end) % 4
    while end - p >= 14:
        sub_end = min(end, p + 14 + _u16(buf, p + 12)[0])
        body, state, et = _llc_snap(buf, p + 14, sub_end)
        if state >= 0 and (et == 0x0800 or et == 0x86DD):
            inner = decode(buf, body, sub_end, LT_IPV4 if et == 0x0800 else LT_IPV6)
            if inner[12]:
                taps.extend(inner[12])
            if inner[11]:
                taps.append((inner[0], inner[1], inner[2]))
        p = sub_end + (start - sub_end) % 4
    return taps


def _stop(ver: int, src: int | bytes, dst: int | bytes, reason: str) -> Decoded:
    """A result for a frame whose link-layer header could not be read."""
    return (ver, src, dst, 0, 0, 0, 0, -1, -1, 0, 0, False, None, None, reason)
