"""Adversarial cases of the reliability review: does a wrong clock, a backlog, two logs,
buffered delivery or a flood cost any alert, or unbounded memory?

On one simulated hospital day (``phiwatch simulate``, small preset), it prints the alerts
of the clean log and of each case, and whether they are the same alerts (same ids):

- **2030 line**: one valid line dated 2030-01-01 inserted at 30 % of the day (replay);
- **two files**: the day split into two logs written in turn, read by ``run`` from their
  beginnings;
- **rotation backlog**: ``run`` stopped at 70 %, 4,000 more lines written and the file
  rotated while it is down, then restarted;
- **buffered delivery**: ``run`` fed in batches every ``--batch-interval`` seconds of
  wall clock (90 by default, as a night shipper does), stamped at the wall clock;

then the flood: 300,000 failed logins with distinct user names in 5 minutes, through
``phiwatch run`` in a child process, with its peak RSS and its snapshot's size, and a
60,000-attempt brute force on one account with its CPU time.

    .venv/bin/python bench/adversarial.py [--batch-interval 90] [--skip-buffered]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from alerting.sqlite_store import SQLiteAlertStore  # noqa: E402
from alerting.store import AlertQuery  # noqa: E402
from phiwatch.config import Config, load_config  # noqa: E402
from phiwatch.replay import replay  # noqa: E402
from phiwatch.runner import Runner  # noqa: E402


def config(state: Path, logs: Path, **pipeline: float) -> Config:
    return load_config(None, {
        "state_dir": str(state),
        "sources": [{"name": "his", "paths": [str(logs / "access*.log*")],
                     "rotate_wait_seconds": 0.5}],
        "pipeline": {"snapshot_interval_seconds": 1.0, "poll_interval_seconds": 0.05,
                     **pipeline},
    })


def alert_ids(cfg: Config) -> set[str]:
    store = SQLiteAlertStore(cfg.sqlite_path)
    ids = {a.id for a in store.query(AlertQuery(limit=10_000))}
    store.close()
    return ids


def run_until_quiet(cfg: Config, quiet: float = 3.0) -> Runner:
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    last, since = -1, time.monotonic()
    while True:
        n = runner.processor.counters["events"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > quiet:
            break
        time.sleep(0.1)
    stop.set()
    runner.wake()
    thread.join()
    store.close()
    return runner


def report(name: str, clean: set[str], got: set[str], late: int, extra: str = "") -> bool:
    same = got == clean
    print(f"  {name:<18} {len(got):>4} alerts  {'same as clean' if same else 'DIFFERENT'}"
          f"  (missing {len(clean - got)}, extra {len(got - clean)}, late events {late})"
          + (f"  {extra}" if extra else ""))
    return same


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-interval", type=float, default=90.0)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--skip-buffered", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="phiwatch-adversarial-"))
    ok = True
    try:
        subprocess.run([sys.executable, "-m", "phiwatch", "simulate", "--out", str(work / "sim"),
                        "--days", "1", "--seed", "5", "--no-pcap"], check=True,
                       capture_output=True)
        day = sorted((work / "sim" / "his").glob("*.log"))[0]
        lines = day.read_bytes().splitlines(keepends=True)
        print(f"one simulated day: {len(lines):,} HIS events")

        (work / "clean").mkdir()
        clean_cfg = config(work / "s-clean", work / "clean")
        store = SQLiteAlertStore(clean_cfg.sqlite_path)
        replay(clean_cfg, [day], store)
        store.close()
        clean = alert_ids(clean_cfg)
        print(f"  {'clean log':<18} {len(clean):>4} alerts")

        # One valid line dated 2030 at 30 %.
        poisoned = work / "poisoned"
        poisoned.mkdir()
        at = len(lines) * 3 // 10
        doc = orjson.loads(lines[at])
        doc["@timestamp"] = "2030-01-01T00:00:00+07:00"
        (poisoned / "access.log").write_bytes(
            b"".join([*lines[:at], orjson.dumps(doc) + b"\n", *lines[at:]]))
        cfg = config(work / "s-2030", poisoned)
        store = SQLiteAlertStore(cfg.sqlite_path)
        r = replay(cfg, [poisoned / "access.log"], store)
        store.close()
        ok &= report("2030 line", clean, alert_ids(cfg), r.dead_letters.get("late", 0),
                     f"quarantined {r.quarantined}")

        # Two logs written in turn, read by run from their beginnings.
        two = work / "two"
        two.mkdir()
        (two / "access-a.log").write_bytes(b"".join(lines[0::2]))
        (two / "access-b.log").write_bytes(b"".join(lines[1::2]))
        cfg = config(work / "s-two", two)
        runner = run_until_quiet(cfg)
        ok &= report("two files (run)", clean, alert_ids(cfg),
                     runner.processor.counters["late"])

        # A rotation backlog written while run is stopped.
        rot = work / "rot"
        rot.mkdir()
        cut = len(lines) * 7 // 10
        (rot / "access.log").write_bytes(b"".join(lines[:cut]))
        cfg = config(work / "s-rot", rot)
        run_until_quiet(cfg)
        with open(rot / "access.log", "ab") as f:
            f.write(b"".join(lines[cut:cut + 4000]))
        os.rename(rot / "access.log", rot / "access.log.1")
        (rot / "access.log").write_bytes(b"".join(lines[cut + 4000:]))
        runner = run_until_quiet(cfg)
        ok &= report("rotation backlog", clean, alert_ids(cfg),
                     runner.processor.counters["late"])

        if not args.skip_buffered:
            ok &= buffered(work, args.batch_interval, args.batches)
        flood(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def buffered(work: Path, interval: float, batches: int) -> bool:
    """A shipper that writes every ``interval`` seconds what was logged in between."""
    logs = work / "buffered"
    logs.mkdir()
    cfg = config(work / "s-buf", logs)
    reference = work / "buffered-ref"
    reference.mkdir()
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    written: list[bytes] = []
    for b in range(batches):
        start = datetime.now(UTC)
        time.sleep(interval)
        # 40 users at work, and one harvesting: 150 distinct patients a batch, so the bulk
        # lookup must fire across batches that arrive 90 s apart.
        batch = [orjson.dumps({
            "@timestamp": (start + timedelta(seconds=interval * i / 300)).isoformat(),
            "event": {"action": "view"},
            "user": {"id": "nv99999" if i % 2 else f"nv{i % 40:05d}"},
            "patient": {"id": f"BN{b:02d}{i:05d}"}, "source": {"ip": "10.20.3.4"},
        }) + b"\n" for i in range(300)]
        with open(logs / "access.log", "ab") as f:
            f.write(b"".join(batch))
        written.extend(batch)
    time.sleep(3)
    stop.set()
    runner.wake()
    thread.join()
    store.close()
    got = alert_ids(cfg)
    (reference / "access.log").write_bytes(b"".join(written))
    ref_cfg = config(work / "s-buf-ref", reference)
    store = SQLiteAlertStore(ref_cfg.sqlite_path)
    replay(ref_cfg, [reference / "access.log"], store)
    store.close()
    late = runner.processor.counters["late"]
    same = report(f"buffered ({interval:g} s)", alert_ids(ref_cfg), got, late,
                  f"events {runner.processor.counters['events']}/{len(written)}")
    return same and late == 0 and runner.processor.counters["events"] == len(written)


def flood(work: Path) -> None:
    """300,000 failed logins with distinct user names in 5 minutes through ``run``."""
    logs = work / "flood"
    logs.mkdir()
    t0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    with open(logs / "access.log", "wb") as f:
        for i in range(300_000):
            f.write(orjson.dumps({
                "@timestamp": (t0 + timedelta(microseconds=1000 * i)).isoformat(),
                "event": {"action": "login_failed", "outcome": "failure"},
                "user": {"id": f"x{i:07d}"}, "source": {"ip": "203.0.113.9"}}) + b"\n")
    state = work / "s-flood"
    cfg_path = work / "flood.yaml"
    cfg_path.write_text(f"state_dir: {state}\nsources:\n  - paths: ['{logs}/*.log']\n"
                        "pipeline: {snapshot_interval_seconds: 1}\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "phiwatch", "run", "--config", str(cfg_path)],
                            stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while time.monotonic() - started < 600:
        time.sleep(1)
        try:
            import sqlite3
            con = sqlite3.connect(f"file:{state / 'state.db'}?mode=ro", uri=True)
            row = con.execute("SELECT value FROM meta WHERE key='snapshot'").fetchone()
            con.close()
            if row and orjson.loads(row[0])["counters"].get("events", 0) >= 300_000:
                break
        except Exception:  # the database is not there yet
            continue
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = after.ru_maxrss / 1024
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    size = sum(p.stat().st_size for p in state.glob("state.db*")) / 1e6
    store = SQLiteAlertStore(state / "alerts.db")
    limits = [a for a in store.query(AlertQuery(limit=100))
              if a.rule_id == "phiwatch-engine-state-limit"]
    store.close()
    print(f"  flood: 300,000 failed logins, distinct users, 5 min: peak RSS {rss_mb:,.0f} MiB, "
          f"snapshot {size:,.1f} MB, CPU {cpu:,.1f} s, state-limit alerts {len(limits)}")

    # 60,000 attempts on one account: linear, not quadratic.
    one = work / "one"
    one.mkdir()
    with open(one / "access.log", "wb") as f:
        for i in range(60_000):
            f.write(orjson.dumps({
                "@timestamp": (t0 + timedelta(milliseconds=10 * i)).isoformat(),
                "event": {"action": "login_failed", "outcome": "failure"},
                "user": {"id": "nv00042"}, "source": {"ip": "203.0.113.9"}}) + b"\n")
    cfg = config(work / "s-one", one)
    store = SQLiteAlertStore(cfg.sqlite_path)
    started_cpu = time.process_time()
    replay(cfg, [one / "access.log"], store)
    store.close()
    cpu = time.process_time() - started_cpu
    print(f"  brute force: 60,000 attempts on one account replayed in {cpu:.1f} s CPU "
          f"({60_000 / cpu:,.0f} events/s)")


if __name__ == "__main__":
    sys.exit(main())
