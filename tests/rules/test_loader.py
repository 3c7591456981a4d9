"""Loading rule folders: broken rules are reported with file and reason, the rest load."""

from __future__ import annotations

from pathlib import Path

from rulekit import EVENT_COUNT, VALUE_COUNT, load, write

from phiwatch.render.rules import format_report
from phiwatch.service import validate_rules
from rules.loader import load_rules

GOOD = """
title: Bulk export
id: 00000000-0000-0000-0000-000000000001
logsource: {product: his, category: access}
detection:
  sel:
    event.action: export
    his.record_count|gte: 500
  condition: sel
level: high
"""


def _messages(folder: Path) -> list[str]:
    return [str(e) for e in load_rules([folder]).errors]


def test_shipped_packs_load_cleanly() -> None:
    packs = Path(__file__).resolve().parents[2] / "rules" / "packs"
    result = validate_rules([packs])
    errors, good = result.errors, result.ready
    assert [str(e) for e in errors] == []
    assert good >= 7


def test_broken_rules_are_reported_and_the_others_load(tmp_path: Path) -> None:
    write(tmp_path, "good.yml", GOOD)
    write(tmp_path, "sub/dir/also_good.yaml", GOOD.replace("000000000001", "000000000002"))
    write(tmp_path, "bad_yaml.yml", "title: x\ndetection: [unclosed\n")
    write(tmp_path, "bad_sigma.yml", """
        title: No condition
        logsource: {product: his}
        detection:
          sel: {event.action: view}
        """)
    write(tmp_path, "bad_modifier.yml", """
        title: Unknown modifier
        logsource: {product: his}
        detection:
          sel: {event.action|frobnicate: view}
          condition: sel
        """)
    write(tmp_path, "unsupported.yml", """
        title: Base64 offset
        logsource: {product: his}
        detection:
          sel: {his.query|base64offset|contains: SELECT}
          condition: sel
        """)
    write(tmp_path, "bad_condition.yml", """
        title: Undefined selection
        logsource: {product: his}
        detection:
          sel: {event.action: view}
          condition: sel and other
        """)
    write(tmp_path, "bad_ref.yml", """
        title: Dangling correlation
        correlation:
          type: event_count
          rules: [no_such_rule]
          group-by: [user.id]
          timespan: 5m
          condition: {gte: 3}
        """)
    write(tmp_path, "notes.txt", "not a rule")
    ruleset = load_rules([tmp_path])
    assert sorted(d.id[-1] for d in ruleset.detections) == ["1", "2"]  # no name: the id
    by_file = {Path(e.path).name: e for e in ruleset.errors}
    assert set(by_file) == {"bad_yaml.yml", "bad_sigma.yml", "bad_modifier.yml",
                            "unsupported.yml", "bad_condition.yml", "bad_ref.yml"}
    assert all(e.is_error for e in ruleset.errors)
    assert "invalid YAML" in by_file["bad_yaml.yml"].message
    assert "at line " in by_file["bad_yaml.yml"].message
    assert by_file["bad_sigma.yml"].rule == "No condition"
    assert "condition" in by_file["bad_sigma.yml"].message
    assert "frobnicate" in by_file["bad_modifier.yml"].message
    assert by_file["unsupported.yml"].rule == "Base64 offset"
    assert "modifier 'base64offset'" in by_file["unsupported.yml"].message
    assert "'other'" in by_file["bad_condition.yml"].message
    assert "no_such_rule" in by_file["bad_ref.yml"].message
    assert by_file["bad_ref.yml"].rule == "Dangling correlation"


def test_one_bad_rule_in_a_multi_document_file(tmp_path: Path) -> None:
    write(tmp_path, "mixed.yml", GOOD + """
---
title: Broken one
logsource: {product: his}
detection:
  sel: {event.action|nope: x}
  condition: sel
""")
    ruleset = load_rules([tmp_path])
    assert [d.title for d in ruleset.detections] == ["Bulk export"]
    assert [(Path(e.path).name, e.rule) for e in ruleset.errors] == [("mixed.yml", "Broken one")]


def test_logsource_without_dataset_is_a_warning_and_not_evaluated(tmp_path: Path) -> None:
    ruleset = load(tmp_path, """
        title: Windows process
        logsource: {product: windows, category: process_creation}
        detection:
          sel: {Image|endswith: '\\cmd.exe'}
          condition: sel
        """)
    assert ruleset.detections == []
    (err,) = ruleset.errors
    assert err.level == "warning" and not err.is_error
    assert "product=windows, category=process_creation" in err.message


