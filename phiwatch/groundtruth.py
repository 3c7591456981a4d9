"""Scoring phiwatch against a simulated hospital's ground truth.

Why here and not in the simulator: a data generator must not know the rules it is used to
judge. ``ground_truth.json`` labels each injected incident by ``kind`` and by the facts
that describe it (user, workstation, times, patients, bytes …); which of phiwatch's rules
should catch each kind is the evaluation's business, and lives in :data:`EXPECTED_RULES`.
A kind missing from it expects nothing (the bench says so rather than failing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerting.store import alert_user
from rules.alert import Alert

BULK_LOOKUP = "phiwatch-his-bulk-patient-lookup"
MACHINE_SPEED = "phiwatch-his-machine-speed-viewing"
BULK_EXPORT = "phiwatch-his-bulk-export"
FAILED_LOGINS = "phiwatch-his-failed-login-burst"
LARGE_UPLOAD = "phiwatch-net-large-upload"
LOOKUP_THEN_UPLOAD = "phiwatch-his-net-lookup-then-upload"
NO_CARE_VOLUME = "phiwatch-his-no-care-volume"
DNS_TUNNEL = ("phiwatch-net-dns-tunnel-encoded-names", "phiwatch-net-dns-tunnel-unique-names",
              "phiwatch-net-dns-tunnel-record-types")

#: Incident kind → the ids of the rules that should each catch it (any one is a detection).
EXPECTED_RULES: dict[str, tuple[str, ...]] = {
    # fixed thresholds
    "bulk_harvest": (BULK_LOOKUP,),
    "scripted_scraper": (MACHINE_SPEED, BULK_LOOKUP),
    "bulk_export": (BULK_EXPORT,),
    "brute_force": (FAILED_LOGINS,),
    # context, baselines, sequences
    "slow_harvest": ("phiwatch-his-slow-harvest",),
    "maternity_bulk_nonclinical": ("phiwatch-his-maternity-bulk-nonclinical",),
    "off_shift_access": ("phiwatch-his-off-shift-access",),
    "flagged_patient_no_care": ("phiwatch-his-flagged-patient-no-care",),
    "terminated_account": ("phiwatch-his-terminated-account",),
    "vendor_patient_data": ("phiwatch-his-vendor-patient-data",),
    "sequential_enumeration": ("phiwatch-his-sequential-enumeration",),
    "workstation_hop": ("phiwatch-his-impossible-workstation-hop",),
    "own_record": ("phiwatch-his-own-record",),
    "failed_then_success": ("phiwatch-his-failed-then-success",),
    "external_login": ("phiwatch-his-external-login",),
    # the network capture
    "net_exfil_upload": (LARGE_UPLOAD,),
    "dns_tunnel": DNS_TUNNEL,
    "beaconing": ("phiwatch-net-beaconing",),
    "lookup_then_upload": (LOOKUP_THEN_UPLOAD, BULK_LOOKUP, LARGE_UPLOAD),
    # another ward's mothers, slowly over several afternoons, then a modest upload
    "ward_harvest_upload": (NO_CARE_VOLUME, LOOKUP_THEN_UPLOAD),
}


def expected_rules(incident: Mapping[str, Any]) -> tuple[str, ...]:
    """The rules that should catch ``incident`` (by its ``kind``); empty when unknown."""
    return EXPECTED_RULES.get(str(incident.get("kind")), ())


@dataclass
class Match:
    incident: dict[str, Any]
    alerts: list[Alert]


def match_ground_truth(incidents: list[dict[str, Any]], alerts: list[Alert]) -> list[Match]:
    """Each injected incident with the alerts that caught it: alerts of a rule the
    incident's kind expects that are ``about`` it."""
    matches = []
    for inc in incidents:
        expected = set(expected_rules(inc))
        matches.append(Match(inc, [a for a in alerts
                                   if a.rule_id in expected and about(a, inc)]))
    return matches


def about(alert: Alert, incident: Mapping[str, Any]) -> bool:
    """Whether ``alert`` concerns ``incident``: its window overlaps the incident's time and
    it names the incident's user, or — network alerts name no user — its address."""
    start = datetime.fromisoformat(incident["start"])
    end = datetime.fromisoformat(incident["end"])
    if not (alert.window_start <= end and alert.window_end >= start):
        return False
    user = incident.get("user.id")
    if user is not None and alert_user(alert) == user:
        return True
    ip = incident.get("source.ip")
    return ip is not None and alert.context.get("source.ip") == ip
