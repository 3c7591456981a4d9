"""``rules test``: matches by file:line, state per group at the end, alerts it would raise."""

from __future__ import annotations

from pathlib import Path

from rulekit import EVENT_COUNT, his, write
from test_temporal import ORDERED

from phiwatch.render.rules import format_test_report
from rules import ruletest


def test_report_lists_matches_state_and_alerts(tmp_path: Path) -> None:
    rules = write(tmp_path, "r.yml", EVENT_COUNT.replace(
        "{user.id} ({user.name})", "[{user.id}] ({user.name})"))
    events = [his(0), his(1), his(2), his(3, "nv02"), his(4, action="search")]
    report = ruletest.test_rule(rules, events, lateness_seconds=0)
    assert report.matched == {"view": 4}
    assert report.matches["view"] == [e.ref for e in events[:4]]
    assert len(report.alerts) == 1 and not report.alerts[0].final
    state = report.state["many_views"]
    assert any(line.startswith("user.id=nv01: episode open") for line in state)
    assert "user.id=nv02: 1 event(s) in the window, figure 1 (needs gte 3)" in state
    text = format_test_report(report)
    assert "  view: 4 event(s)" in text
    assert f"    {events[0].ref}" in text
    assert "Alerts it would raise: 1" in text
    assert "[nv01] (Name of nv01) viewed 3 records" in text  # brackets kept as they are


def test_report_shows_temporal_state_and_rule_errors(tmp_path: Path) -> None:
    write(tmp_path, "t.yml", ORDERED)
    write(tmp_path, "bad.yml", "title: broken\nlogsource: {product: his}\n")
    report = ruletest.test_rule(tmp_path, [his(0, action="login_failed")], lateness_seconds=0)
    assert report.errors
    assert report.state["guess_then_export"] == ["user.id=nv01: seen failed x1 in the window"]
    text = format_test_report(report)
    assert "bad.yml" in text and "Alerts it would raise: 0" in text


def test_report_shows_baselines(tmp_path: Path) -> None:
    from test_baseline import NURSE, RULE, hour

    write(tmp_path, "b.yml", RULE)
    events = hour(0, 8, "nv01", 5, **NURSE) + hour(0, 9, "nv01", 45, **NURSE)
    report = ruletest.test_rule(tmp_path, events)
    lines = report.state["harvest"]
    assert "nv01: 1 past period(s) of 1 h, last 5" in lines
    assert any("open period from" in line and "(fired)" in line for line in lines)
    assert "peers nurse, san-a: 1 sampled period(s)" in lines
