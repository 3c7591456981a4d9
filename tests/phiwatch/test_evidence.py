"""The patients behind an incident, read back from the log lines its alerts point at —
and given up, saying why, when the lines can no longer be trusted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runkit import BASE, his_line

from alerting.incident_store import IncidentQuery
from alerting.sqlite_store import SQLiteAlertStore
from phiwatch.config import Config, SourceConfig, load_config
from phiwatch.evidence import read_evidence
from phiwatch.replay import replay
from rules.alert import Alert


def harvested(folder: Path) -> tuple[Config, list[Alert]]:
    """A log where nv00066 opens 150 patients (twice each) amid others' work."""
    lines = []
    t = BASE
    for k in range(300):
        t += timedelta(seconds=10)
        lines.append(his_line(t, "nv00066", "view", 700_000 + k % 150))
        lines.append(his_line(t + timedelta(seconds=1), f"nv{1 + k % 9:05d}", "view", k))
    log = folder / "access.log"
    log.write_bytes(b"".join(lines))
    cfg = load_config(None).model_copy(update={
        "state_dir": folder / "var",
        "sources": [SourceConfig(name="his", paths=[str(folder / "*.log")])]})
    store = SQLiteAlertStore(cfg.sqlite_path)
    try:
        replay(cfg, [log], store)
        [incident] = store.query_incidents(IncidentQuery(principal="nv00066"))
        found = store.get_many(incident.alert_ids)
    finally:
        store.close()
    return cfg, [found[i] for i in incident.alert_ids]


def test_the_harvest_is_read_back_exactly(tmp_path: Path) -> None:
    cfg, alerts = harvested(tmp_path)
    evidence = read_evidence(cfg, alerts)
    assert evidence.complete, evidence.why
    assert {r.user_id for r in evidence.records} == {"nv00066"}
    assert len({r.patient_id for r in evidence.records}) == 150
    assert all(r.host == "WS-NV00066" and r.module == "emr" for r in evidence.records)
    assert max(a.value_count or 0 for a in alerts) <= 150


def test_a_rotated_or_rewritten_log_falls_back_to_the_alerts(tmp_path: Path) -> None:
    cfg, alerts = harvested(tmp_path)
    log = tmp_path / "access.log"
    data = log.read_bytes()
    log.write_bytes(his_line(BASE, "nv00001", "view", 1) + data)     # one line more on top
    shifted = read_evidence(cfg, alerts)
    assert not shifted.complete and "not the event the alert names" in shifted.why
    log.write_bytes(data[: len(data) // 3])                          # cut short
    assert "past the end" in read_evidence(cfg, alerts).why
    log.rename(tmp_path / "access.log.1")                            # rotated away
    gone = read_evidence(cfg, alerts)
    assert not gone.complete and "access.log" in gone.why
    (tmp_path / "access.log.1").rename(log)
    log.write_bytes(data)
    budget = read_evidence(cfg, alerts, max_lines=10)
    assert not budget.complete and "evidence_max_lines" in budget.why
    assert read_evidence(cfg, alerts).complete
