"""Whole FHIR Bundle files (``document: true``): read once each, when they have settled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from phiwatch.config import load_config
from phiwatch.inputs import opener
from sensors.checkpoint import Checkpoint
from sensors.deadletter import DeadLetter
from sensors.file_source import FileSource
from sensors.parsers import FhirParserConfig
from sensors.split import Split

BUNDLE = Path(__file__).parent.parent / "parsers" / "data" / "bundle_searchset.json"


SPLITS: dict[int, list[Split]] = {}


def source(folder: Path, dead: DeadLetter, checkpoint: Checkpoint) -> FileSource:
    cfg = FhirParserConfig(format="fhir", document=True, settle_seconds=0.2)
    splits: list[Split] = []
    src = FileSource([str(folder / "*.json")], opener(load_config(None), cfg), dead,
                     checkpoint, on_split=splits.append)
    SPLITS[id(src)] = splits
    return src


def drain(src: FileSource) -> list[str]:
    src.scan()
    src.fill(1000, 1_000_000)
    return [str(e.fields["event.action"])
            for split in SPLITS[id(src)] for e in split.take(float("inf"))]


def test_a_bundle_is_read_whole_once_it_settles_and_never_again(tmp_path: Path) -> None:
    dead = DeadLetter(tmp_path / "dead.ndjson")
    src = source(tmp_path, dead, Checkpoint())
    target = tmp_path / "export-0001.json"
    shutil.copyfile(BUNDLE, target)
    os.utime(target)  # just written: not settled yet
    assert drain(src) == []
    time.sleep(0.3)
    assert sorted(drain(src)) == ["export", "login", "login_failed", "logout", "search"]
    assert drain(src) == []
    positions = src.positions()
    src.close()
    again = source(tmp_path, dead, Checkpoint(positions))  # a restart reads nothing twice
    time.sleep(0.3)
    assert drain(again) == []


def test_a_broken_bundle_is_dead_lettered_whole(tmp_path: Path) -> None:
    dead = DeadLetter(tmp_path / "dead" / "dead.ndjson")
    src = source(tmp_path, dead, Checkpoint())
    (tmp_path / "broken.json").write_bytes(b'{"resourceType": "Bundle", "entry": [\n  {')
    time.sleep(0.3)
    assert drain(src) == []
    assert dead.counts["parse"] == 1


def test_replay_reads_a_bundle_file(tmp_path: Path) -> None:
    cfg = tmp_path / "phiwatch.yaml"
    cfg.write_text("sources:\n  - paths: ['*.json']\n    parse: {format: fhir, document: true}\n")
    shutil.copyfile(BUNDLE, tmp_path / "b.json")
    proc = subprocess.run(
        [sys.executable, "-m", "phiwatch", "replay", "--no-progress", "--config", str(cfg),
         str(tmp_path / "b.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "5 events from 1 file(s)" in proc.stderr
