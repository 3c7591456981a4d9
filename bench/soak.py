"""Soak: live HIS logs and NetFlow at 10× a large hospital's busiest hour, for 30 minutes,
through a real ``phiwatch run`` and a real remote ``phiwatch sensor``, each killed with
SIGKILL and started again once. Does memory stay flat, does the lag stay bounded, and is
every HIS line processed exactly once across the restarts?

**What is fed, and at which rate.** The simulated large maternity hospital (``phiwatch
simulate --profile maternity --preset large --days 7``, cached like
``bench/detection_quality.py``). Its rate is measured on those days: the HIS lines of its
busiest hour (by the hour of ``@timestamp``) and its average per second; the soak feeds
``--multiplier`` (10) × the busiest hour. Same for flows: the day captures turned into
flows once (``sensors.flows.FlowReader`` with the capture defaults, 15 s idle and 30 s
active timeout, as an exporter configured below the engine's 60 s lateness would report
them), each flow one NetFlow v5 record per direction that carried packets, counted per
hour of its start. DNS events of the captures are not fed (NetFlow carries none).

**How.** Two feeder threads of this process:

- HIS: lines of the simulated days in order (cycled if the run needs more), each with its
  ``@timestamp`` set to the wall clock when written (UTC, ISO 8601 with offset; the rest
  of the line as simulated), round-robin into ``engine-host/his/access.log`` (a
  ``sources:`` entry of ``phiwatch run``) and ``sensor-host/his/access.log`` (read by the
  sensor). Both globs are ``access.log*``, so a rotated file stays in the glob: the
  source must recognise it by its inode and read it neither twice nor short.
- flows: NetFlow v5 datagrams (at most 30 records, the v5 limit) over UDP to the
  collector of the sensor's ``flows:``, with the flow times on the wall clock (a record
  ends when it is sent and lasts what the simulated flow lasted).

The engine has the simulated network model (``net/network.yaml``) and the shipped rules;
no context files: the simulated roster and encounters are dated in the simulated week,
and every re-stamped line would fall outside them (a flood of off-roster alerts that says
nothing about the soak).

**Restarts** (unless ``--no-restarts``): at 1/3 of the run the engine is killed with
SIGKILL — the hard case: no final snapshot, no flush, the open alert windows and read
positions only as of the last snapshot — and started again 5 s later; the engine-host
log is rotated while it is down. At 1/3 + 5 s the sensor-host log is rotated (a rotation
under a running sensor). At 2/3 the sensor is killed with SIGKILL and started again 5 s
later. Flow records sent while the sensor is down are lost by design (NetFlow is UDP,
nothing is listening); they are reported, not asserted.

**HIS accounting, exactly.** The engine's ``events`` counter (its snapshot in
``state_dir/state.db``, restored with the read positions, so it is exact across a kill)
counts every event through the rules: local HIS lines, and the sensor's HIS lines *and*
flows. The engine counts no per-dataset total, and its per-source counts start again at
each start, so the sensor's share is taken on the wire instead: the sensor's
``engine_url`` is a small counting proxy in this process (``Tap``; a TLS-terminating
load balancer stands at the same place in a hospital) which forwards every request to
the engine's API unchanged and, for each ``POST /ingest`` the engine answers 200
(accepted, or a duplicate it recognised), records the batch's (sensor, stream, seq) once,
with its records by ``event.dataset`` and the HIS events' ids. Then, once both processes
have stopped:

- remote HIS: HIS records the engine acknowledged == lines written to the sensor-host log,
  and no HIS event id in two batches (the sensor lost and doubled nothing);
- all of it: engine events == engine-host lines + records of the acknowledged batches, so
  HIS events processed (engine events − acknowledged flow records) == lines written to
  both logs (the engine lost nothing and processed nothing twice, across its kill and the
  sensor's);
- no HIS line late or dead-lettered (``state_dir/dead-letter``).

**Memory flat**: the engine's RSS (``/proc/PID/status`` VmRSS), sampled every 5 s, median
of the last third ≤ 1.10 × median of the second third. Not against the first third:
the engine is restarted at 1/3, and the first third includes the first process's own
warm-up; the second and last thirds are one process, so the ratio is its growth over
20 minutes. Mind what it can show: the shipped rules keep each matching event (its time,
value, origin and id) in windows of up to 1 h (twelve rules) and 4 h (one), so at a
constant rate the engine's state, and its RSS, *must* grow for the first hours of event
time before it levels off; a run tells flat from growing only once its event time
exceeds the longest window, or for a rate at which the groups' caps
(``rules.max_groups_per_rule``/``max_groups_total``) bind first. ``--time-scale K`` makes
event time run K times as fast as the wall clock, ending at the wall clock (so nothing is
stamped ahead of it), while ``--multiplier`` stays a rate per second of *event* time: the
feed per wall second is K times it. ``--minutes 40 --time-scale 12`` covers 8 h of event
time at 10× the busiest hour, with the 4 h window full before the last third. A failed
memory verdict is reported as measured, not hidden by a looser bound. **Lag bounded**:
after a warm-up (the first 2 minutes, or a tenth of a shorter run), the wall-clock time
since the newest event the engine released was written (the engine's
``phiwatch_lag_seconds``, which is wall clock minus event time, converted back through the
time scale) never above ``--max-lag`` (120 s; the operations guide alerts at 600 s). Exit
status 0 when every verdict holds, 1 otherwise.

Every 30 s it prints one row: elapsed, HIS lines written, flow records sent, events
processed by the engine, alerts stored (rows of ``alerts.db``), lag, the sensor's spool
(batches), the RSS of engine and sensor, and the engine's late and dead-lettered events.

    .venv/bin/python bench/soak.py [--minutes 30] [--multiplier 10] [--folder DIR --keep]
        [--no-restarts] [--preset large|small] [--time-scale K]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import os
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402
import yaml  # noqa: E402
from detection_quality import CACHE, simulated  # noqa: E402

SECRET = "phiwatch-soak-secret-" + "s" * 40
SENSOR = "his-app-01"
#: The NetFlow v5 limits: 30 records a datagram, 24-byte header, 48-byte records.
V5_MAX = 30
V5_HEAD = struct.Struct("!HHIIIIBBH")
V5_RECORD = struct.Struct("!4s4s4sHHIIIIHHBBBBHHBBH")
TCP_FLAGS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64,
             "CWR": 128}
HIS_DATASET = "his.access"


# -- the simulated hospital and its rates ------------------------------------------------------


@dataclass
class Rate:
    """One kind of input of the simulated hospital: its busiest hour and its average."""

    what: str
    busiest: int  # in its busiest hour
    busiest_at: str
    total: int
    seconds: float  # simulated time it covers

    @property
    def peak(self) -> float:
        return self.busiest / 3600.0

    @property
    def average(self) -> float:
        return self.total / self.seconds


def his_files(sim: Path) -> list[Path]:
    return sorted((sim / "his").glob("access-*.log"))


def organization(sim: Path) -> str:
    """The hospital the simulated lines name (``organization.id``): the engine's, and the
    one the sensor's token is for."""
    with open(his_files(sim)[0], "rb") as f:
        return str(orjson.loads(f.readline())["organization"]["id"])


