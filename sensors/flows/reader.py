"""Reading a capture into flow and DNS events: the sensor's hot loop.

Why one loop for everything: decoding is the cost, so each frame is decoded once and
feeds the flow table, the fragment tracker, DNS and (when asked) the conversation table.
The loop binds everything it calls to locals and handles the common case — an
unfragmented packet of a live flow — with no call but ``decode`` and two C methods of
the flow dict: the hit paths of ``FlowTable.add`` and ``ConversationTable.add`` are
inlined here (and tested through both).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sensors.event import Event
from sensors.flows.conversation_table import Conversation, ConversationTable
from sensors.flows.decode import decode
from sensors.flows.dns import MalformedDNS, dns_event
from sensors.flows.flowtable import TRANSPORTS, FlowTable, flow_event, ip_text
from sensors.flows.fragments import FragKey, FragmentTracker, Pending, Reassembled
from sensors.flows.pcapfile import Capture
from sensors.flows.tunnels import Buffer

#: How often, in capture seconds, idle flows and stale fragments are swept.
SWEEP_INTERVAL = 1.0


@dataclass(slots=True)
class Counters:
    """What one read saw; ``decode_errors`` and ``non_ip`` are keyed by reason.

    ``packets``, ``bytes`` and ``ip_packets`` are filled in when the iteration ends.
    """

    packets: int = 0
    bytes: int = 0
    ip_packets: int = 0
    non_ip: Counter[str] = field(default_factory=Counter)
    decode_errors: Counter[str] = field(default_factory=Counter)
    fragments: int = 0
    fragments_unmatched: int = 0
    #: Tunnel packets rebuilt from a fragmented outer datagram, and frames of tunnel
    #: datagrams that never completed (counted in the flow of their outer header).
    tunnel_reassembled: int = 0
    tunnel_incomplete: int = 0
    flows: int = 0
    flows_evicted: int = 0
    flows_active_timeout: int = 0
    dns_events: int = 0
    #: DNS events of messages the capture cut short (``dns.truncated_capture``).
    dns_truncated: int = 0
    #: DNS messages not read at all, by reason: ``malformed``, ``cut_header`` (the capture
    #: kept less than the 12-byte header), ``tcp_segmented``.
    dns_errors: Counter[str] = field(default_factory=Counter)
    truncated_records: int = 0
    linktypes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Plain values, for a log line or JSON."""
        return {
            "packets": self.packets, "bytes": self.bytes, "ip_packets": self.ip_packets,
            "non_ip": dict(self.non_ip), "decode_errors": dict(self.decode_errors),
            "fragments": self.fragments, "fragments_unmatched": self.fragments_unmatched,
            "tunnel_reassembled": self.tunnel_reassembled,
            "tunnel_incomplete": self.tunnel_incomplete,
            "flows": self.flows, "flows_evicted": self.flows_evicted,
            "flows_active_timeout": self.flows_active_timeout,
            "dns_events": self.dns_events, "dns_truncated": self.dns_truncated,
            "dns_errors": dict(self.dns_errors),
            "truncated_records": self.truncated_records, "linktypes": self.linktypes,
        }  # fmt: skip


def _no_conv(ver: int, src: int | bytes, dst: int | bytes, wirelen: int, ts: float) -> None:
    """Stands in for ConversationTable.add when conversations are not counted."""


