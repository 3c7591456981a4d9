"""Bidirectional flows keyed by the 5-tuple, with idle/active timeouts and bounded memory.

Why a table of its own: the rules reason about conversations between hosts (bytes sent
out per flow, per destination), not packets. Both directions of a flow hit one entry —
the key is the 5-tuple with the lower (address, port) side first — and the side of the
first packet seen is the initiator, ``source.*`` in the event.

The table is an ``OrderedDict`` kept in last-update order (``move_to_end`` on every
packet, a C call), so idle expiry pops from the front until it meets a live flow and
eviction under memory pressure takes the front: the flow idle the longest.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from datetime import UTC, datetime
from socket import AF_INET, AF_INET6, inet_ntop
from typing import Any

from sensors.event import NETWORK_FLOW, Event

#: Canonical flow key: (protocol, low address, low port, high address, high port).
FlowKey = tuple[int, int | bytes, int, int | bytes, int]

#: Names of IP protocol numbers for ``network.transport`` (IANA keywords, as ECS wants).
TRANSPORTS: dict[int, str] = {
    1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre",
    50: "esp", 51: "ah", 58: "ipv6-icmp", 89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp",
}  # fmt: skip
_TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")


class Flow:
    """One flow's counters. ``a`` is the initiator, ``b`` the responder."""

    __slots__ = (
        "a_bytes",
        "a_is_low",
        "a_packets",
        "b_bytes",
        "b_packets",
        "end_reason",
        "first",
        "first_frame",
        "flags",
        "ivlan",
        "key",
        "last",
        "ver",
        "vlan",
    )  # fmt: skip

    def __init__(
        self, key: FlowKey, ver: int, a_is_low: bool, ts: float, wirelen: int, flags: int,
        vlan: int, ivlan: int, frame: int,
    ) -> None:  # fmt: skip
        self.key = key
        self.ver = ver
        self.a_is_low = a_is_low
        self.first = self.last = ts
        self.a_packets, self.a_bytes, self.b_packets, self.b_bytes = 1, wirelen, 0, 0
        self.flags = flags
        self.vlan, self.ivlan = vlan, ivlan
        self.first_frame = frame
        self.end_reason = ""

    @property
    def endpoints(self) -> tuple[int | bytes, int, int | bytes, int]:
        """(initiator address, port, responder address, port)."""
        _, lo, lo_port, hi, hi_port = self.key
        if self.a_is_low:
            return lo, lo_port, hi, hi_port
        return hi, hi_port, lo, lo_port

    def __repr__(self) -> str:
        a, ap, b, bp = self.endpoints
        return (
            f"Flow({self.key[0]} {ip_text(a)}:{ap} -> {ip_text(b)}:{bp} "
            f"{self.a_packets}/{self.a_bytes} {self.b_packets}/{self.b_bytes})"
        )


class FlowTable:
    """Live flows; expired ones queue in ``done`` until the caller takes them.

    ``idle_timeout``: a flow with no packet for this long (capture time) ends.
    ``active_timeout``: a flow older than this is reported and starts afresh, so a long
    transfer shows up while it is still going. ``max_flows``: beyond it, the flow idle
    the longest is ended early and counted in ``evicted``.
    """

    def __init__(
        self, idle_timeout: float = 60.0, active_timeout: float = 300.0,
        max_flows: int = 500_000,
    ) -> None:  # fmt: skip
        if idle_timeout <= 0 or active_timeout <= 0 or max_flows < 1:
            raise ValueError("timeouts must be positive and max_flows at least 1")
        self.idle_timeout = idle_timeout
        self.active_timeout = active_timeout
        self.max_flows = max_flows
        self.flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self.done: list[Flow] = []
        self.evicted = 0
        self.active_expired = 0
        self.idle_expired = 0

    def __len__(self) -> int:
        return len(self.flows)

    def add(
        self, ts: float, ver: int, src: int | bytes, dst: int | bytes, proto: int,
        sport: int, dport: int, flags: int, vlan: int, ivlan: int, wirelen: int, frame: int,
    ) -> Flow:  # fmt: skip
        """Count one packet; returns its flow."""
        if src < dst or (src == dst and sport <= dport):  # type: ignore[operator]
            key: FlowKey = (proto, src, sport, dst, dport)
            low = True
        else:
            key = (proto, dst, dport, src, sport)
            low = False
        flows = self.flows
        f = flows.get(key)
        if f is not None:
            if ts - f.first < self.active_timeout and ts - f.last < self.idle_timeout:
                flows.move_to_end(key)
                if low is f.a_is_low:
                    f.a_packets += 1
                    f.a_bytes += wirelen
                else:
                    f.b_packets += 1
                    f.b_bytes += wirelen
                if ts > f.last:
                    f.last = ts
                f.flags |= flags
                return f
            del flows[key]
            self.done.append(f)
            if ts - f.last >= self.idle_timeout:  # idle, and no sweep came by since
                f.end_reason = "idle_timeout"
                self.idle_expired += 1
            else:
                f.end_reason = "active_timeout"
                self.active_expired += 1
                # The same conversation goes on: it keeps its initiator, whichever side
                # sends the packet that opens the next report (an upload cut in two must
                # not come back as half an upload and half a download).
                if low is not f.a_is_low:
                    g = flows[key] = Flow(key, ver, f.a_is_low, ts, 0, flags, vlan, ivlan,
                                          frame)
                    g.a_packets, g.b_packets, g.b_bytes = 0, 1, wirelen
                    return g
        elif len(flows) >= self.max_flows:
            _, old = flows.popitem(last=False)
            old.end_reason = "evicted"
            self.evicted += 1
            self.done.append(old)
        f = flows[key] = Flow(key, ver, low, ts, wirelen, flags, vlan, ivlan, frame)
        return f

    def expire(self, now: float) -> None:
        """End flows idle since before ``now - idle_timeout``."""
        cutoff = now - self.idle_timeout
        flows = self.flows
        while flows:
            key, f = next(iter(flows.items()))
            if f.last >= cutoff:
                break
            del flows[key]
            f.end_reason = "idle_timeout"
            self.idle_expired += 1
            self.done.append(f)

    def flush(self) -> None:
        """End every flow (end of the capture)."""
        for f in self.flows.values():
            f.end_reason = "end_of_capture"
            self.done.append(f)
        self.flows.clear()

    def take(self) -> list[Flow]:
        """The ended flows since the last call."""
        done = self.done[:]
        self.done.clear()  # in place: the reader holds this list
        return done


