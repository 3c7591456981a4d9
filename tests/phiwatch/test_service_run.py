"""``phiwatch run`` as one service: SIGHUP reloads the configuration in place (a broken
edit keeps the running one), rules switched off through the API stop alerting, the API
is served by the same process, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import orjson
from runkit import BASE, his_line

from phiwatch.rules_state import set_enabled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _counters(state: Path) -> dict[str, int]:
    try:
        con = sqlite3.connect(f"file:{state / 'state.db'}?mode=ro", uri=True, timeout=5)
        row = con.execute("SELECT value FROM meta WHERE key = 'snapshot'").fetchone()
        con.close()
        return dict(orjson.loads(row[0])["counters"]) if row else {}
    except sqlite3.Error:
        return {}


def _wait(pred, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        assert proc.poll() is None, f"phiwatch run exited with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError("timed out")


def _config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "phiwatch.yaml"
    cfg.write_text("state_dir: state\nsources:\n  - paths: [logs/*.log]\n"
                   "pipeline: {snapshot_interval_seconds: 0.1, poll_interval_seconds: 0.05}\n"
                   + extra, encoding="utf-8")
    return cfg


def _start(cfg: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = open(cfg.with_suffix(".stderr"), "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "phiwatch", "run", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, **(env or {})})


def test_sighup_reloads_and_a_broken_edit_keeps_the_running_configuration(
        tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_bytes(his_line(BASE, "nv00001", "view", 1))
    cfg = _config(tmp_path)
    proc = _start(cfg)
    try:
        _wait(lambda: _counters(tmp_path / "state").get("events", 0) >= 1, proc)
        cfg.write_text(cfg.read_text() + "context:\n  vocabulary: {roles: {'bảo vệ': desk}}\n",
                       encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: _counters(tmp_path / "state").get("config_reloads", 0) >= 1, proc)
        cfg.write_text(cfg.read_text() + "pipeline: [broken\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        with open(tmp_path / "logs" / "a.log", "ab") as f:
            f.write(his_line(BASE + timedelta(seconds=5), "nv00002", "view", 2))
        _wait(lambda: _counters(tmp_path / "state").get("events", 0) >= 2, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = cfg.with_suffix(".stderr").read_text(encoding="utf-8")
    assert "SIGHUP: the configuration does not load, the running one is kept" in stderr
    assert _counters(tmp_path / "state")["config_reloads"] == 1


def test_a_rule_switched_off_raises_no_alert(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(his_line(BASE, "nv00001", "export", None, count=3000))
    cfg = _config(tmp_path)
    proc = _start(cfg)
    try:
        _wait(lambda: _counters(tmp_path / "state").get("alerts_raised", 0) >= 1, proc)
        set_enabled(tmp_path / "state" / "rules-state.json", "phiwatch-his-bulk-export",
                    False, "admin", "testing")
        time.sleep(0.5)
        with open(log, "ab") as f:
            f.write(his_line(BASE + timedelta(minutes=5), "nv00002", "export", None, count=3000))
        _wait(lambda: _counters(tmp_path / "state").get("events", 0) >= 2, proc)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _counters(tmp_path / "state")["alerts_raised"] == 1


def test_the_api_is_served_by_run(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_bytes(his_line(BASE, "nv00001", "view", 1))
    port = _free_port()
    cfg = _config(tmp_path, f"api: {{serve_with_run: true, listen: '127.0.0.1:{port}'}}\n")
    proc = _start(cfg, {"PHIWATCH_JWT_SECRET": "s" * 40})
    try:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        _wait(answers, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
