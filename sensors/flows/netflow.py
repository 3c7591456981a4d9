"""A NetFlow v5/v9 and IPFIX collector over UDP: exported flow records into ``network.flow``
events.

Why: routers and firewalls of many hospitals already export flows; collecting them sees the
whole network without a capture point. Export datagrams are few (one carries 20–30
records), so scapy's NetFlow dissectors (``scapy.layers.netflow``) are used as they are.
Templates (v9, IPFIX) are remembered per exporter and source id / observation domain, as
the RFCs scope them, through the per-packet step of scapy's ``netflowv9_defragment`` (the
one its ``NetflowSession`` calls); data that arrives before its template is counted and
dropped, as every collector must.

A record is one direction of a conversation. When the record's source port is a service
port (below 1024) and its destination port is not, it is the answer half: the event then
names the client as ``source`` and puts the bytes in ``destination.bytes``, so a web
server's replies are not "the server connecting out" to the network rules. The event says
``phiwatch.flow.unidirectional: true``.
"""

from __future__ import annotations

import hashlib
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from threading import Event as StopFlag
from typing import Any

from scapy.layers.netflow import (
    NetflowDataflowsetV9,
    NetflowHeader,
    NetflowHeaderV5,
    NetflowHeaderV9,
    NetflowHeaderV10,
    NetflowOptionsRecordOptionV9,
    NetflowOptionsRecordScopeV9,
    NetflowRecordV5,
    _netflowv9_defragment_packet,
)

from sensors.event import NETWORK_FLOW, Event
from sensors.flows.flowtable import TRANSPORTS, _iso, tcp_flag_names

#: Template state of one exporter: (data templates, option templates, missing ids).
_Templates = tuple[dict[int, Any], dict[int, Any], set[int]]
DEFAULT_PORT = 2055
MAX_DATAGRAM = 65535


