"""Encapsulation headers between IP layers: GRE/ERSPAN, Aruba's 802.11-in-GRE, PPP, and the
UDP tunnels.

Why a module of their own: these are the rarely taken branches of the decoder, each with
its own header layout, kept apart from the hot path in :mod:`sensors.flows.decode`. Each
function skips one header and says what follows it as a decoder state (:data:`ETH`,
:data:`IP4` …), or -1 when the payload is truncated or not something we follow. The UDP
ports are those tshark 4 decodes as tunnels by default; its rule is "lower port first",
so a packet from a well-known service port to a tunnel port is that service, not a tunnel.
"""

from __future__ import annotations

import mmap
import struct
from typing import Final

#: Where frames live: a mapped capture file or bytes.
Buffer = bytes | bytearray | memoryview | mmap.mmap

# Decoder states: what the bytes at an offset are.
ETH, ETHERTYPE, IP4, IP6, L4, MPLS, PPP, RAWIP, WLAN = range(9)

GRE_PAYLOAD: Final = {0x0800: IP4, 0x86DD: IP6, 0x8847: MPLS, 0x8848: MPLS}
#: GRE protocol types of Aruba access points tunnelling their clients' 802.11 frames to the
#: controller: the ones tshark 4 decodes as 802.11 (Zeek also takes 0x9000; tshark does not).
ARUBA_WLAN: Final = frozenset(range(0x8200, 0x8380, 0x10))
#: SNAP organisation codes whose protocol id is an Ethernet type (RFC 1042, 802.1H).
_SNAP_ETHERTYPE_OUI: Final = frozenset({0x000000, 0x0000F8})
VXLAN, GENEVE, GTPU, TEREDO, L2TP = range(5)
UDP_TUNNELS: Final = {4789: VXLAN, 6081: GENEVE, 2152: GTPU, 3544: TEREDO, 1701: L2TP}
#: Well-known UDP ports that win over a tunnel port on the other side.
UDP_CLAIMED: Final = frozenset(
    {53, 67, 68, 69, 123, 137, 138, 161, 162, 500, 514, 520, 546, 547, 1812, 1813}
)

_u16 = struct.Struct("!H").unpack_from
_gre = struct.Struct("!HH").unpack_from


def gre_payload(buf: Buffer, off: int, end: int) -> tuple[int, int, int]:
    """Skip a GRE header (and an ERSPAN or PPP one); return (offset, state, ethertype).

    The state is -1 if truncated and -2 if the payload is not something we follow.
    """
    if end - off < 4:
        return off, -1, 0
    fl, gproto = _gre(buf, off)
    version = fl & 7
    off += 4 + 4 * ((fl >> 15) + ((fl >> 13) & 1) + ((fl >> 12) & 1))
    if version == 1:
        off += 4 * ((fl >> 7) & 1)  # enhanced GRE (PPTP) acknowledgment number
    if fl & 0x4000 or version > 1:  # source routing, or an unknown version
        return off, -2, 0
    if gproto == 0x6558:  # transparent Ethernet bridging
        return off, ETH, 0
    if gproto == 0x88BE:  # ERSPAN type II has a header when the sequence bit is set
        return off + (8 if fl & 0x1000 else 0), ETH, 0
    if gproto == 0x22EB:  # ERSPAN type III, with an optional platform sub-header
        if end - off < 12:
            return off, -1, 0
        return off + (20 if buf[off + 11] & 1 else 12), ETH, 0
    if gproto == 0x880B:
        off, state = ppp(buf, off, end)
        return off, (state if state >= 0 else -2), 0
    if gproto in ARUBA_WLAN:
        return off, WLAN, 0
    state = GRE_PAYLOAD.get(gproto, -2)
    return off, state, gproto


