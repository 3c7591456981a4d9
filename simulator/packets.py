"""Frames for the network simulator: Ethernet, IPv4, TCP, UDP, ICMP and DNS built with
``struct``, and the classic pcap file they are written to.

Why hand-built rather than scapy: a simulated hospital day is a few hundred thousand
frames, and scapy spends tens of microseconds on each; ``struct`` spends one or two.
Why our own rather than ``bench/flow_throughput.py``'s generator: that one draws random
flows for a benchmark, this one plays given conversations between named hosts at given
times (and the bench is tuned separately for speed).

What the file holds, so that the flow sensor and tshark read it as a tap would have
captured it:

* classic pcap (magic ``a1b2c3d4`` little-endian, version 2.4), Ethernet link type,
  microsecond timestamps in UTC, frames in time order (ties in the order they were made);
* correct IPv4 headers (checksum, total length, identification counting per host, DF);
  TCP with real sequence and acknowledgement numbers, a SYN with the usual options;
  UDP checksums are left 0 (allowed in IPv4), TCP checksums too (tshark does not check);
* TCP frames are *sliced*: the file keeps at most :data:`TCP_SLICE` bytes of each (the
  headers and the start of the payload: a TLS record header, an HTTP request line), with
  the full length on the wire in the record header, as a packet broker's slicing does.
  Flows and ``tshark -z conv,ip`` count wire lengths, so nothing they report changes,
  and a day of a large hospital stays tens of megabytes. UDP (DNS, NTP) and ICMP frames
  are kept whole: the DNS sensor reads their payloads.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

TCP_SLICE = 96
MSS = 1460
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

_IP4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_REC = struct.Struct("<IIII")
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_SYN_OPTIONS = bytes.fromhex("020405b4010303080101040200000000")[:12]  # MSS, NOP, WS, SACK
_ETH_IP = b"\x08\x00"
#: The edge router's MAC: every frame to or from outside passes it.
ROUTER_MAC = bytes.fromhex("00005e0001fe")
#: Stand-in for encrypted bytes in the part of a payload the file keeps.
FILL = b"".join(hashlib.sha256(b"phiwatch%d" % i).digest() for i in range(64))


def ip_raw(ip: str) -> bytes:
    return bytes(int(x) for x in ip.split("."))


class Host:
    """One address on the wire: its MAC, TTL and IP identification counter."""

    __slots__ = ("inside", "ip", "ipid", "mac", "raw", "ttl")

    def __init__(self, ip: str, inside: bool, ttl: int, ipid: int) -> None:
        self.ip = ip
        self.raw = ip_raw(ip)
        self.inside = inside
        self.mac = b"\x02\x50" + self.raw if inside else ROUTER_MAC
        self.ttl = ttl
        self.ipid = ipid


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Wire:
    """The frames of one capture, made in any order, written in time order."""

    def __init__(self, inside: tuple[str, ...], windows: tuple[str, ...] = ("10.2",)) -> None:
        self.inside = inside
        self.windows = windows  # addresses of Windows desktops (TTL 128)
        self.hosts: dict[str, Host] = {}
        self.frames: list[tuple[int, int, bytes, int]] = []

    def host(self, ip: str) -> Host:
        h = self.hosts.get(ip)
        if h is None:
            inside = ip.startswith(self.inside)
            digest = hashlib.blake2b(ip.encode(), digest_size=2).digest()
            ttl = (128 if ip.startswith(self.windows) else 64) if inside else 44 + digest[0] % 12
            h = self.hosts[ip] = Host(ip, inside, ttl, int.from_bytes(digest, "big"))
        return h

    def ip(self, t: float, src: Host, dst: Host, proto: int, l4: bytes, kept: bytes,
           size: int) -> int:
        """One IPv4 frame at ``t`` carrying ``l4`` and a payload of ``size`` bytes of which
        ``kept`` are in the file; returns its length on the wire."""
        total = 20 + len(l4) + size
        src.ipid = (src.ipid + 1) & 0xFFFF
        ttl = src.ttl
        head = _IP4.pack(0x45, 0, total, src.ipid, 0x4000, ttl, proto, 0, src.raw, dst.raw)
        s = sum(struct.unpack("!10H", head))
        s = (s & 0xFFFF) + (s >> 16)
        head = head[:10] + (~((s & 0xFFFF) + (s >> 16)) & 0xFFFF).to_bytes(2, "big") + head[12:]
        if src.inside and dst.inside:
            eth = dst.mac + src.mac
        elif src.inside:
            eth = ROUTER_MAC + src.mac
        else:
            eth = dst.mac + ROUTER_MAC
        self.frames.append((round(t * 1e6), len(self.frames),
                            eth + _ETH_IP + head + l4 + kept, 14 + total))
        return 14 + total

    def udp(self, t: float, src: Host, sport: int, dst: Host, dport: int, payload: bytes) -> int:
        return self.ip(t, src, dst, 17, _UDP.pack(sport, dport, 8 + len(payload), 0), payload,
                       len(payload))

    def ping(self, t: float, src: Host, dst: Host, ident: int, seq: int, rtt: float) -> int:
        """An echo request and its reply; returns the request's wire length."""
        data = FILL[:56]
        sent = 0
        for kind, a, b, at in ((8, src, dst, t), (0, dst, src, t + rtt)):
            head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
            body = head[:2] + _checksum(head + data).to_bytes(2, "big") + head[4:] + data
            n = self.ip(at, a, b, 1, b"", body, len(body))
            sent = sent or n
        return sent

    def write(self, path: Path, lo: float, hi: float) -> int:
        """Write the frames with ``lo <= t < hi`` to ``path`` in time order; returns the
        number written."""
        lo_us, hi_us = round(lo * 1e6), round(hi * 1e6)
        self.frames.sort()
        n = 0
        rec = _REC.pack
        with open(path, "wb", buffering=1 << 20) as f:
            f.write(_PCAP_HEADER)
            chunk: list[bytes] = []
            for us, _, frame, wirelen in self.frames:
                if lo_us <= us < hi_us:
                    chunk.append(rec(us // 1_000_000, us % 1_000_000, len(frame), wirelen))
                    chunk.append(frame)
                    n += 1
                    if len(chunk) >= 20_000:
                        f.write(b"".join(chunk))
                        chunk.clear()
            f.write(b"".join(chunk))
        return n


class Tcp:
    """One TCP connection between a client and a server, played segment by segment.

    Methods take the time to start at and return the time they ended; ``sent`` counts the
    client's bytes on the wire (what the flow sensor calls ``source.bytes``).
    """

    def __init__(self, wire: Wire, client: str, cport: int, server: str, sport: int,
                 isn: int, rtt: float) -> None:
        self.wire = wire
        self.c, self.s = wire.host(client), wire.host(server)
        self.cport, self.sport = cport, sport
        self.seq = [isn & 0xFFFFFFFF, (isn * 2654435761 + 12345) & 0xFFFFFFFF]
        self.rtt = rtt
        self.sent = 0
        self.packets = 0

    def seg(self, t: float, from_client: bool, flags: int, size: int = 0,
            head: bytes = b"", options: bytes = b"") -> None:
        d = 0 if from_client else 1
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        ack = self.seq[1 - d] if flags & ACK else 0
        l4 = _TCP.pack(sp, dp, self.seq[d], ack, (5 + len(options) // 4) << 4, flags,
                       64240 if from_client else 65160, 0, 0) + options
        keep = max(0, min(size, TCP_SLICE - 34 - len(l4)))
        kept = (head + FILL)[:keep] if keep else b""
        n = self.wire.ip(t, src, dst, 6, l4, kept, size)
        self.seq[d] = (self.seq[d] + size + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        self.packets += 1
        if from_client:
            self.sent += n

    def open(self, t: float) -> float:
        r = self.rtt
        self.seg(t, True, SYN, options=_SYN_OPTIONS)
        self.seg(t + r, False, SYN | ACK, options=_SYN_OPTIONS)
        self.seg(t + r * 1.02, True, ACK)
        return t + r * 1.05

    def tls(self, t: float, resumed: bool = False, cert: int = 3900) -> float:
        """A TLS 1.2/1.3 handshake: hello, the server's flight, the client's finish."""
        r = self.rtt
        self.seg(t, True, PSH | ACK, 517 if not resumed else 262, b"\x16\x03\x01\x02\x00\x01")
        end = self.data(t + r, False, 160 if resumed else cert, 12e6, 2, b"\x16\x03\x03")
        self.seg(end + 0.0005, True, PSH | ACK, 80 if resumed else 126, b"\x14\x03\x03\x00\x01")
        return end + 0.001

    def data(self, t: float, from_client: bool, size: int, rate: float, ack_every: int,
             head: bytes = b"\x17\x03\x03", ack_last: bool = True) -> float:
        """``size`` bytes one way at ``rate`` bytes a second, in full-size segments; the
        other side acknowledges every ``ack_every`` segments and (``ack_last``) the last.
        Returns the time of the last segment."""
        gap = MSS / rate
        n = 0
        while size > 0:
            chunk = min(MSS, size)
            size -= chunk
            n += 1
            self.seg(t, from_client, ACK | (PSH if size == 0 else 0), chunk,
                     head if n == 1 else FILL[n % 32:])
            if (size == 0 and ack_last) or n % ack_every == 0:
                self.seg(t + self.rtt / 2, not from_client, ACK)
            t += gap
        return t - gap

    def exchange(self, t: float, request: int, response: int, rate: float = 6e6) -> float:
        """A request from the client and the server's response, which the client
        acknowledges every four segments when it spans more than four (else the next
        request carries the acknowledgement). Returns the end time."""
        self.data(t, True, request, 12e6, 1 << 30, ack_last=False)
        t += self.rtt
        big = response > 4 * MSS
        end = self.data(t, False, response, rate, 4 if big else 1 << 30, ack_last=big)
        return end + self.rtt / 2

    def close(self, t: float, from_client: bool = True) -> float:
        r = self.rtt
        self.seg(t, from_client, FIN | ACK)
        self.seg(t + r, not from_client, FIN | ACK)
        self.seg(t + r * 1.02, from_client, ACK)
        return t + r * 1.05


# -- DNS ------------------------------------------------------------------------------------

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "NULL": 10, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"


def dns_query(ident: int, name: str, qtype: str) -> bytes:
    return (struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + dns_name(name)
            + struct.pack("!HH", QTYPES[qtype], 1))


def dns_answer(ident: int, name: str, qtype: str, data: list[bytes], ttl: int = 300,
               rcode: int = 0) -> bytes:
    """A response for ``name``: one record of ``qtype`` per item of ``data`` (4-byte
    addresses for A; raw record data otherwise, e.g. ``b"\\x0bhello world"`` for TXT)."""
    q = dns_name(name) + struct.pack("!HH", QTYPES[qtype], 1)
    rrs = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", QTYPES[qtype], 1, ttl, len(d)) + d
                   for d in data)
    return struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, len(data), 0, 0) + q + rrs


def txt(data: bytes) -> bytes:
    """TXT record data: character strings of at most 255 bytes."""
    return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                    for i in range(0, len(data), 255)) or b"\0"
