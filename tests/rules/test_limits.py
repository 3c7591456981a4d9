"""Bounded rule state (``rules.limits``): a flood of distinct user names cannot grow the
engine without bound, says so with an alert, and does not hide the real brute force."""

from __future__ import annotations

from datetime import timedelta

from rulekit import T0, his

from phiwatch.config import BUILTIN_PACKS
from rules.engine import Engine
from rules.limits import LIMIT_RULE_ID
from rules.loader import load_rules

PACK = load_rules([BUILTIN_PACKS / "his"])


def test_a_flood_of_distinct_users_stays_within_the_limits_and_raises_one_alert() -> None:
    engine = Engine(PACK, max_groups=1_000, max_groups_total=20_000)
    alerts = []
    for i in range(30_000):  # 30,000 failed logins, each with a new user name, in 5 min
        e = his(i * 0.01, user=f"x{i:06d}", action="login_failed")
        alerts.extend(engine.process(e))
    assert max(len(st.groups) for st in engine.states.values()) <= 1_000
    limit = [a for a in alerts if a.rule_id == LIMIT_RULE_ID]
    assert len({a.group["rule.id"] for a in limit}) >= 1
    assert all(a.severity == "high" and "evicted" in a.explanation for a in limit)
    assert engine.stats()["groups_evicted"] > 0


def test_the_real_brute_force_is_still_caught_inside_the_flood() -> None:
    engine = Engine(PACK, max_groups=1_000)
    fired = []
    t = 0.0
    for i in range(20_000):
        t += 0.01
        fired.extend(engine.process(his(t, user=f"x{i:06d}", action="login_failed")))
        if i % 500 == 0:  # the attacker's own account keeps failing through the flood
            fired.extend(engine.process(his(t, user="nv00042", action="login_failed")))
    fired.extend(engine.process(his(t + 1, user="nv00042", action="login")))
    rules = {a.rule_id for a in fired if a.group.get("user.id") == "nv00042"}
    assert "phiwatch-his-failed-login-burst" in rules


def test_limits_reset_when_the_flood_is_over() -> None:
    engine = Engine(PACK, max_groups=5_000, max_groups_total=2_000)
    for i in range(6_000):
        engine.process(his(i * 0.01, user=f"x{i:06d}", action="login_failed"))
    assert any(st.guard.limit < 5_000 for st in engine.states.values())
    engine.advance((T0 + timedelta(hours=3)).timestamp())
    assert all(st.guard.limit == 5_000 for st in engine.states.values())
