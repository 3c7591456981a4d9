"""`phiwatch run` as a real process: kill -9 mid-stream, rotation while running, live alerts.

The property under test: a run that is killed with SIGKILL at an arbitrary point and
restarted ends with exactly the alerts of a run that was never interrupted — no alert
lost, none doubled — and every line is counted once.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import orjson
import pytest
from runkit import RunningPhiwatch, hospital_lines, write_config

N = 30_000


def stored_alerts(state: Path) -> dict[str, tuple[object, ...]]:
    db = sqlite3.connect(state / "alerts.db")
    out = {}
    for (doc,) in db.execute("SELECT doc FROM alerts"):
        a = orjson.loads(doc)
        out[a["id"]] = (a["rule_id"], a["event_count"], a["value_count"], a["window_start"])
    db.close()
    return out


@pytest.mark.timeout(240)
def test_kill_9_mid_stream_then_restart_gives_the_same_alerts(
    tmp_path: Path, start_run: object
) -> None:
    start = start_run  # type: ignore[assignment]
    (tmp_path / "his").mkdir()
    (tmp_path / "his" / "access.log").write_bytes(b"".join(hospital_lines(N)))

    whole: RunningPhiwatch = start(write_config(tmp_path, "whole"))  # type: ignore[operator]
    whole.wait_for(lambda c: c.get("events", 0) >= N)
    assert whole.stop() == 0

    for fraction in (0.25, 0.6):
        state = f"killed{int(fraction * 100)}"
        cfg = write_config(tmp_path, state)
        first: RunningPhiwatch = start(cfg)  # type: ignore[operator]
        first.wait_for(lambda c, f=fraction: c.get("events", 0) >= f * N)
        first.kill()
        second: RunningPhiwatch = start(cfg)  # type: ignore[operator]
        second.wait_for(lambda c: c.get("events", 0) >= N)
        assert second.stop() == 0
        assert second.counters()["events"] == N  # nothing read twice, nothing skipped
        assert stored_alerts(tmp_path / state) == stored_alerts(tmp_path / "whole")

    expected_rules = {a[0] for a in stored_alerts(tmp_path / "whole").values()}
    assert {
        "phiwatch-his-bulk-patient-lookup",
        "phiwatch-his-machine-speed-viewing",
        "phiwatch-his-bulk-export",
        "phiwatch-his-failed-login-burst",
    } <= expected_rules


@pytest.mark.timeout(120)
def test_rotation_while_running_loses_and_doubles_nothing(
    tmp_path: Path, start_run: object
) -> None:
    start = start_run  # type: ignore[assignment]
    lines = hospital_lines(9000, seed=3)
    his = tmp_path / "his"
    his.mkdir()
    log = his / "access.log"
    log.write_bytes(b"".join(lines[:3000]))
    run: RunningPhiwatch = start(write_config(tmp_path, "state"))  # type: ignore[operator]
    run.wait_for(lambda c: c.get("events", 0) >= 3000)
    with open(log, "ab") as f:  # written just before rotation
        f.write(b"".join(lines[3000:4000]))
    os.rename(log, his / "access.log.1")  # rename rotation (the glob is *.log)
    log.write_bytes(b"".join(lines[4000:6000]))
    run.wait_for(lambda c: c.get("events", 0) >= 6000)
    with open(log, "r+b") as f:  # then copytruncate-style truncation in place
        f.truncate(0)
    with open(log, "ab") as f:
        f.write(b"".join(lines[6000:]))
    run.wait_for(lambda c: c.get("events", 0) >= 9000)
    assert run.stop() == 0
    assert run.counters()["events"] == 9000
    dead = run.state / "dead-letter" / "run.ndjson"
    assert not dead.exists() or dead.read_bytes() == b""


@pytest.mark.timeout(120)
def test_a_line_written_while_running_raises_its_alert(
    tmp_path: Path, start_run: object
) -> None:
    start = start_run  # type: ignore[assignment]
    from runkit import BASE, his_line

    his = tmp_path / "his"
    his.mkdir()
    log = his / "access.log"
    log.write_bytes(his_line(BASE, "nv00001", "login", None))
    run: RunningPhiwatch = start(write_config(tmp_path, "state"))  # type: ignore[operator]
    run.wait_for(lambda c: c.get("events", 0) >= 1)
    with open(log, "ab") as f:
        f.write(his_line(BASE, "nv00088", "export", None, count=5000))
    run.wait_for(lambda c: c.get("alerts_new", 0) >= 1)
    assert run.stop() == 0
    alerts = stored_alerts(run.state)
    assert [a[0] for a in alerts.values()] == ["phiwatch-his-bulk-export"]
