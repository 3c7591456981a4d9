"""`phiwatch replay` and `phiwatch alerts` as an operator runs them, on simulated logs.

Replaying the same files twice must leave the store unchanged (deterministic alert ids);
bad lines of every kind go to the dead-letter file with a reason and are counted, while
the good lines around them are still processed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from runkit import BASE, his_line

from phiwatch.demo import match_ground_truth

pytestmark = pytest.mark.timeout(300)


def phiwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phiwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def alert_docs(db: Path) -> dict[str, dict[str, object]]:
    con = sqlite3.connect(db)
    out = {}
    for (doc,) in con.execute("SELECT doc FROM alerts"):
        a = orjson.loads(doc)
        out[a["id"]] = a
    con.close()
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    proc = phiwatch("simulate", "--out", str(folder), "--days", "1", "--seed", "11", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder


def test_replaying_twice_adds_no_alert_and_finds_every_incident(simulated: Path) -> None:
    cfg = simulated / "phiwatch.yaml"
    cfg.write_text("state_dir: var\nsources:\n  - paths: [his/*.log]\n"
                   + (simulated / "net" / "network.yaml").read_text())  # the `network:` block
    logs = sorted(str(p) for p in (simulated / "his").glob("*.log"))
    logs += sorted(str(p) for p in (simulated / "net").glob("*.pcap"))  # network incidents
    first = phiwatch("replay", "--config", str(cfg), "--no-progress", *logs, cwd=simulated)
    assert first.returncode == 0, first.stderr
    after_first = alert_docs(simulated / "var" / "alerts.db")
    second = phiwatch("replay", "--config", str(cfg), "--no-progress", *logs, cwd=simulated)
    assert second.returncode == 0, second.stderr
    assert "0 new alert(s)" in second.stderr
    assert alert_docs(simulated / "var" / "alerts.db") == after_first

    from rules.alert import Alert

    truth = orjson.loads((simulated / "ground_truth.json").read_bytes())["incidents"]
    matches = match_ground_truth(truth, [Alert.from_dict(a) for a in after_first.values()])
    assert all(m.alerts for m in matches), [m.incident["kind"] for m in matches if not m.alerts]

    listed = phiwatch("alerts", "--config", str(cfg), "--format", "ndjson", cwd=simulated)
    assert listed.returncode == 0, listed.stderr
    assert {orjson.loads(x)["id"] for x in listed.stdout.splitlines()} == set(after_first)
    high = phiwatch("alerts", "--config", str(cfg), "--format", "ndjson", "--severity", "high",
                    "--rule", "phiwatch-his-bulk-export", cwd=simulated)
    assert [orjson.loads(x)["rule_id"] for x in high.stdout.splitlines()] == [
        "phiwatch-his-bulk-export"
    ]


def test_bad_input_is_dead_lettered_counted_and_never_stops_the_replay(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with open(log, "wb") as f:
        f.write(his_line(BASE, "nv00001", "view", 1))
        f.write(b"{\"@timestamp\": \n")  # broken JSON
        f.write(b"\xc3\x28\xa0\xa1 not utf-8\n")  # invalid UTF-8
        f.write(b"x" * (10 * 1024 * 1024) + b"\n")  # a 10 MB line
        f.write(b'{"@timestamp": "2026-11-22T08:00:00", "event": {"action": "view"}}\n')
        f.write(b'{"@timestamp": "31/02/2026", "event": {"action": "view"}, "user": {"id": "a"}}\n')
        f.write(os.urandom(2048).replace(b"\n", b"") + b"\n")  # random bytes
        f.write(his_line(BASE, "nv00088", "export", None, count=9000))  # still alerts
    proc = phiwatch("replay", "--no-progress", str(log), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 events" in proc.stderr
    assert "1 new alert(s)" in proc.stderr
    dead = tmp_path / "var" / "dead-letter" / "replay.ndjson"
    entries = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    by_line = {e["line"]: e for e in entries}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7]
    assert "JSON" in by_line[2]["reason"]
    assert "UTF-8" in by_line[3]["reason"] and "raw_b64" in by_line[3]
    assert by_line[4]["kind"] == "oversize" and by_line[4]["length"] == 10 * 1024 * 1024
    assert Path(by_line[4]["blob"]).stat().st_size == 10 * 1024 * 1024
    assert "user.id" in by_line[5]["reason"] and by_line[5]["field"] == "user.id"
    assert "@timestamp" in by_line[6]["reason"]
    assert all(e["source"] == str(log) for e in entries)
    assert "parse: 5" in proc.stderr and "oversize: 1" in proc.stderr
