"""Prometheus metrics of a real pipeline, scraped over HTTP and parsed with
prometheus_client's own parser; time is given explicitly, never waited for."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from opskit import SENDER, T0, Recorder, alert, free_port, notify_config
from prometheus_client.parser import text_string_to_metric_families
from runkit import BASE, his_line

from alerting.notify.notifier import Notifier
from phiwatch.assembly import Pipeline, assemble
from phiwatch.config import load_config
from phiwatch.metrics import Metrics, MetricsError
from phiwatch.run_status import AlertTally, RunStatus, StatusBoard, collect_run_status
from phiwatch.stores import open_store

NOW = BASE.timestamp() + 3600.0      # the scrape happens an hour after the last event


class FakeEsStore:
    """Only what the collector reads of the Elasticsearch store: its flat stats."""

    def stats(self) -> dict[str, float]:
        return {"es_cluster_down": 1.0, "es_spool_depth": 42, "es_spool_capacity": 1000,
                "es_spool_oldest_age_seconds": 12.5, "es_bulk_retries_total": 3,
                "es_outages_total": 1, "es_alerts_rejected_total": 2,
                "es_spool_refused_total": 0, "es_alerts_created_total": 7}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    (tmp_path / "logs").mkdir()
    lines = [his_line(BASE + timedelta(seconds=i), f"nv{i % 3:02d}", "view", i) for i in range(50)]
    (tmp_path / "logs" / "access.log").write_bytes(b"".join(lines) + b"{broken json\n")
    (tmp_path / "phiwatch.yaml").write_text(
        "state_dir: state\nsources:\n  - {name: his, paths: [logs/*.log]}\n", encoding="utf-8")
    cfg = load_config(tmp_path / "phiwatch.yaml")
    store = open_store(cfg)
    p = assemble(cfg, store, live=True, dead_letter=cfg.dead_letter_dir / "run.ndjson")
    p.inputs.add_source(cfg.sources[0])
    p.inputs.scan()
    _, events = p.inputs.step(1000)
    p.processor.process(events)
    yield p
    p.close()
    store.close()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode("utf-8")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_pipeline_scraped_over_http(pipeline: Pipeline, tmp_path: Path) -> None:
    tally = AlertTally()
    for a in (alert(), alert(at=T0 + timedelta(hours=2)), alert(rule="r2", severity="critical")):
        tally(a)
    notifier = Notifier(notify_config({"type": "webhook", "name": "siem",
                                       "url": "https://siem.bv.local/x", "secret": "s" * 20}),
                        sender=SENDER, state_dir=tmp_path / "n",
                        channels={"siem": Recorder()})
    notifier.submit([alert(), alert(at=T0 + timedelta(minutes=1))], now=T0)
    board = StatusBoard()

    def build() -> RunStatus:
        return collect_run_status(processor=pipeline.processor, inputs=pipeline.inputs,
                                  engine=pipeline.engine, dead_letter=pipeline.dead_letter,
                                  store=FakeEsStore(), notifier=notifier, tally=tally,
                                  snapshots=4, started_at=NOW - 60, clock=lambda: NOW - 5)

    board.publish(build())
    metrics = Metrics(board, clock=lambda: NOW)
    metrics.observe_api("/alerts/{id}", "get", 200, 0.003)
    metrics.observe_api("/alerts/{id}", "get", 200, 0.2)
    server = metrics.serve("127.0.0.1", 0)
    try:
        m = scrape(server.url)
        # More lines arrive; the next published status shows them as unread.
        extra = his_line(BASE + timedelta(seconds=99), "nv01", "view", 1)
        with open(tmp_path / "logs" / "access.log", "ab") as f:
            f.write(extra * 3)
        board.publish(build())
        later = scrape(server.url)
    finally:
        server.close()
    his = (("source", "his"),)
    assert m[("phiwatch_source_events_total", his)] == 50
    assert m[("phiwatch_source_lines_total", his)] == 51
    assert m[("phiwatch_source_unread_bytes", his)] == 0
    assert later[("phiwatch_source_unread_bytes", his)] == 3 * len(extra)
    assert m[("phiwatch_source_open_files", his)] == 1
    assert m[("phiwatch_events_processed_total", ())] == 49     # one still held by the merge
    assert m[("phiwatch_dead_letters_total", (("kind", "parse"),))] == 1
    newest = m[("phiwatch_newest_event_timestamp_seconds", ())]
    assert newest == BASE.timestamp() + 48
    assert m[("phiwatch_lag_seconds", ())] == NOW - newest
    assert m[("phiwatch_status_age_seconds", ())] == 5
    assert m[("phiwatch_alerts_total", (("rule", "phiwatch-his-bulk-patient-lookup"),
                                        ("severity", "high")))] == 2
    assert m[("phiwatch_alerts_total", (("rule", "r2"), ("severity", "critical")))] == 1
    matched = {labels: v for (name, labels), v in m.items()
               if name == "phiwatch_rule_matches_total"}
    assert matched and all(v > 0 for v in matched.values())  # rules that saw the views
    assert m[("phiwatch_engine_groups", ())] > 0
    assert m[("phiwatch_engine_groups_evicted_total", ())] == 0
    assert m[("phiwatch_es_spool_depth", ())] == 42
    assert m[("phiwatch_es_cluster_down", ())] == 1
    assert m[("phiwatch_es_errors_total", (("kind", "bulk_retry"),))] == 3
    assert m[("phiwatch_es_errors_total", (("kind", "rejected"),))] == 2
    siem = ("channel", "siem")
    assert m[("phiwatch_notifications_total", (siem, ("result", "queued")))] == 1
    assert m[("phiwatch_notifications_skipped_total", (siem, ("reason", "throttled")))] == 1
    assert m[("phiwatch_notifications_pending", (siem,))] == 0   # gauges: from the last round
    assert m[("phiwatch_snapshots_total", ())] == 4
    api = (("method", "GET"), ("route", "/alerts/{id}"), ("status", "200"))
    assert m[("phiwatch_api_request_duration_seconds_count", api)] == 2
    bucket = tuple(sorted({**dict(api), "le": "0.005"}.items()))
    assert m[("phiwatch_api_request_duration_seconds_bucket", bucket)] == 1
    assert any(name == "python_info" for name, _ in m)          # the process's own numbers


def test_notification_gauges_follow_the_last_round(tmp_path: Path) -> None:
    from alerting.reports.outbox import Outcome

    notifier = Notifier(notify_config({"type": "webhook", "name": "siem",
                                       "url": "https://siem.bv.local/x", "secret": "s" * 20}),
                        sender=SENDER, state_dir=tmp_path,
                        channels={"siem": Recorder([Outcome.retry("HTTP 503", status=503)])})
    notifier.submit([alert()], now=T0)
    notifier.run_due(T0)
    status = RunStatus(taken_at=NOW, notify=notifier.stats())
    m = Metrics(lambda: status, process=False, clock=lambda: NOW)
    text = m.render().decode()
    assert 'phiwatch_notifications_pending{channel="siem"} 1.0' in text
    assert 'phiwatch_notification_failures_total{channel="siem"} 1.0' in text


def test_an_empty_status_scrapes_cleanly() -> None:
    board = StatusBoard()
    # Before the loop's first status (a restart still restoring its counters): no counter
    # at all, never zeros that Prometheus would take for a reset.
    text = Metrics(board, process=False).render().decode()
    assert "phiwatch_events_processed" not in text
    board.publish(RunStatus())
    text = Metrics(board, process=False).render().decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"phiwatch_status_age_seconds", "phiwatch_events_processed",
            "phiwatch_dead_letters"} <= names
    assert "phiwatch_lag_seconds" not in names and "phiwatch_es_spool_depth" not in names


def test_publish_due_publishes_at_most_once_per_interval() -> None:
    board = StatusBoard()
    built: list[float] = []

    def build() -> RunStatus:
        built.append(0)
        return RunStatus(taken_at=float(len(built)))

    assert board.publish_due(build, interval=1.0, now=100.0)
    assert not board.publish_due(build, interval=1.0, now=100.9)
    assert board.publish_due(build, interval=1.0, now=101.0)
    assert board().taken_at == 2 and len(built) == 2


def test_a_taken_port_is_a_one_line_error_naming_the_key() -> None:
    metrics = Metrics(StatusBoard(), process=False)
    first = metrics.serve("127.0.0.1", free_port())
    try:
        with pytest.raises(MetricsError) as err:
            metrics.serve("127.0.0.1", first.port)
    finally:
        first.close()
    assert err.value.key == "metrics.listen" and "cannot listen on 127.0.0.1:" in str(err.value)
