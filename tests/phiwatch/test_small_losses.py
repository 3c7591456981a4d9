"""The smaller losses of the reliability review (issue 10, point 7), each as a test."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import orjson
from runkit import BASE, his_line

from sensors.checkpoint import Checkpoint
from sensors.deadletter import DeadLetter
from sensors.file_source import FileSource
from sensors.formats import FileParser
from sensors.parsers import CsvParserConfig, parser_for
from sensors.split import Split
from sensors.tailer import Tailer


def phiwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phiwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


HEADER = ("Thoi gian;Ma NV;Thao tac;Ma BN;" + ";".join(f"Cot phu {i:03d}" for i in range(120))
          ).encode()  # a vendor export whose header alone is longer than 1 KiB
CSV = CsvParserConfig(format="csv", delimiter=";", columns={
    "Thoi gian": "@timestamp", "Ma NV": "user.id", "Thao tac": "event.action",
    "Ma BN": "patient.id"}, timestamp_formats=["%d/%m/%Y %H:%M:%S"])


def _rows(day: int, n: int) -> bytes:
    pad = ";" * 120
    return b"".join(f"{day:02d}/11/2026 08:{i // 60:02d}:{i % 60:02d};nv{i:05d};view;"
                    f"BN{day}{i:06d}{pad}\n".encode() for i in range(n))


def test_files_with_the_same_first_kilobyte_are_told_apart(tmp_path: Path) -> None:
    assert len(HEADER) > 1024
    first = tmp_path / "audit-2026-11-22.csv"
    first.write_bytes(HEADER + b"\n" + _rows(22, 200))
    dead = DeadLetter(tmp_path / "dead.ndjson")

    def source(checkpoint: Checkpoint) -> tuple[FileSource, list[Split]]:
        splits: list[Split] = []
        src = FileSource([str(tmp_path / "*.csv")],
                         lambda p: FileParser(lines=parser_for(CSV, p)), dead, checkpoint,
                         on_split=splits.append)
        return src, splits

    def drain(src: FileSource, splits: list[Split]) -> list[str]:
        src.scan()
        while src.fill(1000, 10**6):
            pass
        return [str(e.fields["patient.id"]) for s in splits for e in s.take(float("inf"))]

    src, splits = source(Checkpoint())
    assert len(drain(src, splits)) == 200
    positions = src.positions()
    src.close()
    # The next day's export starts with the very same header.
    (tmp_path / "audit-2026-11-23.csv").write_bytes(HEADER + b"\n" + _rows(23, 150))
    src, splits = source(Checkpoint(positions))
    read = drain(src, splits)
    assert len(read) == 150 and all(p.startswith("BN23") for p in read)
    src.close()


def test_an_over_long_last_line_without_a_newline_is_dead_lettered(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(his_line(BASE, "nv00001", "view", 1) + b"x" * 5000)  # no final newline
    dead = DeadLetter(tmp_path / "dead" / "dead.ndjson")
    tailer = Tailer.open(str(log), None, dead, max_line_bytes=1024)
    assert len(tailer.read()) == 1
    assert tailer.flush_partial() == []
    dead.flush()
    [entry] = [orjson.loads(x) for x in dead.path.read_bytes().splitlines()]
    assert entry["kind"] == "oversize" and entry["length"] == 5000
    tailer.close()


def test_a_missing_rules_folder_stops_run_and_replay(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(his_line(BASE, "nv00001", "view", 1))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\nrules: {paths: [no-such-rules]}\n"
                   "sources: [{paths: ['*.log']}]\n")
    for args in (["replay", "--no-progress", str(tmp_path / "a.log")], ["run"]):
        proc = phiwatch(*args, "--config", str(cfg), cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(
            "error: rules.paths: " + str(tmp_path / "no-such-rules") + ": no such file")


def test_a_key_given_twice_in_the_configuration_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\nsources:\n  - paths: [a.log]\n    paths: [b.log]\n")
    proc = phiwatch("alerts", "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2
    assert "line 4" in proc.stderr and "'paths' is given twice" in proc.stderr


def test_a_key_given_twice_in_a_rule_is_a_rule_error(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        "title: t\nname: r\nlogsource: {product: his}\ndetection:\n"
        "  sel: {event.action: export}\n  condition: sel\n  condition: not sel\nlevel: low\n")
    proc = phiwatch("rules", "validate", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "'condition' is given twice" in proc.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_elasticsearch_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\nstore:\n  elasticsearch:\n    hosts: "
                   f"['http://127.0.0.1:{_closed_port()}']\n    compat: opensearch\n"
                   "    max_retries: 0\n    request_timeout: 2\n")
    for args in (["alerts"], ["incidents", "list"], ["es", "prune"]):
        proc = phiwatch(*args, "--config", str(cfg), cwd=tmp_path)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, lines)
