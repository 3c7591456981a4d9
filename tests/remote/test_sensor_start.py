"""A sensor that starts (or restarts after a kill) with a backlog in its log says nothing
to the engine until it has read that backlog: a first heartbeat saying "my inputs are
quiet" would let the engine stop waiting for it, and every line of the backlog older than
the engine's lateness behind its other inputs would then be dead-lettered as late (found by
``bench/soak.py --time-scale 12``: 485 HIS lines late after the sensor's restart).

Against a real engine API over HTTP (the ``engine_api`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import yaml
from remotekit import token
from runkit import hospital_lines

from phiwatch.config import Config, load_config
from phiwatch.sensor import SensorRunner
from sensors.remote.journal import IngestJournal
from sensors.timestamps import parse_timestamp


def _sensor(folder: Path, url: str, tok: str) -> SensorRunner:
    (folder / "sensor.token").write_text(tok, encoding="utf-8")
    path = folder / "sensor.yaml"
    path.write_text(yaml.safe_dump({
        "state_dir": "sensor",
        "sources": [{"name": "his", "paths": [str(folder / "his" / "*.log")]}],
        "sensor": {"name": "his-app-01", "engine_url": url,
                   "token_file": str(folder / "sensor.token"), "batch_max_events": 1000},
    }), encoding="utf-8")
    return SensorRunner(load_config(path), name="his-app-01")


def _close(runner: SensorRunner) -> None:
    runner.shipper.stop()
    runner.inputs.close()
    runner.dead_letter.close()
    runner.spool.close()


def test_no_heartbeat_before_the_backlog_is_read(
        tmp_path: Path, engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    lines = hospital_lines(300, seed=3)
    (tmp_path / "his").mkdir()
    (tmp_path / "his" / "access.log").write_bytes(b"".join(lines))
    newest = max(parse_timestamp(orjson.loads(line)["@timestamp"]).timestamp()
                 for line in lines)
    runner = _sensor(tmp_path, url, token(config, "sensor", hospital="bv-test"))
    journal = IngestJournal(config.ingest_path)
    try:
        runner.shipper.heartbeat()  # as its thread would, before the loop's first read
        assert runner.shipper.status.heartbeats == 0
        assert journal.streams() == []  # the engine heard nothing, so it keeps waiting

        runner.inputs.scan()
        runner.step(final=True)  # reads the backlog and cuts it into a batch
        while runner.shipper.ship_once():
            pass
        runner.shipper.heartbeat()
        # Everything but the newest event, which the sensor's merge holds until it knows
        # nothing older follows.
        held = len(runner.inputs.held())
        assert runner.shipper.status.events_shipped + held == len(lines) and held <= 1
        assert runner.shipper.status.heartbeats >= 1
        (stream,) = journal.streams()
        assert stream.watermark is not None
        assert stream.watermark <= newest  # a promise the backlog keeps
    finally:
        _close(runner)
