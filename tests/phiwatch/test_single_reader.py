"""``run`` and ``replay`` read through one reader with the same limits and formats, and
the command line says when it shows less than it has (issue: one composition root)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
from runkit import BASE, his_line

sys.path.insert(0, str(Path(__file__).parent.parent / "flows"))
from test_zeek import CONN_HEADER

T = "\t"


def phiwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phiwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_replay_honours_max_line_bytes(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    big = orjson.loads(his_line(BASE, "nv00001", "view", 1))
    big["padding"] = "x" * 3000
    log.write_bytes(his_line(BASE, "nv00001", "view", 2) + orjson.dumps(big) + b"\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\nsources:\n  - paths: ['*.log']\n    max_line_bytes: 1024\n")
    proc = phiwatch("replay", "--no-progress", "--config", str(cfg), str(log), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 events from 1 file(s)" in proc.stderr
    assert "oversize: 1" in proc.stderr


def test_replay_of_unreadable_input_exits_non_zero_with_one_reason(tmp_path: Path) -> None:
    log = tmp_path / "a.csv"
    log.write_text("Thời gian;Mã NV;Thao tác\n22/11/2026 08:00:00;nv1;XEM\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\nsources:\n  - paths: ['*.csv']\n    parse:\n"
                   "      format: csv\n      columns: {'Thời gian': '@timestamp', "
                   "'Mã NV': user.id, 'Thao tác': event.action}\n", encoding="utf-8")
    proc = phiwatch("replay", "--no-progress", "--config", str(cfg), str(log), cwd=tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no record of the 1 file(s) could be read")


def test_alerts_says_when_it_shows_less_than_it_has_in_every_format(tmp_path: Path) -> None:
    lines = b"".join(his_line(BASE + timedelta(minutes=10 * i), f"nv{i:05d}", "export", None,
                              count=3000) for i in range(7))
    (tmp_path / "a.log").write_bytes(lines)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\n")
    assert phiwatch("replay", "--no-progress", "--config", str(cfg), str(tmp_path / "a.log"),
                    cwd=tmp_path).returncode == 0
    for fmt in ("text", "table", "ndjson"):
        proc = phiwatch("alerts", "--config", str(cfg), "--format", fmt, "--limit", "5",
                        cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "alerts 1–5 of 7 shown" in proc.stderr, (fmt, proc.stderr)
    proc = phiwatch("alerts", "--config", str(cfg), "--format", "ndjson", "--limit", "7",
                    cwd=tmp_path)
    assert "shown" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 7


def test_a_zeek_conn_log_reaches_the_rules_through_replay(tmp_path: Path) -> None:
    """A 70 MB upload to an outside address in Zeek's conn.log raises the large-upload
    rule: the format is recognised by its ``#separator`` header."""
    row = T.join(["1795420800.123456", "CHhAvVGS1DHFjwGM9", "10.1.1.5", "49733", "45.3.3.3",
                  "443", "tcp", "ssl", "600.0", "70000000", "120000", "SF", "T", "F", "0",
                  "ShADadFf", "50000", "72000000", "30000", "1300000", "(empty)"])
    log = tmp_path / "conn.2026-11-22.log"
    log.write_text(CONN_HEADER + "\n" + row + "\n#close\t2026-11-23-09-00-00\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\n")
    proc = phiwatch("replay", "--no-progress", "--config", str(cfg), str(log), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 events from 1 file(s)" in proc.stderr
    shown = phiwatch("alerts", "--config", str(cfg), "--format", "ndjson", cwd=tmp_path)
    assert "phiwatch-net-large-upload" in {orjson.loads(x)["rule_id"]
                                           for x in shown.stdout.splitlines()}


def test_a_zeek_source_is_read_by_run_as_by_replay(tmp_path: Path, start_run) -> None:  # type: ignore[no-untyped-def]
    row = T.join(["1795420800.123456", "CHhAvVGS1DHFjwGM9", "10.1.1.5", "49733", "45.3.3.3",
                  "443", "tcp", "ssl", "600.0", "70000000", "120000", "SF", "T", "F", "0",
                  "ShADadFf", "50000", "72000000", "30000", "1300000", "(empty)"])
    (tmp_path / "zeek").mkdir()
    (tmp_path / "zeek" / "conn.2026-11-22.log").write_text(CONN_HEADER + "\n" + row + "\n")
    cfg = tmp_path / "state.yaml"
    cfg.write_text("state_dir: state\nsources:\n  - name: zeek\n    paths: [zeek/*.log]\n"
                   "    parse: {format: zeek, settle_seconds: 0}\n"
                   "pipeline: {snapshot_interval_seconds: 0.05, poll_interval_seconds: 0.05,"
                   " max_clock_skew_seconds: 86400}\n")
    run = start_run(cfg)
    run.wait_for(lambda c: c.get("alerts_raised", 0) >= 1, timeout=60)
    assert run.stop() == 0
