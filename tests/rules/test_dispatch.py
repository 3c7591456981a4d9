"""The engine's pre-selection of rules by field value skips only rules that cannot match."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from rulekit import his, load

from rules.engine import Engine

RULES = """
title: A
name: a
logsource: {product: his}
detection: {sel: {event.action: view}, condition: sel}
---
title: B
name: b
logsource: {product: his}
detection:
  sel:
    event.action: [Export, print]
    his.record_count|gte: 1
  condition: sel
---
title: C
name: c
logsource: {product: his}
detection: {sel: {user.id|startswith: nv}, condition: sel}
---
title: D
name: d
logsource: {product: his}
detection: {sel: {his.module: emr}, condition: sel}
---
title: E
name: e
logsource: {product: his}
detection: {sel: {event.action: view}, condition: not sel}
"""


def test_dispatch_agrees_with_every_predicate(tmp_path: Path) -> None:
    ruleset = load(tmp_path, RULES)
    assert {d.id: d.requirement is not None for d in ruleset.detections} == {
        "a": True, "b": True, "c": False, "d": True, "e": False}
    engine = Engine(ruleset)
    actions: list[Any] = ["view", "VIEW", "View", ["x", "view"], 5, None, "export", "Print",
                          "search", ""]
    users = ["nv01", "bs02"]
    modules: list[Any] = ["emr", "EMR", None, ["emr"]]
    for i, (action, user, module) in enumerate(itertools.product(actions, users, modules)):
        event = his(i, user=user, action="view", his__record_count=3)
        if action is None:
            del event.fields["event.action"]
        else:
            event.fields["event.action"] = action
        if module is not None:
            event.fields["his.module"] = module
        fired = {a.rule_id for a in engine.process(event)}
        expected = {d.id for d in ruleset.detections if d.predicate(event.fields)}
        assert fired == expected, (action, user, module)
    assert engine.stats()["events"] == len(actions) * len(users) * len(modules)