class FlowReader:
    """Iterate over a capture's flow events (and DNS events); then read ``counters``.

    Flow events come out when a flow ends (idle or active timeout, eviction, end of
    capture), DNS events as their packet is read, so events are not in time order.
    ``conversations=True`` also counts the tshark-style conversation table, read with
    :meth:`conversations` after the iteration.
    """

    def __init__(
        self, path: str | Path, *, idle_timeout: float = 60.0, active_timeout: float = 300.0,
        max_flows: int = 500_000, dns: bool = True, conversations: bool = False,
        fragment_timeout: float = 60.0,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.source = str(path)
        self._settings = (idle_timeout, active_timeout, max_flows, fragment_timeout)
        self.dns = dns
        self._count_conversations = conversations
        self._reset()

    def _reset(self) -> None:
        """Fresh state, so that iterating twice reads the capture twice, not half."""
        idle_timeout, active_timeout, max_flows, fragment_timeout = self._settings
        self.table = FlowTable(idle_timeout, active_timeout, max_flows)
        self.fragments = FragmentTracker(timeout=fragment_timeout)
        self._conv = ConversationTable() if self._count_conversations else None
        self.counters = Counters()

    def conversations(self) -> list[Conversation]:
        """The conversation table (needs ``conversations=True``), as tshark sorts it."""
        if self._conv is None:
            raise RuntimeError("FlowReader(conversations=True) is needed for conversations")
        return self._conv.conversations()

    def __iter__(self) -> Iterator[Event]:
        self._reset()
        with Capture(self.path) as cap:
            yield from self._run(cap)
            c = self.counters
            c.truncated_records = cap.truncated_records
            c.linktypes = sorted(cap.linktypes)

    def _run(self, cap: Capture) -> Iterator[Event]:
        c = self.counters
        buf = cap.buf
        table = self.table
        add = table.add
        get = table.flows.get
        move = table.flows.move_to_end
        active = table.active_timeout
        idle = table.idle_timeout
        conv = self._conv
        cadd = conv.add if conv is not None else _no_conv
        pairs = conv.pairs if conv is not None else None
        frags = self.fragments
        dns_on = self.dns
        source = self.source
        errors = c.decode_errors
        done = table.done  # ended flows; FlowTable.take() empties it in place
        next_sweep = float("-inf")
        frame = nbytes = not_ip = 0
        for ts, lt, off, caplen, wirelen in cap.records():
            frame += 1
            nbytes += wirelen
            (ver, src, dst, proto, sport, dport, flags, vlan, ivlan, l4s, l4e,
             tapped, outer, frag, reason) = decode(buf, off, off + caplen, lt)  # fmt: skip
            if reason is not None:
                if reason.startswith("non_ip"):
                    c.non_ip[reason] += 1
                else:
                    errors[reason] += 1
            if pairs is not None:
                if outer:
                    for tver, tsrc, tdst in outer:
                        cadd(tver, tsrc, tdst, wirelen, ts)
                if tapped:
                    # ConversationTable.add, inlined for the common case.
                    pkey = (ver, src, dst) if src <= dst else (ver, dst, src)  # type: ignore[operator]
                    row = pairs.get(pkey)
                    if row is None:
                        cadd(ver, src, dst, wirelen, ts)
                    else:
                        if row.a == src and row.b == dst:
                            row.fab += 1
                            row.bab += wirelen
                        else:
                            row.fba += 1
                            row.bba += wirelen
                        if ts > row.end:
                            row.end = ts
                        elif ts < row.start:
                            row.start = ts
            if not ver:
                not_ip += 1
            else:
                if frag is None:
                    # FlowTable.add's hit path, inlined: most packets belong to a live flow.
                    if src < dst or (src == dst and sport <= dport):  # type: ignore[operator]
                        key = (proto, src, sport, dst, dport)
                        low = True
                    else:
                        key = (proto, dst, dport, src, sport)
                        low = False
                    f = get(key)
                    if f is not None and ts - f.first < active and ts - f.last < idle:
                        move(key)
                        if low is f.a_is_low:
                            f.a_packets += 1
                            f.a_bytes += wirelen
                        else:
                            f.b_packets += 1
                            f.b_bytes += wirelen
                        if ts > f.last:
                            f.last = ts
                        f.flags |= flags
                    else:
                        add(ts, ver, src, dst, proto, sport, dport, flags, vlan, ivlan, wirelen,
                            frame)  # fmt: skip
                    if dns_on and (sport == 53 or dport == 53) and l4e > l4s:
                        # bytes the capture's snap length cut off, if they were this payload's
                        cut = wirelen - caplen if l4e == off + caplen else 0
                        ev = self._dns(buf, l4s, l4e, ts, ver, src, sport, dst, dport, proto,
                                       frame, cut)  # fmt: skip
                        if ev is not None:
                            yield ev
                else:
                    c.fragments += 1
                    ports, released, taps, whole = frags.add(frag, ts, wirelen, frame, sport,
                                                             dport, buf)  # fmt: skip
                    if taps:
                        for tver, tsrc, tdst in taps:
                            cadd(tver, tsrc, tdst, wirelen, ts)
                    if ports is not None:
                        sport, dport = ports
                        for pts, plen, pframe in released:
                            add(pts, ver, src, dst, proto, sport, dport, 0, vlan, ivlan, plen,
                                pframe)  # fmt: skip
                        add(ts, ver, src, dst, proto, sport, dport, flags, vlan, ivlan,
                            wirelen, frame)  # fmt: skip
                    elif whole is not None:
                        ev = self._tunnel_packet(whole, ts, vlan, ivlan, frame)
                        if ev is not None:
                            yield ev
            if ts >= next_sweep:
                next_sweep = ts + SWEEP_INTERVAL
                table.expire(ts)
                for unfinished in frags.expire(ts):
                    self._unmatched(*unfinished)
            if done:
                for ended in table.take():
                    c.flows += 1
                    yield flow_event(ended, source)
        for unfinished in frags.drain():
            self._unmatched(*unfinished)
        table.flush()
        for ended in table.take():
            c.flows += 1
            yield flow_event(ended, source)
        c.packets = frame
        c.bytes = nbytes
        c.ip_packets = frame - not_ip
        c.flows_evicted = table.evicted
        c.flows_active_timeout = table.active_expired

    def _unmatched(self, key: FragKey, ports: tuple[int, int] | None,
                   frames: list[Pending]) -> None:  # fmt: skip
        """Fragments of a datagram given up: without its first fragment, a flow without
        ports; a tunnel datagram never completed, the flow of its fragmented header."""
        unmatched_flow(self.table, self.counters, key, ports, frames)

    def _tunnel_packet(
        self, whole: Reassembled, ts: float, vlan: int, ivlan: int, frame: int
    ) -> Event | None:
        """Count a reassembled tunnel packet in its inner flow; its DNS event if any."""
        dns = add_tunnel_packet(self.table, self.counters, whole, ts, vlan, ivlan, frame)
        if dns is None or not self.dns:
            return None
        ver, src, sport, dst, dport, proto, l4s, l4e = dns
        missing = whole.missing if l4e == len(whole.data) else 0
        return self._dns(whole.data, l4s, l4e, ts, ver, src, sport, dst, dport, proto, frame,
                         missing)  # fmt: skip

    def _dns(
        self, buf: Buffer, start: int, end: int, ts: float, ver: int, src: int | bytes,
        sport: int, dst: int | bytes, dport: int, proto: int, frame: int, cut: int,
    ) -> Event | None:  # fmt: skip
        """A DNS event for a port-53 payload, or None and a counted reason why not;
        ``cut`` bytes of the frame past ``end`` were not captured."""
        if proto != 17 and proto != 6:
            return None
        wire_size: int | None = None
        if cut > 0:
            wire_size = end - start + cut
            if proto == 17:  # the UDP length says exactly; the frame may have had a trailer
                ulen = (buf[start - 4] << 8) | buf[start - 3]
                if ulen >= 8:
                    wire_size = ulen - 8 if ulen - 8 > end - start else None
        return payload_dns_event(bytes(buf[start:end]), ts, ver, src, sport, dst, dport,
                                 proto, f"{self.source}:#{frame}", self.counters, wire_size)


def unmatched_flow(table: FlowTable, counters: Counters, key: FragKey,
                   ports: tuple[int, int] | None, frames: list[Pending]) -> None:  # fmt: skip
    """Count the frames of a fragmented datagram given up (see ``FlowReader._unmatched``);
    capture files and live capture alike."""
    ver, src, dst, proto, _ = key
    if ports is None:
        counters.fragments_unmatched += len(frames)
        ports = (0, 0)
    else:
        counters.tunnel_incomplete += len(frames)
    for ts, wirelen, frame in frames:
        table.add(ts, ver, src, dst, proto, ports[0], ports[1], 0, -1, -1, wirelen, frame)


#: Where a DNS payload sits in a packet: (version, source, source port, destination,
#: destination port, protocol, payload start, payload end).
DnsPlace = tuple[int, int | bytes, int, int | bytes, int, int, int, int]


def add_tunnel_packet(table: FlowTable, counters: Counters, whole: Reassembled, ts: float,
                      vlan: int, ivlan: int, frame: int) -> DnsPlace | None:  # fmt: skip
    """Count a tunnel packet rebuilt from its fragmented outer datagram in its inner flow:
    one packet, with the wire bytes of every frame that carried it, at the time of the
    frame that completed it (capture files and live capture alike). Returns where its
    DNS payload is in ``whole.data`` when it has a port-53 one."""
    (ver, src, dst, proto, sport, dport, flags, ivl, iivl, l4s, l4e,
     *_) = whole.decoded  # fmt: skip
    counters.tunnel_reassembled += 1
    if sport < 0:  # a fragment inside the tunnel: its ports are not followed further
        sport = dport = 0
    if vlan < 0:
        vlan, ivlan = ivl, iivl
    elif ivlan < 0:
        ivlan = ivl
    table.add(ts, ver, src, dst, proto, sport, dport, flags, vlan, ivlan, whole.wirelen, frame)
    if (sport == 53 or dport == 53) and l4e > l4s:
        return ver, src, sport, dst, dport, proto, l4s, l4e
    return None


def payload_dns_event(
    payload: bytes, ts: float, ver: int, src: int | bytes, sport: int, dst: int | bytes,
    dport: int, proto: int, ref: str, counters: Counters, wire_size: int | None = None,
) -> Event | None:  # fmt: skip
    """The DNS event of one UDP or TCP port-53 payload (capture files and live capture
    alike), or None with the reason counted in ``counters``.

    ``wire_size`` is the payload's size on the wire when the capture cut it short (its
    snap length): the message is then read as far as it goes (:func:`parse_cut_dns`).
    """
    announced = wire_size
    if proto == 6:  # DNS over TCP: a 2-byte length, whole messages only
        if len(payload) < 2:
            return None
        size = int.from_bytes(payload[:2], "big")
        if len(payload) < size + 2:
            if wire_size is None:
                counters.dns_errors["tcp_segmented"] += 1
                return None
            payload = payload[2:]
        else:
            payload = payload[2 : size + 2]
        announced = size if len(payload) < size else None
    elif proto != 17:
        return None
    try:
        ev = dns_event(
            payload, ts, ip_text(src), sport, ip_text(dst), dport, TRANSPORTS[proto],
            "ipv6" if ver == 6 else "ipv4", ref, announced,
        )  # fmt: skip
    except MalformedDNS as exc:
        counters.dns_errors[exc.reason] += 1
        return None
    counters.dns_events += 1
    if announced is not None:
        counters.dns_truncated += 1
    return ev


def read_flows(
    path: str | Path,
    *,
    idle_timeout: float = 60.0,
    active_timeout: float = 300.0,
    max_flows: int = 500_000,
    dns: bool = True,
) -> Iterator[Event]:
    """Flow events (``network.flow``) and DNS events (``network.dns``) of a capture file.

    For the counters, iterate a :class:`FlowReader` instead and read its ``counters``.
    """
    yield from FlowReader(
        path, idle_timeout=idle_timeout, active_timeout=active_timeout, max_flows=max_flows,
        dns=dns,
    )  # fmt: skip