def wlan_data(buf: Buffer, off: int, end: int) -> tuple[int, bool]:
    """Skip the header of an 802.11 data frame (no FCS, as Aruba tunnels them); return
    (offset of its body, whether the body is an A-MSDU), or offset -1 if the header is
    truncated and -2 if the frame carries nothing we follow.

    Followed: data subtypes that carry data (not the null ones), unprotected (an encrypted
    body cannot be read). The header is 24 bytes, +6 with four addresses (to and from
    the distribution system), +2 of QoS control in QoS subtypes, and +4 of HT control
    when a QoS frame has the +HTC/Order bit.
    """
    if end - off < 24:
        return -1, False
    fc, flags = buf[off], buf[off + 1]
    # version 0 and type data (low nibble 1000); subtype bit 2 (0x40) marks null frames
    if fc & 0x4F != 0x08 or flags & 0x40:
        return -2, False
    p = off + 24 + (6 if flags & 3 == 3 else 0)
    amsdu = False
    if fc & 0x80:  # QoS subtype
        if end - p < 2:
            return -1, False
        amsdu = bool(buf[p] & 0x80)
        p += 6 if flags & 0x80 else 2
    return p, amsdu


def llc_snap(buf: Buffer, off: int, end: int) -> tuple[int, int, int]:
    """Skip an LLC/SNAP header carrying an Ethernet type; (offset, state, ethertype), the
    state -1 if truncated and -2 if it is some other LLC payload."""
    if end - off < 8:
        return off, -1, 0
    if _u16(buf, off)[0] != 0xAAAA or buf[off + 2] != 3:
        return off, -2, 0
    if (_u16(buf, off + 3)[0] << 8 | buf[off + 5]) not in _SNAP_ETHERTYPE_OUI:
        return off, -2, 0
    return off + 8, ETHERTYPE, _u16(buf, off + 6)[0]


def ppp(buf: Buffer, off: int, end: int) -> tuple[int, int]:
    """Skip a PPP header (address/control optional, protocol field compressed or not)."""
    if end - off >= 2 and buf[off] == 0xFF and buf[off + 1] == 0x03:
        off += 2
    if end - off < 1:
        return off, -1
    if buf[off] & 1:
        pid, off = buf[off], off + 1
    elif end - off >= 2:
        pid, off = _u16(buf, off)[0], off + 2
    else:
        return off, -1
    return off, (IP4 if pid == 0x21 else IP6 if pid == 0x57 else -1)


def udp_tunnel(buf: Buffer, off: int, end: int, kind: int) -> tuple[int, int]:
    """Skip a UDP tunnel header at ``off``; return (offset, state), state -1 if none."""
    n = end - off
    if kind == VXLAN:
        return (off + 8, ETH) if n >= 8 else (off, -1)
    if kind == GENEVE:
        if n < 8:
            return off, -1
        body = off + 8 + (buf[off] & 0x3F) * 4
        gproto = _u16(buf, off + 2)[0]
        if gproto == 0x6558:
            return body, ETH
        state = GRE_PAYLOAD.get(gproto, -1)
        return body, state
    if kind == GTPU:
        if n < 8 or buf[off] >> 5 != 1 or not buf[off] & 0x10 or buf[off + 1] != 0xFF:
            return off, -1
        p = off + 8
        if buf[off] & 7:
            if end - p < 4:
                return off, -1
            nxt, p = buf[p + 3], p + 4
            while nxt and p < end:
                ln = buf[p] * 4
                if not ln or p + ln > end:
                    return off, -1
                nxt, p = buf[p + ln - 1], p + ln
        return p, RAWIP
    if kind == TEREDO:
        p = off
        if n >= 4 and buf[p] == 0 and buf[p + 1] == 1:  # authentication indicator
            p += 13 + buf[p + 2] + buf[p + 3]
        if end - p >= 8 and buf[p] == 0 and buf[p + 1] == 0:  # origin indication
            p += 8
        return (p, IP6) if end - p >= 1 and buf[p] >> 4 == 6 else (off, -1)
    # L2TPv2 data message carrying PPP
    if n < 6:
        return off, -1
    fl = _u16(buf, off)[0]
    if fl & 0x8000 or fl & 0xF != 2:
        return off, -1
    p = off + 2 + (2 if fl & 0x4000 else 0) + 4 + (4 if fl & 0x0800 else 0)
    if fl & 0x0200:
        if end - p < 2:
            return off, -1
        p += 2 + _u16(buf, p)[0]
    return ppp(buf, p, end)