def his_rate(sim: Path) -> Rate:
    """HIS lines per hour of ``@timestamp`` over every simulated day (the hour as the line
    writes it, its own offset: the simulator writes the hospital's local time)."""
    hours: Counter[bytes] = Counter()
    files = his_files(sim)
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                # {"@timestamp":"2026-11-18T08:… — the key is the first field the
                # simulator writes; parse the line when it is not.
                if line.startswith(b'{"@timestamp":"'):
                    hours[line[15:28]] += 1
                else:
                    hours[str(orjson.loads(line)["@timestamp"])[:13].encode()] += 1
    at, busiest = hours.most_common(1)[0]
    return Rate("HIS events", busiest, at.decode(), sum(hours.values()), 86_400.0 * len(files))


@dataclass(frozen=True, slots=True)
class Flow:
    """One simulated flow as a NetFlow exporter would report it: one v5 record for each
    direction that carried packets."""

    start: float
    duration: float
    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    fwd_bytes: int
    fwd_packets: int
    rev_bytes: int
    rev_packets: int
    flags: int

    @property
    def records(self) -> int:
        return 1 + (self.rev_packets > 0)


def simulated_flows(sim: Path) -> list[Flow]:
    """The flows of every day capture, turned into flows once and cached beside the
    simulation (IPv4 only: NetFlow v5 has no IPv6)."""
    cache = CACHE / f"{sim.name}-soak-flows.json"
    if not cache.exists():
        from sensors.flows import FlowReader

        print(f"turning the captures of {sim.name} into flows (once) …", file=sys.stderr)
        rows: list[list[Any]] = []
        for pcap in sorted((sim / "net").glob("capture-*.pcap")):
            for e in FlowReader(pcap, idle_timeout=15.0, active_timeout=30.0, dns=False):
                f = e.fields
                if f.get("event.dataset") != "network.flow" or f.get("network.type") != "ipv4":
                    continue
                proto = int(f.get("network.iana_number", 0))
                flags = sum(TCP_FLAGS.get(n, 0) for n in f.get("phiwatch.flow.tcp_flags", []))
                rows.append([e.epoch, int(f.get("event.duration", 0)) / 1e9, proto,
                             f["source.ip"], int(f.get("source.port", 0)), f["destination.ip"],
                             int(f.get("destination.port", 0)), int(f.get("source.bytes", 0)),
                             int(f.get("source.packets", 0)),
                             int(f.get("destination.bytes", 0)),
                             int(f.get("destination.packets", 0)), flags])
        rows.sort(key=lambda r: float(r[0]))
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(rows))
        tmp.rename(cache)
    return [Flow(*row) for row in orjson.loads(cache.read_bytes())]


