"""Flow sensor throughput against `tshark -q -z conv,ip`, on the same capture in one run.

Builds (once, cached outside the repository) a pcap of realistic mixed traffic: TCP
sessions with handshakes, proper sequence numbers, HTTP and TLS payloads, elephants and
mice; DNS queries and answers; NTP, syslog and RTP-like UDP; ICMP echo; a tenth IPv6; a
third of the flows on 802.1Q VLANs and some Q-in-Q. Then it times

* phiwatch's flow reader (flow + DNS events, what `phiwatch flows` does),
* the same pass also counting conversations (the like-for-like peer of tshark), and
* `tshark -n -q -z conv,ip -z conv,ipv6`,

checks that the conversation tables agree (frames exactly, bytes as tshark prints them),
and prints packets/s for each and the ratios. Each is run ``--repeat`` times and the run
with the least CPU time counts: the machine is shared, so CPU time is the fair measure
and wall time is shown beside it. Target: phiwatch at least 2x tshark.

    .venv/bin/python bench/flow_throughput.py [--packets 1000000] [--pcap FILE]
        [--repeat 2] [--readers] [--profile]

``--live`` measures live capture instead: a separate process sends UDP datagrams over the
loopback interface at rising paced rates, ``LiveCapture`` reads them with a BPF filter,
and each step prints the rate sent, the rate captured and the datagrams lost (not seen,
or dropped by the kernel because the reader fell behind). Needs the right to capture.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sensors.flows.conversations import compare, parse_tshark_conv  # noqa: E402
from sensors.flows.dns import clear_cache  # noqa: E402
from sensors.flows.pcapfile import Capture  # noqa: E402
from sensors.flows.reader import FlowReader  # noqa: E402

GENERATOR_VERSION = 1
_REC = struct.Struct("<IIII")
_IP4 = struct.Struct("!BBHHHBBHII")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08


def cache_dir() -> Path:
    """Where generated captures are kept between runs (never in the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phiwatch-bench"


def _dns_payload(rng: random.Random, answer: bool) -> bytes:
    """A plausible DNS query or answer for a random internal name (built by hand: fast)."""
    name = f"host{rng.randrange(2000)}.his.benh-vien.vn"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    ident = rng.randrange(65536)
    if not answer:
        return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + b"\0\x01\0\x01"
    rr = b"\xc0\x0c\0\x01\0\x01" + struct.pack("!IH", 300, 4) + bytes([10, 20, 1, 7])
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + qname + b"\0\x01\0\x01" + rr


class _Flow:
    """A flow being generated: addresses, link header per direction, TCP state."""

    def __init__(self, rng: random.Random, idx: int, kind: str, v6: bool) -> None:
        self.kind, self.v6 = kind, v6
        client = 0x0A140000 | rng.randrange(1, 4000)  # 10.20.x.x: hospital workstations
        server = (
            rng.choice([0x0A000005, 0x0A000006, 0x0A00000A])  # internal servers
            if kind in ("dns", "ntp", "syslog") or rng.random() < 0.5
            else 0x0D000000 | rng.randrange(1, 1 << 24)  # the internet
        )
        if v6:
            self.a: bytes | int = b"\x20\x01\x0d\xb8" + client.to_bytes(12, "big")
            self.b: bytes | int = b"\x20\x01\x0d\xb8\xff" + server.to_bytes(11, "big")
        else:
            self.a, self.b = client, server
        self.sport = 32768 + (idx * 7919) % 28000
        self.dport = {"https": 443, "http": 80, "dns": 53, "ntp": 123, "syslog": 514,
                      "rtp": 16384 + idx % 1000, "icmp": 0}[kind]  # fmt: skip
        roll = rng.random()
        macs = b"\x00\x1b\x21\x0a\x0b\x0c\x00\x50\x56\x01\x02\x03"
        tag = b""
        if roll < 0.3:
            tag = b"\x81\x00" + struct.pack("!H", rng.choice([10, 20, 30, 110]))
        elif roll < 0.32:
            tag = b"\x88\xa8\x00\x64\x81\x00" + struct.pack("!H", 20)
        self.link = macs + tag + (b"\x86\xdd" if v6 else b"\x08\x00")
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        self.ipid = rng.randrange(65536)

    def frame(self, rev: bool, flags: int, payload: bytes) -> bytes:
        """One frame of this flow, client to server unless ``rev``."""
        src, dst = (self.b, self.a) if rev else (self.a, self.b)
        sport, dport = (self.dport, self.sport) if rev else (self.sport, self.dport)
        if self.kind == "icmp":
            proto = 58 if self.v6 else 1
            l4 = bytes([(129 if rev else 128) if self.v6 else (0 if rev else 8), 0, 0, 0])
            l4 += struct.pack("!HH", self.sport, self.seq[0] & 0xFFFF)
        elif self.kind in ("https", "http"):
            proto = 6
            d = 1 if rev else 0
            l4 = _TCP.pack(sport, dport, self.seq[d], self.seq[1 - d] if flags & ACK else 0,
                           0x50, flags, 64240, 0, 0)  # fmt: skip
            self.seq[d] = (self.seq[d] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & (
                0xFFFFFFFF
            )
        else:
            proto = 17
            l4 = _UDP.pack(sport, dport, 8 + len(payload), 0)
        body = l4 + payload
        self.ipid = (self.ipid + 1) & 0xFFFF
        if self.v6:
            ip = _IP6.pack(0x60000000, len(body), proto, 64, src, dst)
        else:
            ip = _IP4.pack(0x45, 0, 20 + len(body), self.ipid, 0x4000, 64, proto, 0, src, dst)
        return self.link + ip + body


def _plan(rng: random.Random, flow: _Flow, start: float) -> list[tuple[float, bool, int, bytes]]:
    """The packets of one flow: (time, reverse, TCP flags, payload)."""
    out: list[tuple[float, bool, int, bytes]] = []
    rtt = rng.uniform(0.0005, 0.06)
    t = start
    if flow.kind in ("dns", "ntp"):
        q = _dns_payload(rng, False) if flow.kind == "dns" else b"\x23" + b"\0" * 47
        r = _dns_payload(rng, True) if flow.kind == "dns" else b"\x24" + b"\0" * 47
        return [(t, False, 0, q), (t + rtt, True, 0, r)]
    if flow.kind == "syslog":
        return [(t + i * rng.uniform(0.01, 2), False, 0, b"<134>" + b"s" * rng.randrange(60, 400))
                for i in range(rng.randrange(1, 40))]  # fmt: skip
    if flow.kind == "rtp":
        n = rng.randrange(50, 1500)
        return [(t + i * 0.02, bool(i & 1), 0, b"\x80" + b"\0" * 171) for i in range(n)]
    if flow.kind == "icmp":
        n = rng.randrange(1, 8)
        return [pkt for i in range(n) for pkt in ((t + i, False, 0, b"p" * 56),
                                                  (t + i + rtt, True, 0, b"p" * 56))]  # fmt: skip
    out += [
        (t, False, SYN, b""),
        (t + rtt, True, SYN | ACK, b""),
        (t + rtt * 1.01, False, ACK, b""),
    ]
    t += rtt * 1.02
    exchanges = 1 + int(rng.paretovariate(1.5)) % 6
    for _ in range(exchanges):
        segs = min(int(rng.paretovariate(1.3) * 1.5), 60)
        if rng.random() < 0.004:
            segs = rng.randrange(200, 2000)  # a few elephants: uploads, backups, exports
        upload = rng.random() < 0.1
        if flow.kind == "http":
            req = b"GET /emr/patient/" + str(rng.randrange(10**6)).encode() + b" HTTP/1.1\r\n"
            req += b"Host: his.local\r\nUser-Agent: bench\r\n\r\n"
            resp_head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (segs * 1460 - 40)
        else:
            req = b"\x17\x03\x03" + struct.pack("!H", 300) + b"\0" * 300
            resp_head = b"\x17\x03\x03" + struct.pack("!H", min(segs * 1460, 16384) - 5)
        out.append((t, False, PSH | ACK, req))
        t += rtt
        for i in range(segs):
            data = resp_head + b"\0" * (1460 - len(resp_head)) if i == 0 else b"\0" * 1460
            out.append((t, upload, ACK, data))
            t += 0.00012
            if i & 1:
                out.append((t + rtt / 2, not upload, ACK, b""))
        t += rtt
    out += [
        (t, False, FIN | ACK, b""),
        (t + rtt, True, FIN | ACK, b""),
        (t + rtt * 1.01, False, ACK, b""),
    ]
    return out


def generate(path: Path, packets: int, seed: int = 1) -> None:
    """Write a pcap of about ``packets`` frames of mixed traffic over ~5 minutes."""
    rng = random.Random(seed)
    kinds = ["https"] * 55 + ["http"] * 12 + ["dns"] * 18 + ["ntp"] * 2 + ["syslog"] * 3
    kinds += ["rtp"] * 1 + ["icmp"] * 4
    flows: list[_Flow] = []
    plan: list[tuple[float, int, int]] = []
    planned: list[list[tuple[float, bool, int, bytes]]] = []
    total = 0
    while total < packets:
        idx = len(flows)
        flow = _Flow(rng, idx, rng.choice(kinds), rng.random() < 0.1)
        pk = _plan(rng, flow, rng.uniform(0, 300))
        flows.append(flow)
        planned.append(pk)
        plan.extend((p[0], idx, j) for j, p in enumerate(pk))
        total += len(pk)
    plan.sort()
    del plan[packets:]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        base = 1_790_000_000
        for ts, idx, j in plan:
            _, rev, flags, payload = planned[idx][j]
            data = flows[idx].frame(rev, flags, payload)
            if len(data) < 60:
                data += b"\0" * (60 - len(data))  # Ethernet minimum frame, as on the wire
            sec = int(ts)
            out.write(_REC.pack(base + sec, int((ts - sec) * 1e6), len(data), len(data)))
            out.write(data)
    tmp.rename(path)


def time_phiwatch(path: Path, dns: bool, conversations: bool) -> tuple[float, float, FlowReader]:
    """Wall and CPU seconds for one full read, and the reader (counters, table)."""
    clear_cache()  # every run starts with a cold DNS cache, as a new process would
    wall, cpu = time.perf_counter(), time.process_time()
    reader = FlowReader(path, dns=dns, conversations=conversations)
    for _ in reader:
        pass
    return time.perf_counter() - wall, time.process_time() - cpu, reader


def time_tshark(path: Path, tshark: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of `tshark -n -q -z conv,ip -z conv,ipv6`, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(
        [tshark, "-n", "-q", "-r", str(path), "-z", "conv,ip", "-z", "conv,ipv6"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def time_readers(path: Path) -> None:
    """Frames/s of our struct reader against scapy's RawPcapReader, reading only."""
    from scapy.utils import RawPcapReader

    start = time.perf_counter()
    with Capture(path) as cap:
        n = sum(1 for _ in cap.records())
    ours = time.perf_counter() - start
    start = time.perf_counter()
    with RawPcapReader(str(path)) as rd:
        m = sum(1 for _ in rd)
    theirs = time.perf_counter() - start
    print(f"reader only: phiwatch Capture {n / ours:,.0f} frames/s, "
          f"scapy RawPcapReader {m / theirs:,.0f} frames/s ({theirs / ours:.1f}x)")  # fmt: skip


#: The traffic generator of ``--live``: paced bursts of UDP datagrams over 100 ports.
_LIVE_SENDER = """
import socket, sys, time
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload, sent, start, burst = b"x" * 64, 0, time.perf_counter(), 64
while (now := time.perf_counter()) - start < seconds:
    if rate and sent > (now - start) * rate:
        time.sleep(0.0005)
        continue
    for i in range(burst):
        s.sendto(payload, ("127.0.0.1", port + (sent + i) % 100))
    sent += burst
print(sent, time.perf_counter() - start)
"""


def live_loopback(rates: list[float], seconds: float = 3.0) -> int:
    """Packets/s captured on lo at each paced rate (0: as fast as the sender goes)."""
    import threading

    from sensors.flows.live import LiveCapture, loopback_available

    reason = loopback_available("lo")
    if reason:
        print(reason)
        return 1
    base = 47000
    print(f"{'sent/s':>10} {'captured/s':>11} {'lost':>8} {'kernel drops':>13}")
    for rate in rates:
        stop = threading.Event()
        cap = LiveCapture("lo", f"udp and dst portrange {base}-{base + 99}")
        flows: list[object] = []

        def read(c: LiveCapture = cap, flag: threading.Event = stop,
                 out: list[object] = flows) -> None:  # fmt: skip
            out.extend(c.events(flag, poll=0.05))

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)
        out = subprocess.run(
            [sys.executable, "-c", _LIVE_SENDER, str(base), str(rate), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sent, took = int(out.split()[0]), float(out.split()[1])
        time.sleep(0.5)
        stop.set()
        reader.join()
        got = cap.counters.packets
        print(f"{sent / took:10,.0f} {got / took:11,.0f} {sent - got:8,} {cap.kernel_drops:13,}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--pcap", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best CPU counts")
    ap.add_argument("--readers", action="store_true", help="also time pcap readers alone")
    ap.add_argument("--profile", action="store_true", help="profile phiwatch with pyinstrument")
    ap.add_argument("--live", action="store_true", help="measure live capture on lo instead")
    args = ap.parse_args()
    if args.live:
        return live_loopback([20_000, 50_000, 100_000, 150_000, 0])
    path = args.pcap
    if path is None:
        path = cache_dir() / f"mixed-{args.packets}-v{GENERATOR_VERSION}.pcap"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            generate(path, args.packets)
            print(f"generated {path} in {time.perf_counter() - t:.1f} s")
    size = path.stat().st_size
    print(f"capture: {path} ({size / 1e6:.0f} MB)")
    if args.readers:
        time_readers(path)
    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as prof:
            time_phiwatch(path, dns=True, conversations=True)
        prof.print(show_all=False)
    modes = {
        "phiwatch flows (DNS off)": (False, False),
        "phiwatch flows + DNS": (True, False),
        "phiwatch flows + DNS + conv": (True, True),
    }
    runs = {
        name: min(
            (time_phiwatch(path, dns=dns, conversations=conv) for _ in range(args.repeat)),
            key=lambda run: run[1],
        )
        for name, (dns, conv) in modes.items()
    }
    reader = runs["phiwatch flows + DNS"][2]
    n = reader.counters.packets
    print(f"packets: {n:,}  flows: {reader.counters.flows:,}  "
          f"DNS events: {reader.counters.dns_events:,}")  # fmt: skip
    print("CPU time is the fair measure on a shared machine; wall time is shown too.")
    print(f"{'':30} {'wall s':>7} {'CPU s':>7} {'packets/s (CPU)':>16} {'(wall)':>10}")
    for name, (wall, cpu, _) in runs.items():
        print(f"{name:30} {wall:7.2f} {cpu:7.2f} {n / cpu:16,.0f} {n / wall:10,.0f}")
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found: no peer figure (apt-get install tshark)")
        return 0
    t_wall, t_cpu, out = min(
        (time_tshark(path, tshark) for _ in range(args.repeat)), key=lambda run: run[1]
    )
    print(f"{'tshark -z conv,ip -z conv,ipv6':30} {t_wall:7.2f} {t_cpu:7.2f} "
          f"{n / t_cpu:16,.0f} {n / t_wall:10,.0f}")  # fmt: skip
    for name, (wall, cpu, _) in runs.items():
        print(f"ratio {name} / tshark: {t_cpu / cpu:.2f}x CPU, {t_wall / wall:.2f}x wall "
              "(target >= 2x)")  # fmt: skip
    conv_reader = runs["phiwatch flows + DNS + conv"][2]
    tables = parse_tshark_conv(out)
    ours = conv_reader.conversations()
    problems = compare([c for c in ours if c.version == 4], tables.get("IPv4", []))
    problems += compare([c for c in ours if c.version == 6], tables.get("IPv6", []))
    count = len(tables.get("IPv4", [])) + len(tables.get("IPv6", []))
    if problems:
        print(f"conversations DISAGREE ({len(problems)} of {count}):")
        for line in problems[:20]:
            print("  " + line)
        return 1
    print(f"conversations agree: {count:,} address pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