class NetflowCollector:
    """Receives export datagrams on ``host:port`` (UDP) and turns them into flow events.

    ``port=0`` picks a free port (read it back from ``address``). Use :meth:`decode` for a
    datagram already in hand, :meth:`receive` for one from the socket, or iterate
    :meth:`events` until ``stop`` is set. ``counters`` counts datagrams, records, events
    and errors by reason.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = DEFAULT_PORT, *,
                 bind: bool = True) -> None:  # fmt: skip
        self.counters: Counter[str] = Counter()
        self._templates: dict[tuple[str, int, int], _Templates] = {}
        self.sock: socket.socket | None = None
        if bind:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock.bind((host, port))

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        if self.sock is None:
            raise RuntimeError("the collector was made with bind=False")
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> NetflowCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def receive(self, timeout: float | None = None) -> list[Event]:
        """Events of the next datagram; an empty list when ``timeout`` passes first."""
        if self.sock is None:
            raise RuntimeError("the collector is closed or was made with bind=False")
        self.sock.settimeout(timeout)
        try:
            data, peer = self.sock.recvfrom(MAX_DATAGRAM)
        except TimeoutError:
            return []
        return self.decode(data, str(peer[0]))

    def events(self, stop: StopFlag | None = None, poll: float = 0.5) -> Iterator[Event]:
        """Events as datagrams arrive, until ``stop`` is set (checked every ``poll`` s)."""
        while self.sock is not None and not (stop is not None and stop.is_set()):
            yield from self.receive(poll)

    def decode(self, data: bytes, exporter: str = "") -> list[Event]:
        """The flow events of one export datagram from ``exporter``; a datagram that does
        not dissect is counted in ``counters["error:…"]``, never raised."""
        self.counters["datagrams"] += 1
        if len(data) < 4:
            self.counters["error:short"] += 1
            return []
        version = int.from_bytes(data[:2], "big")
        try:
            pkt = NetflowHeader(data)
            if version == 5:
                out = self._v5(pkt, exporter)
            elif version in (9, 10):
                out = self._v9(pkt, exporter, version)
            else:
                self.counters[f"error:version_{version}"] += 1
                return []
        except Exception as e:  # scapy raises many kinds on garbage
            self.counters[f"error:{type(e).__name__}"] += 1
            return []
        self.counters["events"] += len(out)
        return out

    def _v5(self, pkt: Any, exporter: str) -> list[Event]:
        head = pkt[NetflowHeaderV5]
        now = head.unixSecs + head.unixNanoSeconds / 1e9
        uptime = head.sysUptime
        out = []
        rec = pkt.getlayer(NetflowRecordV5)
        while isinstance(rec, NetflowRecordV5):
            self.counters["records"] += 1
            start = now - (uptime - rec.first) / 1000.0
            end = now - (uptime - rec.last) / 1000.0
            out.append(_event(exporter, 5, rec.src, rec.dst, int(rec.prot), rec.srcport,
                              rec.dstport, rec.dOctets, rec.dpkts, int(rec.tcpFlags), start,
                              end))  # fmt: skip
            rec = rec.payload
        return out

    def _v9(self, pkt: Any, exporter: str, version: int) -> list[Event]:
        if version == 9:
            head = pkt[NetflowHeaderV9]
            now, uptime, domain = float(head.unixSecs), head.sysUptime, head.SourceID
        else:
            head = pkt[NetflowHeaderV10]
            now, uptime, domain = float(head.ExportTime), None, head.ObservationDomainID
        key = (exporter, version, domain)
        state = self._templates.setdefault(key, ({}, {}, set()))
        _netflowv9_defragment_packet(pkt, *state)  # type: ignore[no-untyped-call]
        if state[2]:
            self.counters["records_without_template"] += 1
            state[2].clear()
        out = []
        layer = pkt.getlayer(NetflowDataflowsetV9)
        while layer is not None:
            if isinstance(layer, NetflowDataflowsetV9):
                for rec in layer.records:
                    if isinstance(rec, NetflowOptionsRecordScopeV9 | NetflowOptionsRecordOptionV9):
                        continue
                    ev = self._v9_record(rec.fields, exporter, version, now, uptime)
                    if ev is not None:
                        out.append(ev)
            layer = layer.payload.getlayer(NetflowDataflowsetV9) if layer.payload else None
        return out

    def _v9_record(self, f: dict[str, Any], exporter: str, version: int, now: float,
                   uptime: int | None) -> Event | None:  # fmt: skip
        src = f.get("IPV4_SRC_ADDR") or f.get("IPV6_SRC_ADDR")
        dst = f.get("IPV4_DST_ADDR") or f.get("IPV6_DST_ADDR")
        if not isinstance(src, str) or not isinstance(dst, str):
            self.counters["records_without_addresses"] += 1
            return None
        self.counters["records"] += 1
        nbytes = _num(f.get("IN_BYTES", f.get("BYTES_TOTAL", 0)))
        npkts = _num(f.get("IN_PKTS", f.get("PACKETS_TOTAL", 0)))
        start = end = now
        if "flowStartMilliseconds" in f:
            start = _num(f["flowStartMilliseconds"]) / 1000.0
            end = _num(f.get("flowEndMilliseconds", f["flowStartMilliseconds"])) / 1000.0
        elif "flowStartSeconds" in f:
            start = float(_num(f["flowStartSeconds"]))
            end = float(_num(f.get("flowEndSeconds", f["flowStartSeconds"])))
        elif uptime is not None and "FIRST_SWITCHED" in f:
            start = now - (uptime - _num(f["FIRST_SWITCHED"])) / 1000.0
            end = now - (uptime - _num(f.get("LAST_SWITCHED", f["FIRST_SWITCHED"]))) / 1000.0
        return _event(exporter, version, src, dst, _num(f.get("PROTOCOL", 0)),
                      _num(f.get("L4_SRC_PORT", 0)), _num(f.get("L4_DST_PORT", 0)), nbytes,
                      npkts, _num(f.get("TCP_FLAGS", 0)), start, end)  # fmt: skip


def _num(v: Any) -> int:
    if isinstance(v, bytes):
        return int.from_bytes(v, "big")
    return int(v or 0)


def _event(exporter: str, version: int, src: str, dst: str, proto: int, sport: int,
           dport: int, nbytes: int, npkts: int, flags: int, start: float, end: float,
           ) -> Event:  # fmt: skip
    """A one-direction flow event; an answer half is turned round (see the module)."""
    reply = sport < 1024 <= dport
    a, ap, b, bp = (dst, dport, src, sport) if reply else (src, sport, dst, dport)
    a_bytes, b_bytes = (0, nbytes) if reply else (nbytes, 0)
    a_pkts, b_pkts = (0, npkts) if reply else (npkts, 0)
    end = max(end, start)
    text = f"{exporter}|{proto}|{src}|{sport}|{dst}|{dport}|{start:.3f}|{end:.3f}|{nbytes}"
    fid = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    fields: dict[str, Any] = {
        "event.dataset": NETWORK_FLOW, "event.kind": "event",
        "event.category": ["network"], "event.type": ["connection", "end"],
        "event.start": _iso(start), "event.end": _iso(end),
        "event.duration": round((end - start) * 1e9),
        "source.ip": a, "source.bytes": a_bytes, "source.packets": a_pkts,
        "destination.ip": b, "destination.bytes": b_bytes, "destination.packets": b_pkts,
        "network.transport": TRANSPORTS.get(proto) or str(proto),
        "network.iana_number": str(proto),
        "network.type": "ipv6" if ":" in src else "ipv4",
        "network.bytes": nbytes, "network.packets": npkts,
        "flow.id": fid, "flow.final": True,
        "phiwatch.flow.end_reason": "exported",
        "phiwatch.flow.unidirectional": True,
        "netflow.version": version,
    }  # fmt: skip
    if exporter:
        fields["observer.ip"] = exporter
    if proto in (6, 17, 132):
        fields["source.port"], fields["destination.port"] = ap, bp
        if proto == 6:
            fields["phiwatch.flow.tcp_flags"] = tcp_flag_names(flags)
    return Event(datetime.fromtimestamp(start, UTC), fields, ref=f"netflow:{exporter}", id=fid)