def flow_rate(flows: list[Flow], days: int) -> Rate:
    hours: Counter[int] = Counter()
    for fl in flows:
        hours[int(fl.start // 3600)] += fl.records
    at, busiest = hours.most_common(1)[0]
    when = datetime.fromtimestamp(at * 3600, UTC).strftime("%Y-%m-%dT%H UTC")
    return Rate("flow records", busiest, when, sum(hours.values()), 86_400.0 * days)


# -- the feeders -------------------------------------------------------------------------------


class EventClock:
    """The event time the feeders stamp on what they write.

    ``scale`` 1: the wall clock. ``scale`` K > 1 (``--time-scale``): event time runs K
    times as fast as the wall clock and meets it when the feed ends, so M minutes of feed
    cover K·M minutes of event time, all of it in the past (nothing is ahead of the
    engine's wall-clock horizon) and in order. That is how a run of less than an hour
    shows the engine's memory after its longest windows (4 h) have filled."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.end = time.time()

    def begin(self, seconds: float) -> None:
        """The feed starts now and lasts ``seconds``."""
        self.end = time.time() + seconds

    def now(self) -> float:
        wall = time.time()
        if self.scale == 1.0:
            return wall
        return min(wall, self.end - self.scale * (self.end - wall))

    def delay(self, wall: float, lag: float) -> float:
        """How long ago (wall clock) the newest event the engine released was written,
        from the engine's lag (wall clock minus that event's time)."""
        if self.scale == 1.0:
            return lag
        written = self.end - (self.end - (wall - lag)) / self.scale
        return max(0.0, wall - written)


def his_lines(files: list[Path]) -> Iterator[bytes]:
    """The simulated lines in order, again from the first when they run out."""
    while True:
        for path in files:
            with open(path, "rb") as f:
                yield from f


class Paced(threading.Thread):
    """A thread that does ``rate`` things a second, in ticks of 50 ms, until stopped."""

    tick = 0.05

    def __init__(self, name: str, rate: float) -> None:
        super().__init__(name=name, daemon=True)
        self.rate = rate
        self.done = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        start = time.monotonic()
        try:
            while not self.stopping.is_set():
                due = int(self.rate * (time.monotonic() - start)) - self.done
                if due > 0:
                    self.feed(due)
                self.stopping.wait(self.tick)
        except BaseException as e:  # reported by the main thread
            self.error = e
        finally:
            self.close()

    def feed(self, n: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


class HisFeeder(Paced):
    """Appends simulated lines, stamped with the wall clock, round-robin to the logs."""

    def __init__(self, rate: float, files: list[Path], logs: dict[str, Path],
                 clock: EventClock) -> None:
        super().__init__("soak-his", rate)
        self.clock = clock
        self.lines = his_lines(files)
        self.logs = logs
        self.written: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.handles = {k: open(p, "ab") for k, p in logs.items()}  # noqa: SIM115
        self.order = list(logs)

    def feed(self, n: int) -> None:
        order, handles = self.order, self.handles
        with self.lock:
            for _ in range(n):
                doc = orjson.loads(next(self.lines))
                doc["@timestamp"] = datetime.fromtimestamp(self.clock.now(), UTC).isoformat()
                key = order[self.done % len(order)]
                handles[key].write(orjson.dumps(doc) + b"\n")
                self.written[key] += 1
                self.done += 1
            for h in handles.values():
                h.flush()

    def rotate(self, key: str) -> None:
        """Rename rotation: ``access.log`` becomes ``access.log.1``, a new one is begun."""
        path = self.logs[key]
        with self.lock:
            self.handles[key].close()
            os.rename(path, path.with_name(path.name + ".1"))
            self.handles[key] = open(path, "ab")  # noqa: SIM115

    def close(self) -> None:
        with self.lock:
            for h in self.handles.values():
                h.close()


class NetflowFeeder(Paced):
    """Sends the simulated flows as NetFlow v5 records over UDP, times on the wall clock."""

    def __init__(self, rate: float, flows: list[Flow], address: tuple[str, int],
                 clock: EventClock) -> None:
        super().__init__("soak-netflow", rate)
        self.clock = clock
        self.flows = flows
        self.next = 0
        self.pending: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.address = address
        self.datagrams = 0
        self.records = 0
        self.send_errors = 0
        self.epoch = time.monotonic() - 600.0  # the exporter's boot: 10 min before
        #: (records sent while the sensor was down): set and read by the main thread
        self.sensor_down = False
        self.sent_while_down = 0

    def feed(self, n: int) -> None:
        now = self.clock.now()  # the export time; a record ends then
        uptime = int((time.monotonic() - self.epoch) * 1000)
        while len(self.pending) < n:
            fl = self.flows[self.next % len(self.flows)]
            self.next += 1
            first = max(0, uptime - int(fl.duration * 1000))
            self.pending.append(_v5_record(fl.src, fl.dst, fl.sport, fl.dport, fl.proto,
                                           fl.fwd_bytes, fl.fwd_packets, first, uptime,
                                           fl.flags))
            if fl.rev_packets > 0:
                self.pending.append(_v5_record(fl.dst, fl.src, fl.dport, fl.sport, fl.proto,
                                               fl.rev_bytes, fl.rev_packets, first, uptime,
                                               fl.flags))
        records, self.pending = self.pending[:n], self.pending[n:]
        for i in range(0, len(records), V5_MAX):
            chunk = records[i:i + V5_MAX]
            head = V5_HEAD.pack(5, len(chunk), uptime, int(now), int(now % 1 * 1e9),
                                self.records, 0, 0, 0)
            try:
                self.sock.sendto(head + b"".join(chunk), self.address)
            except OSError:
                self.send_errors += 1
            self.datagrams += 1
            self.records += len(chunk)
            if self.sensor_down:
                self.sent_while_down += len(chunk)
        self.done += len(records)

    def close(self) -> None:
        self.sock.close()


def _v5_record(src: str, dst: str, sport: int, dport: int, proto: int, nbytes: int,
               packets: int, first: int, last: int, flags: int) -> bytes:
    return V5_RECORD.pack(socket.inet_aton(src), socket.inet_aton(dst), b"\0\0\0\0", 0, 0,
                          packets, nbytes, first, last, sport, dport, 0, flags, proto, 0,
                          0, 0, 0, 0, 0)


# -- the counting proxy between sensor and engine ------------------------------------------------


class Tap:
    """Forwards the sensor's requests to the engine unchanged; counts, once per (sensor,
    stream, seq), the records of each batch the engine answered 200."""

    def __init__(self, engine_port: int) -> None:
        self.engine_port = engine_port
        self.lock = threading.Lock()
        self.batches: dict[tuple[str, str, int], Counter[str]] = {}
        self.his_ids: Counter[str] = Counter()
        self.refused = 0
        self.unreachable = 0
        tap = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection("127.0.0.1", tap.engine_port, timeout=60)
                try:
                    conn.request("POST", self.path, body=body, headers=headers)
                    r = conn.getresponse()
                    status, answer = r.status, r.read()
                    ctype = r.getheader("Content-Type", "application/json")
                except OSError:
                    with tap.lock:
                        tap.unreachable += 1
                    status, answer, ctype = 502, b'{"detail":"engine unreachable"}', \
                        "application/json"
                finally:
                    conn.close()
                if self.path == "/ingest":
                    tap.count(status, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="soak-tap",
                                       daemon=True)
        self.thread.start()

    def count(self, status: int, body: bytes) -> None:
        if status != 200:
            with self.lock:
                self.refused += status not in (502, 503)
            return
        lines = gzip.decompress(body).splitlines()
        head = orjson.loads(lines[0])
        key = (str(head["sensor"]), str(head["stream"]), int(head["seq"]))
        datasets: Counter[str] = Counter()
        ids: list[str] = []
        for line in lines[1:]:
            rec = orjson.loads(line)
            dataset = str(rec["f"].get("event.dataset"))
            datasets[dataset] += 1
            if dataset == HIS_DATASET:
                ids.append(str(rec.get("i")))
        with self.lock:
            if key not in self.batches:
                self.batches[key] = datasets
                self.his_ids.update(ids)

    def totals(self) -> Counter[str]:
        out: Counter[str] = Counter()
        with self.lock:
            for c in self.batches.values():
                out.update(c)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PHIWATCH_JWT_SECRET": SECRET,
            "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


class Process:
    """One ``phiwatch`` command, its output appended to files in the soak folder."""

    def __init__(self, command: str, config: Path, metrics_port: int) -> None:
        self.command = command
        self.config = config
        self.metrics_port = metrics_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 120.0) -> None:
        folder = self.config.parent
        with open(folder / f"{self.command}.stdout", "ab") as out, \
                open(folder / f"{self.command}.stderr", "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "phiwatch", self.command, "--config", str(self.config)],
                stdout=out, stderr=err, env=child_env(), cwd=folder)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not self.metrics():
            if self.proc.poll() is not None:
                raise RuntimeError(f"phiwatch {self.command} exited with {self.proc.returncode};"
                                   f" see {folder / (self.command + '.stderr')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"phiwatch {self.command} serves no metrics after "
                                   f"{timeout:.0f} s")
            time.sleep(0.2)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> dict[str, float]:
        """The Prometheus text of its ``/metrics``, as {name{labels}: value}; empty when
        it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                        timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[name] = float(value)
        return out

    def rss_mib(self) -> float | None:
        if not self.alive or self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def kill(self) -> None:
        """SIGKILL: no final snapshot, no flush."""
        if self.proc is not None and self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
                return None
        return self.proc.returncode


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


