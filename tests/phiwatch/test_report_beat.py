"""The run loop's report beat: drafts what the command line confirmed, raises the
72-hour warnings as alerts for the notifications, and survives a delivery failure."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_reporting_tick import NOW, parts_for, setup

from alerting.reports.config import ReportsConfig
from alerting.reports.sample import sample_hospital
from phiwatch.report_beat import ReportBeat
from phiwatch.reporting import records_of
from phiwatch.runner import Runner
from rules.alert import Alert


def test_a_beat_drafts_and_warns_where_alerts_go(tmp_path: Path) -> None:
    cfg, store, ids = setup(tmp_path)
    parts = parts_for(cfg)
    heard: list[Alert] = []
    beat = ReportBeat(parts, store, heard.append)
    try:
        beat.beat(NOW + timedelta(hours=47))  # 49 h after detection
        assert [r.state for r in records_of(parts, ids["confirmed"])] == ["draft", "draft"]
        assert heard and {a.rule_id for a in heard} == {"phiwatch-report-deadline"}
        assert {a.severity for a in heard} == {"high"}
        assert beat.warnings_raised == len(heard)
        beat.beat(NOW + timedelta(hours=47, minutes=1))
        assert beat.warnings_raised == len(heard)  # never twice
        beat.beat(NOW + timedelta(hours=69))        # 71 h: the urgent one
        assert "critical" in {a.severity for a in heard}
        # maybe() beats at most every few seconds (monotonic clock)
        before = beat.last
        beat.maybe(now=before + 1)
        assert beat.last == before
    finally:
        parts.close()
        store.close()


def test_the_runner_beats_only_with_a_reports_section(tmp_path: Path) -> None:
    cfg, store, _ = setup(tmp_path)
    assert Runner(cfg, store).report_beat is None
    hospital = sample_hospital().model_copy(update={"id": "tu-du"})
    with_reports = cfg.model_copy(update={"reports": ReportsConfig(hospital=hospital),
                                          "state_dir": tmp_path / "var2"})
    runner = Runner(with_reports, store)
    assert runner.report_beat is not None
    runner.report_beat.close()
    runner.pipeline.close()
    store.close()
