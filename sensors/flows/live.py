"""Live capture on an interface: raw frames from scapy's listen socket into the flow table.

Why this shape: scapy's ``sniff`` dissects every packet into objects, tens of
microseconds each, which a busy SPAN port cannot afford. Here scapy only opens the
``PF_PACKET`` listen socket (``conf.L2listen``) and attaches the BPF filter in the kernel;
each frame's bytes go to the same ``struct`` decoder and :class:`FlowTable` as a capture
file's, and DNS to the same dissector. Times are the kernel's receive stamps, so idle and
active timeouts behave as in a replay (where the kernel gives no stamp, the time the
batch was read). ``counters.kernel_drops`` reads the socket's
``PACKET_STATISTICS``: frames the kernel dropped because this loop fell behind.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from threading import Event as StopFlag
from typing import Any

from sensors.event import Event
from sensors.flows.decode import decode
from sensors.flows.flowtable import FlowTable, flow_event
from sensors.flows.fragments import FragmentTracker, Reassembled
from sensors.flows.reader import (
    SWEEP_INTERVAL,
    Counters,
    add_tunnel_packet,
    payload_dns_event,
    unmatched_flow,
)

_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_LINKTYPE_FALLBACK = 1  # Ethernet
#: On loopback every packet is seen twice, leaving and arriving: the leaving copy is skipped.
_OUTGOING = 4  # PACKET_OUTGOING
_ARPHRD_LOOPBACK = 772
_PACKET_IGNORE_OUTGOING = 23


def _is_loopback(iface: str) -> bool:
    """Whether ``iface`` is a loopback device (its ARP hardware type, from sysfs)."""
    try:
        return int(Path(f"/sys/class/net/{iface}/type").read_text()) == _ARPHRD_LOOPBACK
    except (OSError, ValueError):
        return iface == "lo"


class LiveCapture:
    """Flow and DNS events from ``iface``, with an optional BPF ``bpf_filter``.

    Opening needs the right to capture (root or ``CAP_NET_RAW``); a ``PermissionError``
    or ``OSError`` from the constructor says so. Iterate :meth:`events` until ``stop`` is
    set; the flows still open are then reported (``end_of_capture``) and the socket is
    closed.
    """

    def __init__(
        self, iface: str, bpf_filter: str | None = None, *, idle_timeout: float = 60.0,
        active_timeout: float = 300.0, max_flows: int = 500_000, dns: bool = True,
        fragment_timeout: float = 60.0,
    ) -> None:  # fmt: skip
        from scapy.config import conf

        self.iface = iface
        self.bpf_filter = bpf_filter
        self.source = f"live:{iface}"
        self.dns = dns
        self.table = FlowTable(idle_timeout, active_timeout, max_flows)
        self.fragments = FragmentTracker(timeout=fragment_timeout)
        self.counters = Counters()
        self.kernel_drops = 0
        self._sock: Any = conf.L2listen(iface=iface, filter=bpf_filter)
        ins = self._sock.ins
        ins.setblocking(False)  # drained until empty, then select() waits
        ins.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # room for bursts
        if _is_loopback(iface):
            # The kernel then keeps loopback's second (leaving) copy to itself; before
            # Linux 4.20 the option is refused and the loop skips the copies instead.
            with contextlib.suppress(OSError):
                ins.setsockopt(_SOL_PACKET, _PACKET_IGNORE_OUTGOING, 1)
        numbers: dict[Any, int] = conf.l2types.layer2num
        self.linktype = int(numbers.get(getattr(self._sock, "LL", None), _LINKTYPE_FALLBACK))

    def close(self) -> None:
        if self._sock is not None:
            self._read_drops()
            self._sock.close()
            self._sock = None

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_drops(self) -> None:
        """Add the kernel's drop count since the last read (reading resets it)."""
        try:
            raw = self._sock.ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
        except (OSError, AttributeError):
            return
        _, drops = struct.unpack("II", raw)
        self.kernel_drops += drops

    def events(self, stop: StopFlag | None = None, poll: float = 0.2) -> Iterator[Event]:
        """Events as packets arrive, until ``stop`` is set (checked every ``poll`` s)."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("the capture is closed")
        fd = sock.ins.fileno()
        next_sweep = 0.0
        while not (stop is not None and stop.is_set()):
            ready, _, _ = select.select([fd], [], [], poll)
            now = time.time()
            if ready:
                recv = sock._recv_raw
                ins = sock.ins
                for _ in range(4096):  # drain what is queued, then look at stop again
                    try:
                        # scapy's own receive step: it puts back the VLAN tags the
                        # kernel moved into ancillary data, as a SPAN port sent them.
                        data, sa_ll, ts = recv(ins, 65535)
                    except BlockingIOError:
                        break
                    if data and not (sa_ll[2] == _OUTGOING and sa_ll[3] == _ARPHRD_LOOPBACK):
                        yield from self._packet(data, float(ts or now))
            if now >= next_sweep:
                next_sweep = now + SWEEP_INTERVAL
                self.table.expire(now)
                for unfinished in self.fragments.expire(now):
                    unmatched_flow(self.table, self.counters, *unfinished)
                self._read_drops()
                yield from self._ended()
        for unfinished in self.fragments.drain():
            unmatched_flow(self.table, self.counters, *unfinished)
        self.table.flush()
        yield from self._ended()
        self.close()

    def _ended(self) -> Iterator[Event]:
        c = self.counters
        for ended in self.table.take():
            c.flows += 1
            yield flow_event(ended, self.source)
        c.flows_evicted = self.table.evicted
        c.flows_active_timeout = self.table.active_expired

    def _packet(self, data: bytes, ts: float) -> Iterator[Event]:
        c = self.counters
        c.packets += 1
        c.bytes += len(data)
        frame = c.packets
        (ver, src, dst, proto, sport, dport, flags, vlan, ivlan, l4s, l4e,
         _tapped, _outer, frag, reason) = decode(data, 0, len(data), self.linktype)  # fmt: skip
        if reason is not None:
            if reason.startswith("non_ip"):
                c.non_ip[reason] += 1
            else:
                c.decode_errors[reason] += 1
        if not ver:
            return
        c.ip_packets += 1
        add = self.table.add
        if frag is None:
            add(ts, ver, src, dst, proto, sport, dport, flags, vlan, ivlan, len(data), frame)
            if self.dns and (sport == 53 or dport == 53) and l4e > l4s:
                ev = self._dns(data[l4s:l4e], ts, ver, src, sport, dst, dport, proto, frame)
                if ev is not None:
                    yield ev
        else:
            c.fragments += 1
            ports, released, _, whole = self.fragments.add(frag, ts, len(data), frame, sport,
                                                            dport, data)  # fmt: skip
            if ports is not None:
                sport, dport = ports
                for pts, plen, pframe in released:
                    add(pts, ver, src, dst, proto, sport, dport, 0, vlan, ivlan, plen, pframe)
                add(ts, ver, src, dst, proto, sport, dport, flags, vlan, ivlan, len(data), frame)
            elif whole is not None:
                ev = self._tunnel_packet(whole, ts, vlan, ivlan, frame)
                if ev is not None:
                    yield ev
        if self.table.done:
            yield from self._ended()

    def _tunnel_packet(
        self, whole: Reassembled, ts: float, vlan: int, ivlan: int, frame: int
    ) -> Event | None:
        dns = add_tunnel_packet(self.table, self.counters, whole, ts, vlan, ivlan, frame)
        if dns is None or not self.dns:
            return None
        ver, src, sport, dst, dport, proto, l4s, l4e = dns
        return self._dns(whole.data[l4s:l4e], ts, ver, src, sport, dst, dport, proto, frame)

    def _dns(
        self, payload: bytes, ts: float, ver: int, src: int | bytes, sport: int,
        dst: int | bytes, dport: int, proto: int, frame: int,
    ) -> Event | None:  # fmt: skip
        return payload_dns_event(payload, ts, ver, src, sport, dst, dport, proto,
                                 f"{self.source}:#{frame}", self.counters)


def loopback_available(iface: str = "lo") -> str | None:
    """None if a listen socket can be opened on ``iface``, else the reason it cannot."""
    from scapy.config import conf

    try:
        conf.L2listen(iface=iface).close()
    except OSError as e:
        return f"cannot capture on {iface}: {e}"
    except Exception as e:  # scapy wraps some failures in its own exception type
        return f"cannot capture on {iface}: {type(e).__name__}: {e}"
    return None


def bpf_unavailable() -> str | None:
    """None if BPF filters can be compiled (scapy needs libpcap for it), else the reason
    and the package to install."""
    from scapy.arch.common import compile_filter

    try:
        compile_filter("udp", linktype=1)
    except Exception as e:  # scapy's own exception type, whatever the cause
        return (f"libpcap is not available to compile BPF filters (Debian: apt-get install "
                f"libpcap0.8): {e}")
    return None
