"""FHIR AuditEvents arrive as the server flushes them, not in ``recorded`` order: within a
source's ``out_of_order_seconds`` they are put back in order before the rules see them; a
record older than that and the engine's lateness goes to the dead-letter file exactly as
it was written, with its line and byte offset, and is counted."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from runkit import run_until_idle

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery
from phiwatch.config import load_config
from phiwatch.replay import replay

START = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)


def audit(i: int, at: datetime) -> dict[str, Any]:
    """A BALP-style patient read by one clerk, ``i`` naming a distinct patient."""
    return {
        "resourceType": "AuditEvent", "id": f"ae-{i:05d}",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                 "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R", "recorded": at.astimezone().isoformat(), "outcome": "0",
        "agent": [{"who": {"identifier": {"value": "nv01234"}}, "requestor": True,
                   "network": {"address": "10.20.3.45", "type": "2"}}],
        "source": {"observer": {"display": "HIS"}},
        "entity": [{"what": {"reference": f"Patient/BN{i:08d}"},
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/"
                             "audit-entity-type", "code": "1"},
                    "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role",
                             "code": "1"}}],
    }  # fmt: skip


def _config(tmp_path: Path, out_of_order: float) -> Path:
    cfg = tmp_path / "phiwatch.yaml"
    cfg.write_text(
        "state_dir: state\n"
        "sources:\n"
        "  - {name: fhir, paths: [audit/*.ndjson], parse: {format: fhir},"
        f" out_of_order_seconds: {out_of_order}, idle_timeout_seconds: 0.5}}\n",
        encoding="utf-8",
    )
    return cfg


def _write(tmp_path: Path, docs: list[dict[str, Any]]) -> Path:
    (tmp_path / "audit").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "audit" / "audit.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def _run(tmp_path: Path, docs: list[dict[str, Any]], out_of_order: float) -> Any:
    path = _write(tmp_path, docs)
    cfg = load_config(_config(tmp_path, out_of_order))
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, [path], store)
    alerts = {(a.rule_id, a.id) for a in store.query(AlertQuery())}
    store.close()
    return cfg, report, alerts


def test_resources_shuffled_within_the_allowance_give_the_ordered_alerts(
        tmp_path: Path) -> None:
    # 300 reads of distinct patients, 2 s apart: ten minutes of a clerk harvesting records.
    docs = [audit(i, START + timedelta(seconds=2 * i)) for i in range(300)]
    _, clean_report, clean = _run(tmp_path / "ordered", docs, 120)
    assert clean and clean_report.dead_letters.get("late", 0) == 0
    rng = random.Random(5565)
    shuffled = []
    for block in range(0, 300, 40):  # the server flushes 80 s batches in any order
        chunk = docs[block:block + 40]
        rng.shuffle(chunk)
        shuffled.extend(chunk)
    _, report, alerts = _run(tmp_path / "shuffled", shuffled, 120)
    assert report.events == 300
    assert report.dead_letters.get("late", 0) == 0
    assert alerts == clean  # the same alerts, the same ids


def test_a_record_beyond_the_allowance_is_dead_lettered_as_written(tmp_path: Path) -> None:
    docs = [audit(i, START + timedelta(seconds=2 * i)) for i in range(300)]
    path = _write(tmp_path, docs)
    cfg = load_config(_config(tmp_path, 120))
    run_until_idle(cfg)
    # The FHIR server flushes a record two hours old after phiwatch has moved on.
    stale = audit(99_999, START - timedelta(hours=2))
    with open(path, "ab") as f:
        f.write(orjson.dumps(stale) + b"\n")
    runner = run_until_idle(cfg)
    assert runner.processor.counters["late"] == 1
    assert runner.dead_letter.counts["late"] == 1
    dead = sorted(cfg.dead_letter_dir.glob("*.ndjson"))
    entries = [orjson.loads(x) for p in dead for x in p.read_bytes().splitlines()]
    (entry,) = [e for e in entries if e["kind"] == "late"]
    written = path.read_bytes()
    assert entry["line"] == 301 and entry["source"] == str(path)
    assert written[entry["offset"]:].split(b"\n", 1)[0] == orjson.dumps(stale)
    assert orjson.loads(entry["raw"]) == stale
    assert "older than the watermark" in entry["reason"]


def test_a_replay_reads_ahead_and_puts_a_stale_record_in_its_place(tmp_path: Path) -> None:
    """Within what one read takes in, a replay sorts: the stale record is not lost."""
    docs = [audit(i, START + timedelta(seconds=2 * i)) for i in range(300)]
    docs.insert(250, audit(99_999, START - timedelta(hours=2)))
    _, report, _ = _run(tmp_path, docs, 0)
    assert report.events == 301 and report.dead_letters == {}
