"""How long from a log line being written to its alert being stored, with `phiwatch run` live.

Starts `phiwatch run` on an empty log in a temporary folder, then appends ordinary HIS
access lines at a steady rate with, every so often, one bulk export (which the shipped
rule `phiwatch-his-bulk-export` alerts on at once). A reader polls the SQLite store and
notes when each export's alert appears. Prints p50/p99/max.

Peer, on the same lines in the same run: `tail -F FILE | grep --line-buffered`, the
simplest live watcher there is; the ratio says what phiwatch's parsing, rules and
committed store write cost on top of merely noticing the line.

    .venv/bin/python bench/his_latency.py [--alerts 200] [--rate 500]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def line(i: int, export: bool) -> bytes:
    now = datetime.now(UTC).isoformat()
    doc = {
        "@timestamp": now,
        "event": {"action": "export" if export else "view", "outcome": "success"},
        "user": {"id": f"nv{i % 97:05d}", "name": "Nguyễn Thị Lan", "roles": ["billing_clerk"],
                 "department": "tai-chinh"},
        "source": {"ip": "10.20.3.45"},
        "host": {"name": "WS-TC-01"},
        "patient": {"id": f"BN2026{i:06d}"},
        "his": {"module": "billing", "record_count": 2500 if export else 1},
        "bench": {"seq": i},
    }
    return orjson.dumps(doc) + b"\n"


def write_stream(log: Path, alerts: int, rate: float, written: dict[int, float]) -> None:
    """Append 20 ordinary lines then one export, ``alerts`` times, at ``rate`` lines/s.

    ``written`` gets each export's line number (one line per event) and write time.
    """
    gap = 1.0 / rate
    n = 0
    with open(log, "ab", buffering=0) as f:
        for _ in range(alerts):
            for _ in range(20):
                n += 1
                f.write(line(n, export=False))
                time.sleep(gap)
            n += 1
            written[n] = time.perf_counter()
            f.write(line(n, export=True))
            time.sleep(gap)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure_phiwatch(folder: Path, alerts: int, rate: float) -> list[float]:
    log = folder / "his" / "access.log"
    log.parent.mkdir(parents=True)
    log.touch()
    config = folder / "phiwatch.yaml"
    config.write_text(
        "state_dir: var\n"
        "sources:\n  - name: his\n    paths: [his/*.log]\n"
        "pipeline: {poll_interval_seconds: 0.25, snapshot_interval_seconds: 5}\n"
    )
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "phiwatch"), "run", "--config", str(config)],
        stderr=subprocess.DEVNULL,
    )
    db_path = folder / "var" / "alerts.db"
    written: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def reader() -> None:
        while not db_path.exists() and not done.is_set():
            time.sleep(0.01)
        db = sqlite3.connect(db_path, timeout=30)
        while not done.is_set() or not written.keys() <= seen.keys():
            rows = db.execute("SELECT doc FROM alerts WHERE rule_id = 'phiwatch-his-bulk-export'")
            for (doc,) in rows:
                a = orjson.loads(doc)
                seq = int(a["first_event"]["ref"].rsplit(":", 1)[1])
                if seq not in seen:
                    seen[seq] = time.perf_counter()
            if done.is_set() and time.perf_counter() - last_write > 10:
                break
            time.sleep(0.005)

    time.sleep(2.0)  # let it start and watch the folder
    last_write = time.perf_counter()
    t = threading.Thread(target=reader)
    t.start()
    write_stream(log, alerts, rate, written)
    last_write = time.perf_counter()
    done.set()
    t.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    MISSING.extend(k for k in written if k not in seen)
    return [seen[k] - written[k] for k in written if k in seen]


MISSING: list[int] = []


def measure_tail_grep(folder: Path, alerts: int, rate: float) -> list[float]:
    log = folder / "peer.log"
    log.touch()
    proc = subprocess.Popen(
        f"tail -n0 -F {log} | grep --line-buffered '\"export\"'",
        shell=True, stdout=subprocess.PIPE, start_new_session=True,
    )
    assert proc.stdout is not None
    written: dict[int, float] = {}
    seen: dict[int, float] = {}

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            seq = orjson.loads(raw)["bench"]["seq"]
            seen[seq] = time.perf_counter()
            if len(seen) == alerts:
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(1.0)
    write_stream(log, alerts, rate, written)
    t.join(timeout=10)
    os.killpg(proc.pid, signal.SIGTERM)
    return [seen[k] - written[k] for k in written if k in seen]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=200, help="export lines to time")
    ap.add_argument("--rate", type=float, default=500.0, help="lines written per second")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="phiwatch-latency-") as tmp:
        ours = measure_phiwatch(Path(tmp), args.alerts, args.rate)
        peer = measure_tail_grep(Path(tmp), args.alerts, args.rate)
    if len(ours) < args.alerts:
        print(f"phiwatch stored {len(ours)} of {args.alerts} alerts; missing lines "
              f"{MISSING}", file=sys.stderr)
        return 1
    p50, p99 = statistics.median(ours), percentile(ours, 0.99)
    q50, q99 = statistics.median(peer), percentile(peer, 0.99)
    print(f"phiwatch run: line written -> alert stored, {len(ours)} alerts at "
          f"{args.rate:g} lines/s: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {max(ours) * 1000:.0f} ms")
    print(f"peer tail -F | grep: line written -> line seen: p50 {q50 * 1000:.1f} ms, "
          f"p99 {q99 * 1000:.1f} ms")
    print(f"ratio (phiwatch p99 / peer p99): {p99 / q99:.1f}x; target p99 < 1000 ms: "
          f"{'met' if p99 < 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
