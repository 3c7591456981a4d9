"""Event time that holds (issue 10): a wrong clock, a rotation backlog, two logs from
their beginnings and buffered delivery lose nothing; every case is a real file and the
pipeline's own code (``phiwatch.replay``, ``phiwatch.runner``)."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from runkit import BASE, his_line, hospital_lines, run_until_idle

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import Config, load_config
from phiwatch.replay import replay
from phiwatch.runner import Runner
from phiwatch.snapshot import SnapshotStore

LINES = hospital_lines(6000, seed=3)


def _config(tmp: Path, name: str, **pipeline: float) -> Config:
    return load_config(None, {
        "state_dir": str(tmp / name),
        "sources": [{"name": "his", "paths": [str(tmp / "logs" / "access.log*")],
                     "rotate_wait_seconds": 0.2, "idle_timeout_seconds": 0.3}],
        "pipeline": {"snapshot_interval_seconds": 0.2, "poll_interval_seconds": 0.05,
                     "scan_interval_seconds": 0.2,
                     **pipeline},
    })


def _ids(cfg: Config) -> dict[str, tuple[str, int]]:
    store = SQLiteAlertStore(cfg.sqlite_path)
    found = {a.id: (a.rule_id, a.event_count) for a in store.query(AlertQuery(limit=10_000))}
    store.close()
    return found


def _replay(tmp: Path, name: str, files: list[Path]) -> tuple[dict[str, tuple[str, int]], Config]:
    cfg = _config(tmp, name)
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, files, store)
    store.close()
    assert report.dead_letters.get("late", 0) == 0, report.dead_letters
    return _ids(cfg), cfg


def _clean(tmp: Path) -> dict[str, tuple[str, int]]:
    (tmp / "clean").mkdir(exist_ok=True)
    path = tmp / "clean" / "access.log"
    path.write_bytes(b"".join(LINES))
    ids, _ = _replay(tmp, "state-clean", [path])
    assert len(ids) >= 4
    return ids


def test_one_future_dated_line_changes_no_alert_in_a_replay(tmp_path: Path) -> None:
    clean = _clean(tmp_path)
    poisoned = list(LINES)
    doc = orjson.loads(poisoned[len(poisoned) * 3 // 10])
    doc["@timestamp"] = "2030-01-01T00:00:00+07:00"
    doc["user"]["id"] = "nv09999"
    poisoned.insert(len(poisoned) * 3 // 10, orjson.dumps(doc) + b"\n")
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "access.log"
    path.write_bytes(b"".join(poisoned))
    cfg = _config(tmp_path, "state")
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, [path], store)
    store.close()
    assert report.quarantined == 1
    assert report.dead_letters == {"quarantine": 1}
    assert _ids(cfg) == clean


def test_one_future_dated_line_neither_blinds_run_nor_poisons_its_snapshot(
        tmp_path: Path) -> None:
    clean = _clean(tmp_path)
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "access.log"
    cut = len(LINES) * 3 // 10
    doc = orjson.loads(LINES[cut])
    doc["@timestamp"] = "2030-01-01T00:00:00+07:00"
    path.write_bytes(b"".join(LINES[:cut]) + orjson.dumps(doc) + b"\n")
    cfg = _config(tmp_path, "state", max_clock_skew_seconds=300)
    run_until_idle(cfg)
    snap = SnapshotStore(cfg.snapshot_path).load()
    assert snap is not None
    assert snap.engine["max_epoch"] < datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    with open(path, "ab") as f:
        f.write(b"".join(LINES[cut:]))
    runner = run_until_idle(cfg)
    assert runner.processor.counters["late"] == 0
    assert {k: v for k, v in _ids(cfg).items()} == clean


def test_a_rotation_backlog_written_while_stopped_is_read_before_its_successor(
        tmp_path: Path) -> None:
    clean = _clean(tmp_path)
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "access.log"
    split = len(LINES) - 4000
    path.write_bytes(b"".join(LINES[:split]))
    cfg = _config(tmp_path, "state")
    run_until_idle(cfg)
    with open(path, "ab") as f:  # 4,000 lines while phiwatch is stopped …
        f.write(b"".join(LINES[split:split + 3000]))
    os.rename(path, tmp_path / "logs" / "access.log.1")  # … then rotated
    path.write_bytes(b"".join(LINES[split + 3000:]))
    runner = run_until_idle(cfg)
    assert runner.processor.counters["late"] == 0
    assert runner.dead_letter.counts.get("late", 0) == 0
    assert _ids(cfg) == clean


def test_two_logs_read_from_their_beginnings_interleave_by_time(tmp_path: Path) -> None:
    clean = _clean(tmp_path)
    (tmp_path / "logs").mkdir()
    a, b = tmp_path / "logs" / "access.log.a", tmp_path / "logs" / "access.log.b"
    a.write_bytes(b"".join(LINES[0::2]))  # two HIS nodes behind a load balancer
    b.write_bytes(b"".join(LINES[1::2]))
    runner = run_until_idle(_config(tmp_path, "state"))
    assert runner.processor.counters["late"] == 0
    assert _ids(_config(tmp_path, "state")) == clean
    replayed, _ = _replay(tmp_path, "state-replay", [a, b])
    assert replayed == clean


def test_buffered_delivery_within_the_idle_advance_loses_nothing(tmp_path: Path) -> None:
    """A shipper that writes every 1.5 s (events up to 1.5 s old) with a lateness of 1 s
    and ``idle_advance_seconds: 3``: the clock waits for it, so no event is late."""
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "access.log"
    path.write_bytes(b"")
    cfg = load_config(None, {
        "state_dir": str(tmp_path / "state"),
        "sources": [{"name": "his", "paths": [str(path)], "idle_timeout_seconds": 0.2}],
        "rules": {"lateness_seconds": 1},
        "pipeline": {"snapshot_interval_seconds": 0.2, "poll_interval_seconds": 0.05,
                     "idle_advance_seconds": 3},
    })
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    written = 0
    for _batch in range(4):
        start = datetime.now(UTC)
        time.sleep(1.5)
        lines = [his_line(start + timedelta(milliseconds=30 * i), f"nv{i % 7:05d}", "view", i)
                 for i in range(50)]
        with open(path, "ab") as f:
            f.write(b"".join(lines))
        written += len(lines)
    deadline = time.monotonic() + 30
    while runner.processor.counters["events"] < written and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.wake()
    thread.join(30)
    store.close()
    assert runner.processor.counters["events"] == written
    assert runner.processor.counters["late"] == 0


def test_reading_a_rule_file_does_not_start_a_reload_loop(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(
        "title: t\nname: r\nlogsource: {product: his}\ndetection:\n"
        "  sel: {event.action: export}\n  condition: sel\nlevel: low\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_bytes(his_line(BASE, "nv00001", "view", 1))
    cfg = load_config(None, {
        "state_dir": str(tmp_path / "state"), "rules": {"paths": [str(rules)]},
        "sources": [{"name": "his", "paths": [str(tmp_path / "logs" / "*.log")]}],
        "pipeline": {"poll_interval_seconds": 0.05},
    })
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    time.sleep(0.5)
    (rules / "r.yml").read_bytes()  # what `cat` does: open, read, close
    time.sleep(2.5)
    stop.set()
    runner.wake()
    thread.join(30)
    store.close()
    assert runner.processor.counters["rules_reloads"] == 0
