"""Correlations on event time: firing, episodes, ids, flush, lateness, eviction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rulekit import EVENT_COUNT, T0, VALUE_COUNT, by_id, his, load, run

from rules.alert import alert_id
from rules.engine import Engine

MANY_VIEWS = "many_views"  # the rule name: alerts use it as the rule id
MANY_PATIENTS = "many_patients"


def test_event_count_fires_at_threshold_once(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=0)
    assert run(engine, [his(0), his(10)]) == []
    (alert,) = engine.process(his(20))
    assert alert.id == alert_id(MANY_VIEWS, {"user.id": "nv01"}, T0, "tu-du")
    assert (alert.final, alert.revision, alert.event_count) == (False, 3, 3)
    assert alert.group == {"user.id": "nv01"}
    assert alert.window_start == T0 and alert.window_end == T0 + timedelta(seconds=20)
    assert alert.rule_title == "Many views" and alert.severity == "high"
    assert alert.tags == ["attack.collection"]
    assert alert.explanation == (
        "nv01 (Name of nv01) viewed 3 records in 20 s; threshold 3 per 1 min")
    assert alert.context == {"user.id": "nv01", "user.name": "Name of nv01",
                             "source.ip": "10.20.3.45"}
    assert alert.organization_id == "tu-du"
    assert alert.metrics == {"event_count": 3.0, "threshold": 3.0, "timespan_seconds": 60.0}
    assert alert.first_event.timestamp == T0 and alert.first_event.ref.startswith("his.log:")
    assert len(alert.sample) == 3
    # further events join the open episode silently
    assert run(engine, [his(30), his(40)]) == []


def test_event_count_does_not_fire_when_spread_out_or_split_across_users(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=0)
    events = [his(0), his(40), his(80), his(120, user="a"), his(121, user="b"),
              his(122, user="c"), his(123, action="print"), his(124, action="print")]
    assert run(engine, events) == []
    assert engine.flush() == []


def test_episode_closes_with_final_numbers_and_higher_revision(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=30)
    opened = run(engine, [his(t) for t in (0, 10, 20, 30, 40)])
    assert [a.revision for a in opened] == [3]
    # the watermark (newest - 30 s) must pass the last event (40) + 60 s
    assert run(engine, [his(125, user="other")]) == []
    (final,) = run(engine, [his(131, user="other")])
    assert final.id == opened[0].id
    assert (final.final, final.event_count, final.revision) == (True, 5, 6)
    assert final.window_end == T0 + timedelta(seconds=40)
    assert engine.stats()["episodes_closed"] == 1
    # a new burst is a new window, so a new alert
    (again,) = run(engine, [his(t) for t in (300, 301, 302)])
    assert again.id != final.id
    assert again.id == alert_id(MANY_VIEWS, {"user.id": "nv01"},
                                T0 + timedelta(seconds=300), "tu-du")


def test_gap_longer_than_timespan_closes_the_episode_even_before_the_watermark(
    tmp_path: Path,
) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=600)
    (first,) = run(engine, [his(0), his(1), his(2)])
    # 100 s later: more than the 60 s timespan after the episode's last event
    out = run(engine, [his(102), his(103), his(104)])
    assert [(a.id, a.final) for a in out] == [
        (first.id, True),
        (alert_id(MANY_VIEWS, {"user.id": "nv01"}, T0 + timedelta(seconds=102), "tu-du"), False)]
    assert out[0].event_count == 3


def test_flush_emits_open_episodes_without_closing_them(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=60)
    (opened,) = run(engine, [his(t) for t in (0, 5, 10, 15)])
    (flushed,) = engine.flush()
    assert (flushed.id, flushed.final, flushed.revision, flushed.event_count) == (
        opened.id, False, 4, 4)
    assert engine.flush()[0].to_dict() == flushed.to_dict()  # flush changes nothing
    assert run(engine, [his(20)]) == []  # the episode is still open
    assert engine.flush()[0].event_count == 5


def test_flush_closes_what_the_watermark_has_passed(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=100)
    # x arrives first (so its group is swept first) but is newer than nv01's burst
    (opened,) = run(engine, [his(100, user="x"), his(0), his(1), his(2)])
    # watermark 70 is past nv01's last event + 60 s, but the quick sweep stops at live x
    assert run(engine, [his(170, user="y")]) == []
    (final,) = engine.flush()
    assert final.id == opened.id and final.final and final.revision == 4


def test_advance_closes_quiet_episodes_by_wall_clock(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=60)
    (opened,) = run(engine, [his(0), his(1), his(2)])
    base = T0.timestamp()
    assert engine.advance(base + 100) == []  # watermark 40: not past 2 + 60
    assert engine.advance(base + 50) == []  # time never goes back
    (final,) = engine.advance(base + 123)
    assert final.id == opened.id and final.final
    assert engine.is_late(his(62))
    assert engine.flush() == []


def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, VALUE_COUNT), lateness_seconds=0)
    same = [his(t, patient="BN1") for t in range(0, 50, 10)]
    assert run(engine, same) == []
    assert run(engine, [his(60, patient="BN2"), his(70, action="search", patient="BN3"),
                        his(75, user="x", patient="BN3"), his(80, action="view")]) == []
    (alert,) = run(engine, [his(90, action="print", patient="BN3")])
    assert alert.id == alert_id(MANY_PATIENTS, {"user.id": "nv01"}, T0, "tu-du")
    assert (alert.value_count, alert.event_count, alert.revision) == (3, 7, 7)
    assert alert.metrics["value_count"] == 3.0
    assert "3 distinct patient.id" in alert.explanation  # the default sentence
    run(engine, [his(100, patient="BN4"), his(110, patient="BN1")])
    (final,) = run(engine, [his(2000, user="z", patient="BN9")])
    assert (final.final, final.value_count, final.event_count, final.revision) == (
        True, 4, 9, 10)


def test_value_count_window_slides(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, VALUE_COUNT), lateness_seconds=0)
    # three distinct patients, but never three within 10 minutes
    events = [his(0, patient="A"), his(300, patient="B"), his(601, patient="C"),
              his(902, patient="A")]
    assert run(engine, events) == []
    (alert,) = run(engine, [his(903, patient="D")])
    assert alert.window_start == T0 + timedelta(seconds=601)
    assert alert.value_count == 3


def test_events_missing_group_or_counted_field_are_ignored(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, VALUE_COUNT), lateness_seconds=0)
    events = [his(t, patient=f"P{t}") for t in range(3)]
    for e in events:
        del e.fields["user.id"]
    assert run(engine, events) == []
    assert engine.stats()["groups"] == 0


def test_late_events_are_refused(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=60)
    run(engine, [his(1000, user="u")])
    late, on_time = his(939), his(940)
    assert engine.is_late(late) and not engine.is_late(on_time)
    assert engine.process(late) == ()
    assert engine.stats()["late"] == 1


def test_out_of_order_events_within_lateness_keep_the_window_sorted(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT), lateness_seconds=60)
    (alert,) = run(engine, [his(10), his(50), his(0)])
    assert alert.window_start == T0
    assert alert.first_event.timestamp == T0
    assert alert.last_event.timestamp == T0 + timedelta(seconds=50)


def test_idle_groups_expire(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, VALUE_COUNT), lateness_seconds=5)
    events = [his(i * 2.0, user=f"u{i}", patient="P") for i in range(5000)]
    run(engine, events)
    stats = engine.stats()
    # 10-minute windows at one user every 2 s: about 300 live groups, never 5000
    assert stats["groups"] <= 310
    assert stats["groups_expired"] >= 4690
    assert stats["groups_evicted"] == 0  # expiry is not eviction (that bounds memory)


def test_plain_rule_alerts_per_event(tmp_path: Path) -> None:
    ruleset = load(tmp_path, """
        title: Bulk export
        id: 00000000-0000-0000-0000-000000000001
        logsource: {product: his}
        detection:
          sel:
            event.action: export
            his.record_count|gte: 500
          condition: sel
        level: critical
        phiwatch:
          explain: "{user.id} exported {his.record_count} records ({missing.field})"
          context: [user.name, his.record_count]
        """)
    engine = Engine(ruleset)
    big = his(0, action="export", his__record_count=900)
    (alert,) = engine.process(big)
    assert alert.id == alert_id("00000000-0000-0000-0000-000000000001",
                                {"event.id": big.id}, big.timestamp, "tu-du")
    assert (alert.final, alert.revision, alert.severity) == (True, 1, "critical")
    assert alert.explanation == "nv01 exported 900 records (?)"
    # who and where always, then the rule's own context fields, then what it tested
    assert alert.context == {"user.id": "nv01", "source.ip": "10.20.3.45",
                             "user.name": "Name of nv01", "his.record_count": 900,
                             "event.action": "export"}
    assert engine.process(his(1, action="export", his__record_count=10)) == ()


def test_event_matching_two_base_rules_counts_once(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, """
        title: View
        name: view
        logsource: {product: his}
        detection: {sel: {event.action: view}, condition: sel}
        ---
        title: Emr
        name: emr
        logsource: {product: his}
        detection: {sel: {his.module: emr}, condition: sel}
        ---
        title: Views or emr
        name: both
        correlation:
          type: event_count
          rules: [view, emr]
          group-by: [user.id]
          timespan: 1m
          condition: {gte: 3}
        """), lateness_seconds=0)
    assert run(engine, [his(0, his__module="emr"), his(1, his__module="emr")]) == []
    (alert,) = run(engine, [his(2, action="print", his__module="emr")])
    assert alert.event_count == 3


def test_value_sum_and_group_by_several_fields(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, """
        title: Export
        name: export
        logsource: {product: his}
        detection: {sel: {event.action: export}, condition: sel}
        ---
        title: Records exported
        name: exported
        correlation:
          type: value_sum
          rules: [export]
          group-by: [user.id, source.ip]
          timespan: 1h
          condition: {field: his.record_count, gt: 1000}
        phiwatch:
          explain: "{value_sum} records by {user.id} from {source.ip}"
        """), lateness_seconds=0)
    events = [his(0, action="export", his__record_count=600),
              his(10, action="export", his__record_count="300"),
              his(20, action="export", his__record_count="n/a"),
              his(30, action="export", his__record_count=600, source__ip="10.0.0.9")]
    assert run(engine, events) == []
    (alert,) = run(engine, [his(40, action="export", his__record_count=101)])
    assert alert.group == {"user.id": "nv01", "source.ip": "10.20.3.45"}
    assert alert.explanation == "1001 records by nv01 from 10.20.3.45"
    assert alert.metrics["value_sum"] == 1001.0 and alert.event_count == 3


def test_first_and_last_placeholders(tmp_path: Path) -> None:
    text = EVENT_COUNT.replace(
        "    {user.id} ({user.name}) viewed",
        "    from {first.source.ip} to {last.source.ip} {source.ip};"
        " {user.id} ({user.name}) viewed")
    engine = Engine(load(tmp_path, text), lateness_seconds=0)
    (alert,) = run(engine, [his(0, source__ip="1.1.1.1"), his(1), his(2, source__ip="2.2.2.2")])
    assert alert.explanation.startswith("from 1.1.1.1 to 2.2.2.2 2.2.2.2; nv01")


def test_no_alerts_is_a_shared_empty_result(tmp_path: Path) -> None:
    engine = Engine(load(tmp_path, EVENT_COUNT))
    assert engine.process(his(0)) is engine.process(his(1, action="print"))
    assert len(by_id([])) == 0