# -- sampling ------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the feed began
    his: int
    flows: int
    events: float | None
    alerts: int | None
    lag: float | None
    spool: float | None
    engine_rss: float | None
    sensor_rss: float | None
    late: float | None
    dead: float | None


def alerts_stored(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM alerts").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return None


def snapshot_counters(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'snapshot'").fetchone()
    finally:
        con.close()
    return dict(orjson.loads(row[0])["counters"]) if row else {}


def dead_letters(folder: Path) -> Counter[tuple[str, str]]:
    """(kind, dataset-ish: 'his' or 'other') of every record in the dead-letter files."""
    out: Counter[tuple[str, str]] = Counter()
    for path in sorted(folder.glob("*.ndjson")) if folder.is_dir() else []:
        for line in path.read_bytes().splitlines():
            if line.strip():
                d = orjson.loads(line)
                out[(str(d.get("kind")), "his" if "access.log" in str(d.get("source"))
                     else "other")] += 1
    return out


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


ROW = ("{:>7} {:>10} {:>9} {:>11} {:>7} {:>7} {:>6} {:>8} {:>8} {:>6} {:>6}")


def print_row(s: Sample) -> None:
    print(ROW.format(f"{s.at / 60:.1f}m", f"{s.his:,}", f"{s.flows:,}", fmt(s.events, ",.0f"),
                     fmt(s.alerts, ","), fmt(s.lag, ".1f"), fmt(s.spool, ".0f"),
                     fmt(s.engine_rss, ".0f"), fmt(s.sensor_rss, ".0f"), fmt(s.late, ".0f"),
                     fmt(s.dead, ".0f")), flush=True)


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


@dataclass
class Thirds:
    values: list[list[float]] = field(default_factory=lambda: [[], [], []])

    @classmethod
    def of(cls, samples: list[Sample], get: Callable[[Sample], float | None], seconds: float,
           warm_up: float) -> Thirds:
        t = cls()
        for s in samples:
            v = get(s)
            if v is not None and s.at >= warm_up:
                t.values[min(2, int(3 * s.at / seconds))].append(v)
        return t

    def medians(self) -> list[float | None]:
        return [median(v) for v in self.values]

    def text(self, spec: str = ".0f") -> str:
        return " / ".join(fmt(m, spec) for m in self.medians())


# -- the soak ------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0,
                    help="how long the feeders run (default 30); then the engine catches "
                         "up and both processes stop")
    ap.add_argument("--multiplier", type=float, default=10.0,
                    help="× the busiest hour of the simulated hospital (default 10)")
    ap.add_argument("--folder", type=Path, default=None,
                    help="where the logs, configurations, state and process output go "
                         "(default: a new temporary folder, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--no-restarts", action="store_true",
                    help="kill nothing (both logs are rotated at half time instead)")
    ap.add_argument("--preset", choices=["large", "small"], default="large",
                    help="the simulated maternity hospital: large (1,500 staff, 7 days, the "
                         "soak's) or small (250 staff, 1 day: a quick smoke run)")
    ap.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    ap.add_argument("--time-scale", type=float, default=1.0, metavar="K",
                    help="event time runs K times as fast as the wall clock and meets it "
                         "when the feed ends (default 1: the wall clock). The multiplier "
                         "stays a rate per second of event time, so the feed per wall "
                         "second is K times it: --minutes 40 --time-scale 12 covers 8 h of "
                         "event time at 10× the busiest hour, past the longest window")
    ap.add_argument("--every", type=float, default=30.0,
                    help="seconds between printed rows (default 30)")
    ap.add_argument("--max-lag", type=float, default=120.0,
                    help="the lag verdict's bound after warm-up, seconds (default 120)")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="at the end, the engine has caught up when its event count has not "
                         "moved for this long and the spool is empty (default 10 s)")
    ap.add_argument("--drain-timeout", type=float, default=900.0,
                    help="at most this long to wait for the engine to catch up (default 900 s)")
    args = ap.parse_args()
    # Stopped early (Ctrl-C, or SIGTERM from a job runner, even when started in the
    # background with SIGINT ignored): unwind, so both processes are stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    days = 7 if args.preset == "large" else 1
    sim = simulated("maternity", args.preset, days, args.seed)
    his = his_rate(sim)
    flows = simulated_flows(sim)
    flow = flow_rate(flows, days)
    if args.time_scale < 1.0:
        ap.error("--time-scale must be at least 1")
    his_feed = args.multiplier * his.peak * args.time_scale
    flow_feed = args.multiplier * flow.peak * args.time_scale
    print(f"simulated {args.preset} maternity hospital ({days} day(s), seed {args.seed}): "
          f"{his.total:,} HIS events, busiest hour {his.busiest_at}h with {his.busiest:,} "
          f"({his.peak:.1f} ev/s; average {his.average:.2f} ev/s); {flow.total:,} NetFlow "
          f"records, busiest hour {flow.busiest_at} with {flow.busiest:,} "
          f"({flow.peak:.2f} records/s; average {flow.average:.2f} records/s)")
    per = "" if args.time_scale == 1.0 else " of event time"
    print(f"HIS fed at {his_feed / args.time_scale:.1f} ev/s{per} = {args.multiplier:g} × the "
          f"busiest hour of the simulated {args.preset} maternity hospital ({his.peak:.1f} "
          f"ev/s; average {his.average:.2f} ev/s)")
    print(f"flows fed at {flow_feed / args.time_scale:.2f} records/s{per} = "
          f"{args.multiplier:g} × its busiest hour ({flow.peak:.2f} records/s; average "
          f"{flow.average:.2f} records/s)", flush=True)
    if args.time_scale != 1.0:
        print(f"event time runs {args.time_scale:g} × the wall clock: {args.minutes:g} min "
              f"cover {args.minutes * args.time_scale / 60:.1f} h of event time, fed at "
              f"{his_feed:.0f} HIS lines and {flow_feed:.0f} flow records per wall second; "
              "lag is given in wall seconds since the newest released event was written",
              flush=True)

    folder = args.folder or Path(tempfile.mkdtemp(prefix="phiwatch-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"soak folder: {folder}", flush=True)
    try:
        return soak(args, folder, sim, his_feed, flow_feed, flows)
    except KeyboardInterrupt:
        print("interrupted: both processes stopped, no verdict", file=sys.stderr)
        return 130
    finally:
        if args.folder is None and not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def soak(args: argparse.Namespace, folder: Path, sim: Path, his_feed: float,
         flow_feed: float, flows: list[Flow]) -> int:
    seconds = args.minutes * 60.0
    logs = {"engine": folder / "engine-host" / "his" / "access.log",
            "sensor": folder / "sensor-host" / "his" / "access.log"}
    for p in logs.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    engine_state, sensor_state = folder / "engine-state", folder / "sensor-state"
    api_port, engine_metrics, sensor_metrics = free_port(), free_port(), free_port()
    netflow_port = free_udp_port()
    network = yaml.safe_load((sim / "net" / "network.yaml").read_text(encoding="utf-8"))
    hospital = organization(sim)
    engine_yaml = write_yaml(folder / "engine.yaml", {
        "organization": {"id": hospital},
        "state_dir": str(engine_state),
        "sources": [{"name": "his", "paths": [str(logs["engine"]) + "*"],
                     "rotate_wait_seconds": 2.0}],
        "network": network["network"],
        "api": {"listen": f"127.0.0.1:{api_port}", "serve_with_run": True},
        "ingest": {"enabled": True},
        "metrics": {"listen": f"127.0.0.1:{engine_metrics}"},
    })
    token = subprocess.run(
        [sys.executable, "-m", "phiwatch", "token", "issue", "--config", str(engine_yaml),
         "--role", "sensor", "--hospital", hospital, "--subject", SENSOR, "--ttl", "1d"],
        check=True, capture_output=True, text=True, env=child_env()).stdout.strip()
    (folder / "sensor.token").write_text(token + "\n", encoding="utf-8")
    engine = Process("run", engine_yaml, engine_metrics)
    engine.start()
    tap = Tap(api_port)
    sensor_yaml = write_yaml(folder / "sensor.yaml", {
        "organization": {"id": hospital},
        "state_dir": str(sensor_state),
        "sources": [{"name": "his", "paths": [str(logs["sensor"]) + "*"],
                     "rotate_wait_seconds": 2.0}],
        "flows": [{"name": "core-router", "netflow": {"host": "127.0.0.1",
                                                      "port": netflow_port}}],
        "sensor": {"name": SENSOR, "engine_url": f"http://127.0.0.1:{tap.port}",
                   "token_file": str(folder / "sensor.token")},
        "metrics": {"listen": f"127.0.0.1:{sensor_metrics}"},
    })
    sensor = Process("sensor", sensor_yaml, sensor_metrics)
    sensor.start()

    clock = EventClock(args.time_scale)
    his_feeder = HisFeeder(his_feed, his_files(sim), logs, clock)
    flow_feeder = NetflowFeeder(flow_feed, flows, ("127.0.0.1", netflow_port), clock)
    # (when, what) in seconds since the feed began
    plan: list[tuple[float, str]] = (
        [(seconds / 2, "rotate engine"), (seconds / 2, "rotate sensor")] if args.no_restarts
        else [(seconds / 3, "kill engine"), (seconds / 3 + 2, "rotate engine"),
              (seconds / 3 + 5, "start engine"), (seconds / 3 + 5, "rotate sensor"),
              (2 * seconds / 3, "kill sensor"), (2 * seconds / 3 + 5, "start sensor")])
    sample_every = max(0.5, min(5.0, seconds / 60))
    samples: list[Sample] = []

    def sample(at: float) -> Sample:
        m, sm = engine.metrics(), sensor.metrics()
        lag = m.get("phiwatch_lag_seconds")
        if lag is not None:
            lag = clock.delay(time.time(), lag)
        dead = sum(v for k, v in m.items() if k.startswith("phiwatch_dead_letters_total"))
        s = Sample(at, his_feeder.done, flow_feeder.records,
                   m.get("phiwatch_events_processed_total"),
                   alerts_stored(engine_state / "alerts.db"), lag,
                   sm.get("phiwatch_sensor_spool_batches"), engine.rss_mib(), sensor.rss_mib(),
                   m.get('phiwatch_dead_letters_total{kind="late"}', 0.0 if m else None),
                   dead if m else None)
        samples.append(s)
        return s

    print(ROW.format("elapsed", "HIS lines", "flow rec", "engine ev", "alerts", "lag s",
                     "spool", "eng MiB", "sen MiB", "late", "dead"), flush=True)
    t0 = time.monotonic()
    clock.begin(seconds)
    his_feeder.start()
    flow_feeder.start()
    next_sample, next_row = 0.0, 0.0
    events: list[str] = []
    down: set[str] = set()  # killed on purpose, not started again yet
    try:
        while (elapsed := time.monotonic() - t0) < seconds:
            while plan and plan[0][0] <= elapsed:
                _, what = plan.pop(0)
                act, which = what.split()
                if act == "kill":
                    (engine if which == "engine" else sensor).kill()
                    down.add(which)
                    flow_feeder.sensor_down = "sensor" in down
                elif act == "start":
                    (engine if which == "engine" else sensor).start()
                    down.discard(which)
                    flow_feeder.sensor_down = "sensor" in down
                else:
                    his_feeder.rotate(which)
                events.append(f"{elapsed / 60:.1f}m {what}")
                print(f"  -- {elapsed / 60:.1f}m: {what}", flush=True)
            for feeder in (his_feeder, flow_feeder):
                if feeder.error is not None:
                    raise RuntimeError(f"the {feeder.name} feeder failed") from feeder.error
            for which, proc in (("engine", engine), ("sensor", sensor)):
                if not proc.alive and which not in down:
                    raise RuntimeError(f"phiwatch {proc.command} died; see its stderr in "
                                       f"{folder}")
            if elapsed >= next_sample:
                s = sample(elapsed)
                next_sample += sample_every
                if elapsed >= next_row:
                    print_row(s)
                    next_row += args.every
            time.sleep(0.1)
        his_feeder.stop()
        flow_feeder.stop()
        fed_for = time.monotonic() - t0
        print_row(sample(fed_for))
        # Catch up: the engine's count still, the spool empty.
        caught_up = drain(engine, sensor, args.settle, args.drain_timeout)
        drained_in = time.monotonic() - t0 - fed_for
        # The sensor first (it cuts and ships its last batch), then the engine.
        sensor_rc = sensor.stop()
        drain(engine, sensor, min(3.0, args.settle), 60.0, sensor_too=False)
        engine_rc = engine.stop()
    finally:
        his_feeder.stopping.set()
        flow_feeder.stopping.set()
        sensor.stop()
        engine.stop()
        tap.close()

    return verdicts(args, folder, seconds, samples, his_feeder, flow_feeder, tap, caught_up,
                    drained_in, engine_rc, sensor_rc, events)


def drain(engine: Process, sensor: Process, settle: float, timeout: float, *,
          sensor_too: bool = True) -> bool:
    """Wait until the engine's event count has not moved for ``settle`` seconds, with
    nothing unread in its logs and (``sensor_too``) the sensor's spool empty. An engine
    that does not answer has not caught up."""
    deadline = time.monotonic() + timeout
    last, since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        m = engine.metrics()
        n = m.get("phiwatch_events_processed_total", -1.0)
        unread = sum(v for k, v in m.items() if k.startswith("phiwatch_source_unread_bytes"))
        spool = sensor.metrics().get("phiwatch_sensor_spool_batches", 1.0) if sensor_too else 0
        if n < 0 or n != last or unread or spool:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= settle:
            return True
        time.sleep(0.5)
    return False


def verdicts(args: argparse.Namespace, folder: Path, seconds: float, samples: list[Sample],
             his_feeder: HisFeeder, flow_feeder: NetflowFeeder, tap: Tap, caught_up: bool,
             drained_in: float, engine_rc: int | None, sensor_rc: int | None,
             events: list[str]) -> int:
    engine_state, sensor_state = folder / "engine-state", folder / "sensor-state"
    counters = snapshot_counters(engine_state / "state.db")
    processed = int(counters.get("events", 0))
    alerts = alerts_stored(engine_state / "alerts.db") or 0
    local, remote = his_feeder.written["engine"], his_feeder.written["sensor"]
    acked = tap.totals()
    acked_his = acked.get(HIS_DATASET, 0)
    acked_other = sum(acked.values()) - acked_his
    doubled_ids = sum(n - 1 for n in tap.his_ids.values() if n > 1)
    his_processed = processed - acked_other
    dead = dead_letters(engine_state / "dead-letter")
    dead_his = sum(n for (_, what), n in dead.items() if what == "his")
    con = sqlite3.connect(sensor_state / "sensor-spool.db")
    try:
        spool_left = int(con.execute("SELECT count(*) FROM batches").fetchone()[0])
    finally:
        con.close()
    warm_up = min(120.0, seconds / 10)
    lag = Thirds.of(samples, lambda s: s.lag, seconds, warm_up)
    lags = [v for third in lag.values for v in third]
    eng = Thirds.of(samples, lambda s: s.engine_rss, seconds, warm_up)
    sen = Thirds.of(samples, lambda s: s.sensor_rss, seconds, warm_up)
    eng_medians = eng.medians()
    ratio = (eng_medians[2] / eng_medians[1]
             if eng_medians[1] and eng_medians[2] is not None else None)

    print()
    print(f"events in: {local + remote:,} HIS lines written ({local:,} to the engine's host, "
          f"{remote:,} to the sensor's; at {his_feeder.done / seconds:.1f} ev/s), "
          f"{flow_feeder.records:,} NetFlow records sent in {flow_feeder.datagrams:,} "
          f"datagrams (send errors {flow_feeder.send_errors})")
    print(f"engine: {processed:,} events processed, {counters.get('late', 0):,} late, "
          f"{alerts:,} alerts stored ({counters.get('alerts_raised', 0):,} raised, every "
          f"version); caught up {drained_in:.0f} s after the feed stopped"
          + ("" if caught_up else " (NOT caught up within --drain-timeout)")
          + f"; exit codes engine {engine_rc}, sensor {sensor_rc}")
    print(f"timeline: {', '.join(events) or 'no restarts, no rotations'}")
    print(f"lag after warm-up ({warm_up:.0f} s): median {fmt(median(lags), '.1f')} s, max "
          f"{fmt(max(lags) if lags else None, '.1f')} s; medians by third {lag.text('.1f')} s")
    print(f"engine RSS (MiB, medians by third): {eng.text()}; last/second third "
          f"{fmt(ratio, '.3f')}")
    print(f"sensor RSS (MiB, medians by third): {sen.text()}")
    print(f"dead letters at the engine: {dict(sorted(dead.items())) or 'none'}; spool left "
          f"{spool_left} batch(es); batches refused {tap.refused}, sends the engine did not "
          f"answer {tap.unreachable}")
    print(f"HIS accounting: engine processed {processed:,} = {his_processed:,} HIS + "
          f"{acked_other:,} sensor flows ({dict(acked)} acknowledged in {len(tap.batches):,} "
          f"batches); HIS lines written {local + remote:,}: "
          + ("exact" if his_processed == local + remote else
             f"MISMATCH by {his_processed - (local + remote):+,}")
          + f"; the sensor's HIS {acked_his:,} acknowledged vs {remote:,} written, "
          f"{doubled_ids} doubled")
    received = acked.get("network.flow", 0)
    print(f"flow records: {flow_feeder.records:,} sent, {received:,} received and delivered "
          f"to the engine ({100 * received / max(1, flow_feeder.records):.2f} %); "
          f"{flow_feeder.sent_while_down:,} sent while the sensor was down")

    checks = {
        "HIS accounting exact (nothing lost, nothing doubled)":
            his_processed == local + remote and acked_his == remote and doubled_ids == 0,
        "no HIS line late or dead-lettered": dead_his == 0,
        "caught up, spool empty, no batch refused, clean exits":
            caught_up and spool_left == 0 and tap.refused == 0 and engine_rc == 0
            and sensor_rc == 0,
        f"memory flat (engine last third ≤ 1.10 × second third; {fmt(ratio, '.3f')})":
            ratio is not None and ratio <= 1.10,
        f"lag bounded (max ≤ {args.max_lag:g} s after warm-up)":
            bool(lags) and max(lags) <= args.max_lag,
    }
    print("verdicts:")
    for what, ok in checks.items():
        print(f"  {'holds' if ok else 'FAILS'}: {what}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
