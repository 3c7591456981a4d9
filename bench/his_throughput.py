"""Replay throughput: simulated HIS events through the shipped rule pack into the SQLite store.

Simulates (once, cached) a large hospital until there are at least ``--events`` events,
then times `phiwatch replay`'s pipeline on them in this process: parsing, rule matching,
windowed correlations and alert writes. Prints events/s and the peak resident memory.

Peer, on the same files in the same run: `jq -c` with the bulk-export rule as a filter
(one stateless rule, no windows, no store) — what a hospital IT engineer would reach for
first. The ratio says how phiwatch's whole pipeline compares with that one-liner.

    .venv/bin/python bench/his_throughput.py [--events 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerting.sqlite_store import SQLiteAlertStore  # noqa: E402
from alerting.store import AlertQuery  # noqa: E402
from phiwatch.config import SourceConfig, load_config  # noqa: E402
from phiwatch.demo import simulated_context  # noqa: E402
from phiwatch.replay import replay  # noqa: E402
from sensors.context import ContextConfig  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "phiwatch-bench-cache"


def simulated_logs(events: int, seed: int) -> list[Path]:
    """Log files holding at least ``events`` lines, simulated once and cached."""
    days = max(1, -(-events // 300_000))
    folder = CACHE / f"large-{days}d-seed{seed}"
    logs = sorted((folder / "his").glob("*.log"))
    if not logs:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"simulating {days} day(s) of a 1,500-staff hospital into {folder} …",
              file=sys.stderr)
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "phiwatch"), "simulate", "--preset", "large",
             "--days", str(days), "--seed", str(seed), "--out", str(folder)],
            check=True,
        )
        logs = sorted((folder / "his").glob("*.log"))
    return logs


def count_lines(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return total


def run_peer(paths: list[Path]) -> tuple[str, float, float] | None:
    """The peer's wall time and CPU time (of the child), on the same files."""
    jq = shutil.which("jq")
    if jq is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [jq, "-c", 'select(.event.action=="export" and .his.record_count>=500)', *map(str, paths)],
        check=True, stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return "jq (bulk-export rule only)", wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--context", action="store_true",
                    help="also enrich every event from the simulated hospital's context files "
                         "(roster, encounters, flagged patients, workstations, patients)")
    args = ap.parse_args()
    logs = simulated_logs(args.events, args.seed)
    lines = count_lines(logs)
    size = sum(p.stat().st_size for p in logs)
    with tempfile.TemporaryDirectory(prefix="phiwatch-bench-") as tmp:
        update: dict[str, object] = {
            "state_dir": Path(tmp),
            "sources": [SourceConfig(paths=[str(p) for p in logs])],
        }
        if args.context:
            update["context"] = ContextConfig.model_validate(
                simulated_context(logs[0].parent.parent))
        cfg = load_config(None).model_copy(update=update)
        store = SQLiteAlertStore(Path(tmp) / "alerts.db")
        start, cpu_start = time.perf_counter(), time.process_time()
        report = replay(cfg, logs, store)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        stored = store.count(AlertQuery())
        store.close()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.events / elapsed
    cpu_rate = report.events / cpu
    print(f"phiwatch replay{' with context files' if args.context else ''}: "
          f"{report.events:,} events ({size / 1e6:.0f} MB, {len(logs)} files) "
          f"in {elapsed:.1f} s wall = {rate:,.0f} events/s; {cpu:.1f} s CPU = "
          f"{cpu_rate:,.0f} events/s per core; peak RSS {rss_mib:.0f} MiB; "
          f"{stored} alerts stored; dead letters {report.dead_letters or 'none'}")
    peer = run_peer(logs)
    if peer is not None:
        name, seconds, peer_cpu = peer
        peer_rate = lines / seconds
        print(f"peer {name}: {lines:,} lines in {seconds:.1f} s wall = {peer_rate:,.0f} "
              f"lines/s; {peer_cpu:.1f} s CPU = {lines / peer_cpu:,.0f} lines/s per core")
        print(f"ratio phiwatch/peer: {rate / peer_rate:.2f}x wall, "
              f"{cpu_rate / (lines / peer_cpu):.2f}x per core")
    print(f"target >= 50,000 events/s on one core: {'met' if cpu_rate >= 50_000 else 'NOT met'}"
          f" ({cpu_rate:,.0f} per CPU-second; wall clock is shared with other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
