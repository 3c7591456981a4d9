"""The shipped HIS × network rule: a bulk lookup, then a large upload from that workstation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from phiwatch.config import BUILTIN_PACKS
from rules.alert import Alert
from rules.engine import Engine
from rules.loader import load_rules
from sensors.event import Event
from sensors.flows.network_model import NetworkConfig, NetworkTagger

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City
RULE = "phiwatch-his-net-lookup-then-upload"
RULESET = load_rules([BUILTIN_PACKS])
WS = "10.20.21.13"
MB = 1_000_000


def lookup(n: int, ip: str = WS) -> list[Event]:
    """``n`` distinct new mothers' records opened by one receptionist, 15 s apart."""
    return [Event(T0 + timedelta(seconds=15 * i), {
        "event.dataset": "his.access", "event.action": "view", "event.outcome": "success",
        "user.id": "tn00417", "user.name": "Trần Thị Hồng Nhung", "user.roles": ["receptionist"],
        "user.department": "tiep-nhan", "source.ip": ip, "host.name": "WS-TN-03",
        "patient.id": f"BN2026{(i * 7919) % 99991:06d}", "phiwatch.care_relationship": True,
        "phiwatch.patient.in_care": True, "phiwatch.user.off_shift_minutes": 0,
        "phiwatch.source.internal": True}, f"his.log:{i}", f"h{i}") for i in range(n)]


def upload(at: float, total: int, src: str = WS, flows: int = 4) -> list[Event]:
    return [Event(T0 + timedelta(seconds=at + 20 * k), {
        "event.dataset": "network.flow", "source.ip": src, "destination.ip": "103.97.125.8",
        "source.port": 50100 + k, "destination.port": 443, "network.transport": "tcp",
        "source.bytes": total // flows, "destination.bytes": 40_000},
        f"cap:#{at}-{k}", f"f{at}-{k}") for k in range(flows)]


def fired(events: Iterable[Event]) -> dict[str, list[Alert]]:
    tag = NetworkTagger(NetworkConfig()).tag
    engine = Engine(RULESET)
    out: dict[str, list[Alert]] = {}
    for e in sorted(events, key=attrgetter("epoch")):
        if e.fields["event.dataset"] == "network.flow":
            tag(e)
        for a in engine.process(e):
            out.setdefault(a.rule_id, []).append(a)
    for a in engine.flush():
        out.setdefault(a.rule_id, []).append(a)
    return out


def test_the_rule_loads_with_both_halves() -> None:
    (rule,) = [c for c in RULESET.correlations if c.id == RULE]
    assert [b.id for b in rule.bases] == [
        "phiwatch-his-bulk-patient-lookup", "phiwatch-net-large-upload"]
    assert rule.spec.severity == "critical"


def test_lookup_then_upload_is_one_critical_alert_naming_everything() -> None:
    events: list[Any] = lookup(200) + upload(200 * 15 + 12 * 60, 80 * MB)
    alerts = fired(events)
    versions = alerts[RULE]
    assert len({a.id for a in versions}) == 1
    text = versions[-1].explanation
    assert text.startswith("tn00417 (Trần Thị Hồng Nhung) opened 200 patients' records on "
                           "WS-TN-03 (10.20.21.13), the last at 2026-11-22 03:49:45")
    assert "sent 80000000 bytes to outside hosts" in text
    assert text.endswith("(last to 103.97.125.8:443)")
    assert versions[-1].context["user.id"] == "tn00417"
    assert {"phiwatch-his-bulk-patient-lookup", "phiwatch-net-large-upload"} <= set(alerts)


def test_no_alert_for_either_half_alone_or_apart() -> None:
    cases = [
        lookup(200),
        upload(0, 80 * MB),
        lookup(200) + upload(200 * 15 + 45 * 60, 80 * MB),  # 45 min later
        lookup(200) + upload(200 * 15 + 600, 80 * MB, src="10.20.21.99"),  # other machine
        upload(0, 80 * MB) + lookup(200, ip=WS),  # upload first
        lookup(60) + upload(60 * 15 + 600, 80 * MB),  # not a bulk lookup
    ]
    for events in cases:
        assert RULE not in fired(events)
