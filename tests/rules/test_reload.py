"""Hot reload: new rules without a restart, state kept for the unchanged ones."""

from __future__ import annotations

from pathlib import Path

from rulekit import EVENT_COUNT, VALUE_COUNT, his, run, write

from rules.engine import Engine
from rules.loader import load_rules


def setup(tmp_path: Path) -> tuple[Path, Engine]:
    write(tmp_path, "count.yml", EVENT_COUNT)
    write(tmp_path, "values.yml", VALUE_COUNT)
    engine = Engine(load_rules([tmp_path]), lateness_seconds=0)
    # two views each: one short of many_views (3) and of many_patients (3)
    run(engine, [his(0, patient="BN1"), his(1, patient="BN2")])
    return tmp_path, engine


def test_unchanged_rules_keep_their_windows(tmp_path: Path) -> None:
    folder, engine = setup(tmp_path)
    report = engine.reload(load_rules([folder]))
    assert report.kept == ["many_patients", "many_views", "record", "view"]
    assert report.changed == report.added == report.removed == report.held == []
    fired = run(engine, [his(2, patient="BN3")])
    assert sorted(a.rule_id for a in fired) == ["many_patients", "many_views"]


def test_changed_rule_starts_afresh_and_others_keep_state(tmp_path: Path) -> None:
    folder, engine = setup(tmp_path)
    write(folder, "values.yml", VALUE_COUNT.replace("gte: 3", "gte: 2"))
    report = engine.reload(load_rules([folder]))
    assert report.changed == ["many_patients"]
    assert report.kept == ["many_views", "record", "view"]
    fired = run(engine, [his(2, patient="BN3")])
    assert [a.rule_id for a in fired] == ["many_views"]  # many_patients' window is new
    assert [a.rule_id for a in run(engine, [his(3, patient="BN4")])] == ["many_patients"]


def test_added_and_removed_rules(tmp_path: Path) -> None:
    folder, engine = setup(tmp_path)
    (folder / "values.yml").unlink()
    write(folder, "export.yml", """
        title: Export
        name: export
        logsource: {product: his}
        detection:
          sel: {event.action: export}
          condition: sel
    """)
    report = engine.reload(load_rules([folder]))
    assert report.added == ["export"]
    assert report.removed == ["many_patients", "record"]
    assert set(engine.snapshot()["correlations"]) == {"many_views"}
    assert [a.rule_id for a in run(engine, [his(2, action="export")])] == ["export"]


def test_a_broken_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    folder, engine = setup(tmp_path)
    write(folder, "values.yml", VALUE_COUNT.replace("type: value_count", "type: valu_count"))
    report = engine.reload(load_rules([folder]))
    assert report.held == ["many_patients"] and not report.ok
    assert "held (many_patients)" in str(report)
    assert "valu_count" in str(report)
    fired = run(engine, [his(2, patient="BN3")])
    assert sorted(a.rule_id for a in fired) == ["many_patients", "many_views"]


def test_whole_file_broken_holds_all_its_rules(tmp_path: Path) -> None:
    folder, engine = setup(tmp_path)
    write(folder, "count.yml", "title: [unclosed\n")
    report = engine.reload(load_rules([folder]))
    assert report.held == ["many_views", "view"]
    assert sorted(a.rule_id for a in run(engine, [his(2, patient="BN3")])) == [
        "many_patients", "many_views"]


def test_reload_keeps_baselines_and_realert_memory(tmp_path: Path) -> None:
    from test_baseline import RULE, hour

    rule = RULE.replace("  explain:", "  realert: 1d\n  explain:")
    write(tmp_path, "b.yml", rule)
    engine = Engine(load_rules([tmp_path]), lateness_seconds=60)
    run(engine, hour(0, 8, "nv98", 45))  # fires on the floor
    before = engine.snapshot()["correlations"]["harvest"]
    report = engine.reload(load_rules([tmp_path]))
    assert report.kept == ["harvest"]
    after = engine.snapshot()
    assert after["correlations"]["harvest"] == before
    assert after["suppression"]["harvest"]["groups"]
    # realert remembered: the next hour's burst is suppressed
    assert [a for a in run(engine, hour(0, 9, "nv98", 45)) if not a.final] == []
    write(tmp_path, "b.yml", rule.replace("floor: 40", "floor: 30"))
    report = engine.reload(load_rules([tmp_path]))
    assert report.changed == ["harvest"]
    assert engine.snapshot()["correlations"]["harvest"]["users"] == []
