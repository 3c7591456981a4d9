"""A new input format is one registration (``sensors.formats``): the configuration accepts
its name, and both ``replay`` and ``run`` read its files through the same sources.

The toy format here ("user action patient epoch", space-separated) is declared in this
file alone.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import load_config
from phiwatch.replay import replay
from phiwatch.runner import Runner
from sensors.event import Event
from sensors.formats import FileParser, FormatConfig, InputFormat, format_config, register
from sensors.parsers.base import ParseError


class ToyConfig(FormatConfig):
    format: Literal["toy"] = "toy"
    organization_id: str | None = None


class ToyParser:
    def parse(self, line: bytes, ref: str) -> list[Event]:
        parts = line.decode().split()
        if len(parts) != 4:
            raise ParseError(f"expected 4 words, found {len(parts)}", "user.id")
        user, action, patient, epoch = parts
        fields = {"event.dataset": "his.access", "event.action": action, "user.id": user,
                  "patient.id": patient, "organization.id": "bv-toy"}
        return [Event(datetime.fromtimestamp(float(epoch), UTC), fields, ref,
                      f"{user}-{patient}-{epoch}")]


register(InputFormat("toy", ToyConfig, lambda config, path: FileParser(lines=ToyParser()),
                     summary="a toy format for this test"))

#: 12 views of distinct patients by one user in 12 seconds: the machine-speed rule fires.
LINES = "".join(f"nv9 view BN{i:04d} {1_795_000_000 + i}\n" for i in range(40)) + "bad line\n"


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "phiwatch.yaml"
    cfg.write_text("state_dir: state\nsources:\n  - name: toy\n    paths: [logs/*.toy]\n"
                   "    parse: {format: toy}\n"
                   "pipeline: {snapshot_interval_seconds: 0.1, poll_interval_seconds: 0.05,"
                   " max_clock_skew_seconds: 86400}\n", encoding="utf-8")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.toy").write_text(LINES, encoding="utf-8")
    return cfg


def test_the_configuration_knows_the_registered_format() -> None:
    assert isinstance(format_config({"format": "toy"}), ToyConfig)


def test_replay_reads_a_registered_format(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, [tmp_path / "logs" / "a.toy"], store)
    assert report.events == 40
    assert report.dead_letters == {"parse": 1}
    assert store.query(AlertQuery(rule_id="phiwatch-his-machine-speed-viewing"))
    store.close()


def test_run_reads_a_registered_format(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 60
    while runner.processor.counters["events"] < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.wake()
    thread.join(60)
    assert runner.processor.counters["events"] == 40
    assert store.query(AlertQuery(rule_id="phiwatch-his-machine-speed-viewing"))
    store.close()
