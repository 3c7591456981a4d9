"""Test kit for end-to-end tests: HIS log lines with incidents, and a `phiwatch run` process."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.config import Config
from phiwatch.runner import Runner

BASE = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def his_line(t: datetime, user: str, action: str, patient: int | None, count: int = 1) -> bytes:
    doc: dict[str, object] = {
        "@timestamp": t.isoformat(),
        "event": {
            "action": action,
            "outcome": "failure" if action == "login_failed" else "success",
        },
        "user": {"id": user, "name": "Trần Văn Bình", "roles": ["nurse"], "department": "san-a"},
        "source": {"ip": f"10.20.3.{int(user[-2:]) % 250}"},
        "host": {"name": f"WS-{user.upper()}"},
        "his": {"module": "emr", "record_count": count},
        "organization": {"id": "bv-test"},
    }
    if patient is not None:
        doc["patient"] = {"id": f"BN2026{patient:06d}"}
    return orjson.dumps(doc) + b"\n"


def hospital_lines(n: int, seed: int = 1) -> list[bytes]:
    """``n`` lines of ordinary traffic with a harvest, a scraper, an export and a brute force.

    Times increase monotonically (one file written by one HIS server).
    """
    rng = random.Random(seed)
    out: list[bytes] = []
    t = BASE
    incidents = {n // 5: "harvest", 2 * n // 5: "scrape", 3 * n // 5: "export", 4 * n // 5: "brute"}
    i = 0
    while len(out) < n:
        kind = incidents.get(i)
        i += 1
        if kind == "harvest":
            for k in range(160):  # 160 distinct patients in 40 minutes
                t += timedelta(seconds=15)
                out.append(his_line(t, "nv00066", "view", 500_000 + k))
        elif kind == "scrape":
            for k in range(120):  # two views a second
                t += timedelta(milliseconds=500)
                out.append(his_line(t, "nv00077", "view", 600_000 + k))
        elif kind == "export":
            t += timedelta(seconds=1)
            out.append(his_line(t, "nv00088", "export", None, count=3000))
        elif kind == "brute":
            for _ in range(25):
                t += timedelta(seconds=3)
                out.append(his_line(t, "nv00099", "login_failed", None))
            out.append(his_line(t + timedelta(seconds=2), "nv00099", "login", None))
        else:
            t += timedelta(milliseconds=rng.randint(50, 400))
            user = f"nv{rng.randint(1, 60):05d}"
            out.append(his_line(t, user, rng.choice(["view", "view", "search", "update"]),
                                rng.randint(1, 3000)))
    return out


@dataclass
class RunningPhiwatch:
    proc: subprocess.Popen[bytes]
    state: Path

    def counters(self) -> dict[str, int]:
        try:
            con = sqlite3.connect(f"file:{self.state / 'state.db'}?mode=ro", uri=True,
                                  timeout=5)
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'snapshot'").fetchone()
            finally:
                con.close()
            return dict(orjson.loads(row[0])["counters"]) if row else {}
        except (sqlite3.Error, orjson.JSONDecodeError, KeyError):
            return {}

    def wait_for(self, pred: Callable[[dict[str, int]], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.counters()):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"phiwatch run exited early with {self.proc.returncode}")
            time.sleep(0.005)
        raise AssertionError(f"timed out; counters {self.counters()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def write_config(folder: Path, state: str, *, extra: str = "") -> Path:
    cfg = folder / f"{state}.yaml"
    cfg.write_text(
        f"state_dir: {state}\n"
        "sources:\n  - name: his\n    paths: [his/*.log]\n    rotate_wait_seconds: 0.5\n"
        "pipeline:\n  snapshot_interval_seconds: 0.05\n  scan_interval_seconds: 0.2\n"
        "  poll_interval_seconds: 0.05\n  batch_size: 200\n" + extra,
        encoding="utf-8",
    )
    return cfg


def run_until_idle(cfg: Config, settle: float = 1.5) -> Runner:
    """``phiwatch run``'s loop in a thread until nothing has been processed (or found
    late) for ``settle`` seconds, then stopped as SIGTERM would; the runner is returned
    for its counters."""
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        n = runner.processor.counters["events"] + runner.processor.counters["late"]
        if n != last:
            last, quiet_since = n, time.monotonic()
        elif time.monotonic() - quiet_since > settle:
            break
        time.sleep(0.05)
    stop.set()
    runner.wake()
    thread.join(60)
    store.close()
    return runner
