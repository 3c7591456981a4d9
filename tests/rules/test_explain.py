"""One sentence per alert: templates, placeholders, durations, defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rulekit import EVENT_COUNT, his, load, run

from rules.engine import Engine
from rules.explain import AlertSpec, Template, human_duration


def test_template_renders_missing_placeholders_as_question_marks() -> None:
    values: dict[str, Any] = {"user.id": "nv01", "user.roles": ["nurse", "midwife"],
                              "n": 312.0, "empty": "", "ratio": 0.5}
    t = Template("{user.id} ({user.roles}) viewed {n} in {nope}; {empty} {ratio} {{literal}}")
    assert t.render(values.get) == "nv01 (nurse, midwife) viewed 312 in ?; ? 0.5 {literal}"


def test_template_folds_whitespace_from_yaml_blocks() -> None:
    assert Template("a\n  {x}\n b").render(lambda name: 1) == "a 1 b"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.4, "59 s"), (60, "1 min"), (2820, "47 min"), (3600, "1 h"),
     (7500, "2 h 5 min"), (86400, "1 d"), (97200, "1 d 3 h"), (-5, "0 s")],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_spec_keeps_what_the_sentence_and_context_need() -> None:
    spec = AlertSpec.build("r", "T", "high", ["attack.x"],
                           "{user.id} {first.source.ip} {last.host.name} {event_count}",
                           ["user.roles"])
    assert spec.keep == ("user.id", "host.name", "source.ip", "user.roles", "organization.id")
    assert spec.keep_first == ("source.ip",)
    assert spec.context == ("user.id", "source.ip", "host.name", "user.roles")


def test_default_sentence_without_template(tmp_path: Path) -> None:
    text = EVENT_COUNT[: EVENT_COUNT.index("phiwatch:")]
    engine = Engine(load(tmp_path, text), lateness_seconds=0)
    (alert,) = run(engine, [his(0), his(30), his(59)])
    assert alert.explanation == (
        "3 events matching 'Many views' for user.id=nv01 in 59 s; threshold >= 3 in 1 min")


def test_a_patient_the_sentence_names_is_kept_as_a_field() -> None:
    """So the API can show it pseudonymized to inspectors (a sentence is masked only by
    the hospital's id patterns)."""
    spec = AlertSpec.build("r", "t", "high", [], "{user.id} opened {patient.id} "
                           "({last.patient.flags}); first {first.patient.name}", ["host.name"])
    assert spec.context == ("user.id", "source.ip", "host.name", "patient.id",
                            "patient.flags")