def ip_text(raw: int | bytes) -> str:
    """Text form of an address; ``inet_ntop`` is several times faster than ``ipaddress``."""
    if isinstance(raw, int):
        return inet_ntop(AF_INET, raw.to_bytes(4, "big"))
    return inet_ntop(AF_INET6, raw)


_FLAG_LISTS = tuple(
    tuple(name for bit, name in enumerate(_TCP_FLAG_NAMES) if flags >> bit & 1)
    for flags in range(256)
)


def tcp_flag_names(flags: int) -> list[str]:
    """``0x12`` -> ``["SYN", "ACK"]``."""
    return list(_FLAG_LISTS[flags & 0xFF])


def flow_id(flow: Flow) -> str:
    """A stable id from the 5-tuple and first-seen time, so a replay yields the same ids."""
    a, ap, b, bp = flow.endpoints
    return _flow_id(flow.key[0], ip_text(a), ap, ip_text(b), bp, flow.first)


def _flow_id(proto: int, a: str, ap: int, b: str, bp: int, first: float) -> str:
    text = f"{proto}|{a}|{ap}|{b}|{bp}|{first:.6f}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_iso_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _iso(ts: float) -> str:
    """ISO 8601 UTC with microseconds; flows end in bursts, so the second is cached."""
    sec = int(ts // 1)
    us = round((ts - sec) * 1e6)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    if _iso_second[0] != sec:
        _iso_second[0] = sec
        _iso_second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_iso_second[1]}.{us:06d}Z"


def flow_event(flow: Flow, source: str = "") -> Event:
    """The ECS ``network.flow`` event for an ended flow; ``source`` names the capture."""
    a, ap, b, bp = flow.endpoints
    a_ip, b_ip = ip_text(a), ip_text(b)
    proto = flow.key[0]
    start = datetime.fromtimestamp(flow.first, UTC)
    fid = _flow_id(proto, a_ip, ap, b_ip, bp, flow.first)
    fields: dict[str, Any] = {
        "event.dataset": NETWORK_FLOW,
        "event.kind": "event",
        "event.category": ["network"],
        "event.type": ["connection", "end"],
        "event.start": _iso(flow.first),
        "event.end": _iso(flow.last),
        "event.duration": round((flow.last - flow.first) * 1e9),
        "source.ip": a_ip,
        "source.bytes": flow.a_bytes,
        "source.packets": flow.a_packets,
        "destination.ip": b_ip,
        "destination.bytes": flow.b_bytes,
        "destination.packets": flow.b_packets,
        "network.transport": TRANSPORTS.get(proto) or str(proto),
        "network.iana_number": str(proto),
        "network.type": "ipv6" if flow.ver == 6 else "ipv4",
        "network.bytes": flow.a_bytes + flow.b_bytes,
        "network.packets": flow.a_packets + flow.b_packets,
        "flow.id": fid,
        "flow.final": flow.end_reason != "active_timeout",
        "phiwatch.flow.end_reason": flow.end_reason,
    }
    if proto == 6 or proto == 17 or proto == 132:
        fields["source.port"] = ap
        fields["destination.port"] = bp
        if proto == 6:
            fields["phiwatch.flow.tcp_flags"] = tcp_flag_names(flow.flags)
    if flow.vlan >= 0:
        fields["network.vlan.id"] = str(flow.vlan)
    if flow.ivlan >= 0:
        fields["network.inner.vlan.id"] = str(flow.ivlan)
    return Event(start, fields, ref=f"{source}:#{flow.first_frame}", id=fid)
