"""A remote sensor and the engine as real processes over real HTTP: the engine killed
with SIGKILL while the sensor ships, the sensor killed while it reads, and every line is
processed exactly once with exactly the alerts of a local run of the same log.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml
from remotekit import ENV, engine_config, token
from runkit import RunningPhiwatch, hospital_lines, write_config

N = 16_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored_alerts(db: Path) -> dict[str, tuple[object, ...]]:
    con = sqlite3.connect(db)
    out: dict[str, tuple[object, ...]] = {}
    for (doc,) in con.execute("SELECT doc FROM alerts"):
        a = orjson.loads(doc)
        out[a["id"]] = (a["rule_id"], a["event_count"], a["value_count"], a["window_start"])
    con.close()
    return out


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, command: str, config: Path) -> subprocess.Popen[bytes]:
        with open(config.with_suffix(".stderr"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "phiwatch", command, "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **ENV})
        self.started.append(proc)
        return proc


@pytest.fixture
def processes() -> Iterator[Processes]:
    p = Processes()
    yield p
    for proc in p.started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _sensor_config(folder: Path, port: int, tok: str) -> Path:
    (folder / "sensor.token").write_text(tok, encoding="utf-8")
    path = folder / "sensor.yaml"
    path.write_text(yaml.safe_dump({
        "state_dir": "sensor",
        "sources": [{"name": "his", "paths": ["his/*.log"]}],
        "pipeline": {"poll_interval_seconds": 0.05, "scan_interval_seconds": 0.2},
        "sensor": {"name": "his-app-01", "engine_url": f"http://127.0.0.1:{port}",
                   "token_file": "sensor.token", "batch_max_events": 400,
                   "batch_max_seconds": 0.2, "heartbeat_seconds": 0.5},
    }), encoding="utf-8")
    return path


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.mark.timeout(300)
def test_killing_engine_and_sensor_processes_every_event_exactly_once(
        tmp_path: Path, processes: Processes) -> None:
    lines = hospital_lines(N, seed=5)
    (tmp_path / "his").mkdir()
    log = tmp_path / "his" / "access.log"
    log.write_bytes(b"".join(lines))
    local = RunningPhiwatch(processes.start("run", write_config(tmp_path, "local")),
                            tmp_path / "local")
    local.wait_for(lambda c: c.get("events", 0) >= N)
    assert local.stop() == 0
    expected = stored_alerts(tmp_path / "local" / "alerts.db")
    assert expected

    # The sensor's host has the log as it grows: a third of it now.
    third = N // 3
    remote = tmp_path / "remote"
    (remote / "his").mkdir(parents=True)
    rlog = remote / "his" / "access.log"
    rlog.write_bytes(b"".join(lines[:third]))
    port = free_port()
    config = engine_config(remote, extra={
        "api": {"listen": f"127.0.0.1:{port}", "serve_with_run": True},
        "pipeline": {"snapshot_interval_seconds": 0.05, "poll_interval_seconds": 0.05,
                     "batch_size": 200}})
    engine_yaml = remote / "engine.yaml"
    engine = RunningPhiwatch(processes.start("run", engine_yaml), remote / "engine")
    sensor_yaml = _sensor_config(remote, port, token(config, "sensor", hospital="bv-test"))
    sensor = processes.start("sensor", sensor_yaml)

    # The engine dies mid-stream; the next third is written while it is away: the sensor
    # reads it into its spool and keeps retrying.
    engine.wait_for(lambda c: c.get("events", 0) >= third // 2)
    engine.kill()
    with open(rlog, "ab") as f:
        f.write(b"".join(lines[third:2 * third]))
    deadline = time.monotonic() + 60
    while b"cannot be reached" not in sensor_yaml.with_suffix(".stderr").read_bytes():
        assert time.monotonic() < deadline, "the sensor never found the engine away"
        time.sleep(0.05)
    engine = RunningPhiwatch(processes.start("run", engine_yaml), remote / "engine")
    engine.wait_for(lambda c: c.get("events", 0) >= 2 * third)

    # The rest of the log is written; the sensor is killed while it reads it.
    with open(rlog, "ab") as f:
        f.write(b"".join(lines[2 * third:]))
    time.sleep(0.3)
    _kill(sensor)
    sensor = processes.start("sensor", sensor_yaml)
    engine.wait_for(lambda c: c.get("events", 0) >= N)
    time.sleep(1.0)  # anything doubled would arrive now
    assert _stop(sensor) == 0
    assert engine.stop() == 0
    counters = engine.counters()
    assert counters["events"] == N  # nothing lost, nothing counted twice
    assert counters.get("late", 0) == 0
    assert stored_alerts(remote / "engine" / "alerts.db") == expected
    spool = sqlite3.connect(remote / "sensor" / "sensor-spool.db")
    assert spool.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
