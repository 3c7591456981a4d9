"""A running `phiwatch run` picks up rule edits within seconds; a broken edit changes nothing."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from runkit import BASE, RunningPhiwatch, his_line, write_config

from phiwatch.config import BUILTIN_PACKS

pytestmark = pytest.mark.timeout(180)


def export_alerts(state: Path) -> int:
    db = sqlite3.connect(state / "alerts.db")
    n = db.execute("SELECT count(*) FROM alerts WHERE rule_id = 'phiwatch-his-bulk-export'")
    count = int(n.fetchone()[0])
    db.close()
    return count


def wait_until(pred: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_rule_edits_apply_without_restart(tmp_path: Path, start_run: object) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = rules / "bulk_export.yml"
    original = (BUILTIN_PACKS / "his" / "bulk_export.yml").read_text(encoding="utf-8")
    rule.write_text(original, encoding="utf-8")
    (tmp_path / "his").mkdir()
    log = tmp_path / "his" / "access.log"
    log.write_bytes(his_line(BASE, "nv00001", "login", None))
    cfg = write_config(tmp_path, "state", extra=f"rules:\n  paths: [{rules}]\n")
    run: RunningPhiwatch = start_run(cfg)  # type: ignore[operator]
    run.wait_for(lambda c: c.get("events", 0) >= 1)

    def append(count: int, n: int) -> None:
        with open(log, "ab") as f:
            f.write(his_line(BASE, f"nv{n:05d}", "export", None, count=count))

    append(300, 1)  # under the shipped threshold of 500
    run.wait_for(lambda c: c.get("events", 0) >= 2)
    assert export_alerts(run.state) == 0

    rule.write_text(original.replace("his.record_count|gte: 500", "his.record_count|gte: 100"),
                    encoding="utf-8")
    run.wait_for(lambda c: c.get("rules_reloads", 0) >= 1)
    append(300, 2)
    wait_until(lambda: export_alerts(run.state) == 1)

    rule.write_text("title: [broken\n", encoding="utf-8")  # a bad edit keeps the last good
    run.wait_for(lambda c: c.get("rules_reloads", 0) >= 2)
    append(300, 3)
    wait_until(lambda: export_alerts(run.state) == 2)
    assert run.stop() == 0


def test_rules_test_shows_matches_state_and_alerts(tmp_path: Path) -> None:
    import subprocess
    import sys

    from runkit import hospital_lines

    log = tmp_path / "access.log"
    log.write_bytes(b"".join(hospital_lines(5000)))
    proc = subprocess.run(
        [sys.executable, "-m", "phiwatch", "rules", "test",
         str(BUILTIN_PACKS / "his" / "failed_login_burst.yml"), "--events", str(log)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "his_login_failed: 25 event(s)" in proc.stdout
    assert "phiwatch-his-failed-login-burst" in proc.stdout
    assert "25 failed logins on account nv00099" in proc.stdout
