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


def export(at: float, count: int = 3000, ip: str = WS) -> list[Event]:
    """One export of ``count`` records: a harvest in one action."""
    return [Event(T0 + timedelta(seconds=at), {
        "event.dataset": "his.access", "event.action": "export", "event.outcome": "success",
        "user.id": "bs00213", "user.name": "Lê Văn Tâm", "user.roles": ["doctor"],
        "user.department": "noi", "source.ip": ip, "host.name": "WS-NOI-07",
        "his.record_count": count, "phiwatch.source.internal": True,
        "phiwatch.user.off_shift_minutes": 0}, "his.log:900", "x900")]


def test_the_rule_reads_alerts_of_any_harvest_and_any_upload() -> None:
    (rule,) = [c for c in RULESET.correlations if c.id == RULE]
    assert [b.id for b in rule.bases] == ["phiwatch_harvest_alert",
                                          "phiwatch_exfiltration_alert"]
    assert rule.spec.severity == "critical"
    tagged = {r.id: r.spec.tags for r in RULESET.rules}
    for harvest in ("phiwatch-his-bulk-patient-lookup", "phiwatch-his-slow-harvest",
                    "phiwatch-his-no-care-volume", "phiwatch-his-maternity-bulk-nonclinical",
                    "phiwatch-his-sequential-enumeration", "phiwatch-his-machine-speed-viewing",
                    "phiwatch-his-bulk-export"):
        assert "phiwatch.harvest" in tagged[harvest], harvest
    for upload_rule in ("phiwatch-net-large-upload", "phiwatch-net-upload-above-baseline",
                        "phiwatch-net-filesharing-upload", "phiwatch-net-dns-tunnel-encoded-names"):
        assert "phiwatch.exfiltration" in tagged[upload_rule], upload_rule


def test_lookup_then_upload_is_one_critical_alert_naming_everything() -> None:
    events: list[Any] = lookup(200) + upload(200 * 15 + 12 * 60, 80 * MB)
    alerts = fired(events)
    versions = alerts[RULE]
    assert len({a.id for a in versions}) == 1
    final = versions[-1]
    assert final.severity == "critical"
    text = final.explanation
    assert text.startswith("tn00417 (Trần Thị Hồng Nhung) harvested patient records on "
                           "WS-TN-03 (10.20.21.13): ")
    assert "opened 200 distinct patients' records" in text  # the harvest's own sentence
    assert "sent 80000000 bytes to outside hosts" in text
    assert "most of it to 103.97.125.8 (80000000 bytes)" in text  # the upload's own host
    assert final.context["user.id"] == "tn00417"
    assert {"phiwatch-his-bulk-patient-lookup", "phiwatch-net-large-upload"} <= set(alerts)


def test_any_harvest_then_any_upload() -> None:
    """A harvest the hourly lookup rule never sees (one export), then an upload that only
    the file-sharing names reveal: still one critical alert about that workstation."""
    events = export(0, ip=WS) + upload(2 * 3600, 80 * MB)
    alerts = fired(events)
    assert RULE in alerts
    assert "phiwatch-his-bulk-export" in alerts
    assert alerts[RULE][-1].context["user.id"] == "bs00213"


def test_no_alert_for_either_half_alone_or_apart() -> None:
    cases = [
        lookup(200),
        upload(0, 80 * MB),
        lookup(200) + upload(200 * 15 + 5 * 3600, 80 * MB),  # five hours later
        lookup(200) + upload(200 * 15 + 600, 80 * MB, src="10.20.21.99"),  # other machine
        upload(0, 80 * MB) + lookup(200, ip=WS),  # upload first
        lookup(60) + upload(60 * 15 + 600, 80 * MB),  # not a harvest
    ]
    for events in cases:
        assert RULE not in fired(events)


def test_the_window_runs_from_the_harvests_last_record_and_fires_at_the_upload() -> None:
    """A lookup that goes on for five hours crosses its threshold in the first; an upload
    four and a half hours after that crossing but half an hour after the last record is
    tied to it — at once, when the upload is seen, not when the lookup's episode closes."""
    steady = [Event(T0 + timedelta(seconds=60 * i), {
        "event.dataset": "his.access", "event.action": "view", "event.outcome": "success",
        "user.id": "tn00417", "user.name": "Trần Thị Hồng Nhung", "source.ip": WS,
        "host.name": "WS-TN-03", "patient.id": f"BN2026{(i * 7919) % 99991:06d}",
        "phiwatch.source.internal": True}, f"his.log:{i}", f"s{i}")
        for i in range(300)]  # two distinct patients a minute for five hours
    steady += [Event(T0 + timedelta(seconds=30 + 60 * i), {
        **steady[i].fields, "patient.id": f"BN3026{(i * 104729) % 99991:06d}"},
        f"his.log:b{i}", f"t{i}") for i in range(300)]
    up = upload(300 * 60 + 30 * 60, 80 * MB)
    tag = NetworkTagger(NetworkConfig()).tag
    engine = Engine(RULESET)
    during: list[Alert] = []
    for e in sorted(steady + up, key=attrgetter("epoch")):
        if e.fields["event.dataset"] == "network.flow":
            tag(e)
        during.extend(engine.process(e))
    assert any(a.rule_id == RULE for a in during), sorted({a.rule_id for a in during})