def test_network_logsources_map_to_their_datasets(tmp_path: Path) -> None:
    ruleset = load(tmp_path, """
        title: Outbound
        logsource: {category: network_connection}
        detection:
          sel: {destination.port: 443}
          condition: sel
        ---
        title: DNS
        logsource: {category: dns}
        detection:
          sel: {dns.question.name|endswith: .xyz}
          condition: sel
        """)
    assert {d.title: set(d.datasets) for d in ruleset.detections} == {
        "Outbound": {"network.flow"}, "DNS": {"network.dns"}}


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", GOOD)
    write(tmp_path, "b.yml", GOOD.replace("Bulk export", "Copy"))
    ruleset = load_rules([tmp_path])
    assert [d.title for d in ruleset.detections] == ["Bulk export"]
    (err,) = ruleset.errors
    assert err.rule == "Copy" and "already used" in err.message and "a.yml" in err.message


def test_a_count_over_a_correlation_is_refused(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT + """
---
title: Many bursts
correlation:
  type: event_count
  rules: [many_views]
  group-by: [user.id]
  timespan: 1h
  condition: {gte: 2}
""")
    assert [c.title for c in ruleset.correlations] == ["Many views"]
    (err,) = ruleset.errors
    assert err.rule == "Many bursts" and "must be 'temporal'" in err.message

def test_building_blocks_do_not_alert_alone_unless_generate(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    assert [(d.title, d.alerts) for d in ruleset.detections] == [("Record view", False)]
    ruleset = load(tmp_path, EVENT_COUNT.replace("  type: event_count",
                                                 "  type: event_count\n  generate: true"))
    assert [(d.title, d.alerts) for d in ruleset.detections] == [("Record view", True)]


def test_rule_metadata_and_extension(tmp_path: Path) -> None:
    ruleset = load(tmp_path, EVENT_COUNT)
    (corr,) = ruleset.correlations
    assert corr.id == "many_views"  # the name first, else the id
    assert corr.spec.severity == "high"
    assert corr.spec.tags == ("attack.collection",)
    assert corr.spec.context == ("user.id", "source.ip", "host.name", "user.name")
    assert corr.timespan == 60 and corr.op == "gte" and corr.threshold == 3
    (det,) = ruleset.detections
    assert det.spec.severity == "medium"  # no level: medium


def test_bad_extension_is_an_error_unknown_key_a_warning(tmp_path: Path) -> None:
    ruleset = load(tmp_path, GOOD + "phiwatch:\n  explain: [not, a, string]\n")
    assert ruleset.detections == []
    assert "phiwatch.explain" in ruleset.errors[0].message
    ruleset = load(tmp_path, GOOD + "phiwatch:\n  explain: hi\n  baselines: p99\n")
    assert len(ruleset.detections) == 1
    (warn,) = ruleset.errors
    assert warn.level == "warning" and "phiwatch.baselines" in warn.message
    ruleset = load(tmp_path, GOOD + "phiwatch:\n  baseline: p99\n")
    assert ruleset.detections == []
    assert "'phiwatch.baseline' must be a mapping" in ruleset.errors[0].message


def test_aliases_map_group_by_per_rule(tmp_path: Path) -> None:
    ruleset = load(tmp_path, VALUE_COUNT.replace(
        "  group-by: [user.id]", "  group-by: [who]\n  aliases:\n    who:\n      record: user.id"))
    (corr,) = ruleset.correlations
    assert corr.group_by == ("who",)
    assert corr.group_fields == {corr.bases[0].id: ("user.id",)}


def test_missing_folder_and_report_format(tmp_path: Path) -> None:
    write(tmp_path, "good.yml", GOOD)
    write(tmp_path, "bad.yml", "title: [\n")
    result = validate_rules([tmp_path, tmp_path / "absent"])
    errors, good = result.errors, result.ready
    report = format_report(errors, good)
    lines = report.splitlines()
    assert any("absent: error: no such file or folder" in line for line in lines)
    assert any("bad.yml: error: invalid YAML" in line for line in lines)
    assert lines[-1] == "1 rule ready; 2 errors, 0 warnings"


def test_messages_name_the_file_not_an_absolute_path(tmp_path: Path) -> None:
    write(tmp_path, "x.yml", "title: T\nlogsource: {product: his}\ndetection:\n  a: {b|zz: 1}\n"
          "  condition: a\n")
    (msg,) = _messages(tmp_path)
    assert msg.startswith(str(tmp_path / "x.yml") + ": error: rule 'T': ")
    assert msg.count(str(tmp_path)) == 1
