"""From an incident and its alerts to ``ReportFacts``: what the report may say, and no more.

The incident gives the detection time (the 72-hour clock), the status history (analysts'
notes: the cause as far as known, the measures taken), the alerts' sentences; the alerts
give who and where (their ECS context: ``user.*``, ``host.name``, ``source.ip``,
``destination.*``) and the evidence times. Alerts keep no patient ids, so the patients and
records come from ``evidence``: the events the alerts point at, which the caller reads
back from its event store (``EvidenceRecord``). Without evidence the counts are the
alerts' own (``counts_basis="alerts"``, a lower bound) and the annex is empty.

Patient ids never enter the facts: each goes through ``pseudonymize`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from alerting.incident import Incident, StatusChange
from alerting.reports import safe_text
from alerting.reports.errors import FactsError
from alerting.reports.masking import Masker, patient_ids
from alerting.reports.model import (
    Account,
    AffectedPatient,
    ContactFacts,
    Measure,
    Notified,
    ReportFacts,
    RuleHit,
    Workstation,
)
from alerting.reports.profile import HospitalProfile
from rules.alert import Alert

#: HIS module codes as the report names them; unknown codes are printed as they are.
MODULE_NAMES: Mapping[str, str] = {
    "emr": "Bệnh án điện tử (EMR)",
    "his": "Phần mềm quản lý bệnh viện (HIS)",
    "lis": "Hệ thống xét nghiệm (LIS)",
    "lab": "Hệ thống xét nghiệm (LIS)",
    "pacs": "Hệ thống lưu trữ và truyền hình ảnh (PACS)",
    "ris": "Hệ thống thông tin chẩn đoán hình ảnh (RIS)",
    "pharmacy": "Quản lý dược",
    "billing": "Viện phí",
    "registration": "Tiếp nhận, đăng ký khám",
    "reception": "Tiếp nhận, đăng ký khám",
}
STATUS_NAMES: Mapping[str, str] = {
    "new": "Mới phát hiện",
    "investigating": "Đang xác minh",
    "confirmed_leak": "Xác nhận lộ lọt dữ liệu",
    "false_positive": "Cảnh báo nhầm",
    "reported": "Đã báo cáo",
    "closed": "Đã đóng",
}
_NETWORK_KEYS = ("destination.ip", "destination.domain")


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One event behind the incident's alerts, as the caller read it back.

    ``patient_id`` is the hospital's id (pseudonymized here, never stored in the facts);
    ``record_count`` is ``his.record_count`` (1 for a single view); ``bytes_out`` is
    ``source.bytes`` of a flow.
    """

    timestamp: datetime
    patient_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    host: str | None = None
    source_ip: str | None = None
    module: str | None = None
    action: str | None = None
    record_count: int = 1
    bytes_out: int = 0


@dataclass(frozen=True, slots=True)
class Notification:
    """Someone else told of the incident, and when (the police, the patients' families)."""

    recipient: str
    at: datetime
    channel: str = ""


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise FactsError(what, "needs a timezone-aware time")
    return dt.astimezone(UTC)


def _text_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(v for v in (safe_text.name(i) for i in items) if v)


class _Accounts:
    """Accounts by id, the first non-empty value of each field winning."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, uid: Any, name: Any = None, roles: Any = None, dept: Any = None) -> None:
        if uid is None or not (key := safe_text.name(uid)):
            return
        entry = self._by_id.setdefault(key, {"name": "", "roles": (), "department": ""})
        if not entry["name"] and name:
            entry["name"] = safe_text.name(name)
        if not entry["roles"] and roles:
            entry["roles"] = _text_list(roles)
        if not entry["department"] and dept:
            entry["department"] = safe_text.name(dept)

    def result(self) -> tuple[Account, ...]:
        return tuple(Account(id=k, **v) for k, v in sorted(self._by_id.items()))


def _measure(change: StatusChange, mask: Callable[[str], str]) -> Measure | None:
    if change.from_status is None or not change.note.strip():
        return None
    label = STATUS_NAMES.get(change.to_status, change.to_status)
    return Measure(text=safe_text.clean(f"{label}: {mask(change.note)}"), at=change.at,
                   by=safe_text.name(change.actor))


def facts_from_incident(
    incident: Incident,
    alerts: Sequence[Alert],
    hospital: HospitalProfile,
    *,
    now: datetime,
    pseudonymize: Callable[[str], str],
    evidence: Iterable[EvidenceRecord] = (),
    notified: Iterable[Notification] = (),
    measures_taken: Iterable[str] = (),
    measures_planned: Iterable[str] | None = None,
    patient_patterns: Iterable[str] = (),
) -> ReportFacts:
    """The facts of ``incident`` for ``hospital``; ``FactsError`` when they do not fit.

    ``alerts`` are the incident's alerts as the alert store holds them (others are
    ignored); ``now`` is when the facts are drawn (event time in a replay, wall time
    live). ``measures_taken`` add to the history's notes and the profile's standing
    measures; ``measures_planned`` replaces the profile's list when given. Patient ids in
    the sentences quoted (explanations, notes) become pseudonyms too: those the alerts
    and the evidence name, and matches of ``patient_patterns`` (regular expressions).
    """
    if incident.organization_id is not None and incident.organization_id != hospital.id:
        raise FactsError(f"incident {incident.id}",
                         f"belongs to {incident.organization_id!r}, not {hospital.id!r}")
    now = _aware(now, "now")
    ids = set(incident.alert_ids)
    mine = [a for a in alerts if a.id in ids]
    records = [r for r in evidence]
    known: set[str] = {r.patient_id.strip() for r in records if r.patient_id}
    for a in mine:
        known |= patient_ids(a.context) | patient_ids(a.group)
    mask = Masker(pseudonymize, known, patient_patterns)

    accounts = _Accounts()
    stations: dict[tuple[str, str], None] = {}
    modules: dict[str, None] = {}
    destinations: dict[str, None] = {}
    times: list[datetime] = []
    for a in mine:
        ctx = a.context
        accounts.add(ctx.get("user.id") or a.group.get("user.id"),
                     ctx.get("user.full_name") or ctx.get("user.name"),
                     ctx.get("user.roles"), ctx.get("user.department"))
        host, ip = safe_text.name(ctx.get("host.name") or ""), safe_text.name(
            ctx.get("source.ip") or "")
        if host or ip:
            stations[(host, ip)] = None
        if ctx.get("his.module"):
            modules[safe_text.name(ctx["his.module"])] = None
        dest = ctx.get("destination.domain") or ctx.get("destination.ip")
        if dest:
            port = ctx.get("destination.port")
            destinations[safe_text.name(f"{dest}:{port}" if port else dest)] = None
        times += [_aware(a.first_event.timestamp, f"alert {a.id}"),
                  _aware(a.last_event.timestamp, f"alert {a.id}")]

    patients: dict[str, list[datetime]] = {}
    records_count = 0
    bytes_out = 0
    for r in records:
        t = _aware(r.timestamp, "evidence timestamp")
        times.append(t)
        accounts.add(r.user_id, r.user_name)
        if r.host or r.source_ip:
            stations[(safe_text.name(r.host or ""), safe_text.name(r.source_ip or ""))] = None
        if r.module:
            modules[safe_text.name(r.module)] = None
        if r.patient_id:
            patients.setdefault(pseudonymize(r.patient_id), []).append(t)
            records_count += max(r.record_count, 1)
        bytes_out += max(r.bytes_out, 0)

    basis: Literal["evidence", "alerts"]
    if records:
        basis = "evidence"
        patients_count = len(patients)
    else:
        basis = "alerts"
        counting = [a for a in mine if a.value_count is not None
                    and not any(k in a.context for k in _NETWORK_KEYS)]
        patients_count = max((a.value_count or 0 for a in counting), default=0)
        records_count = sum(a.event_count for a in counting)
    if not bytes_out:
        bytes_out = int(sum(a.metrics.get("value_sum", 0.0) for a in mine
                            if any(k in a.context for k in _NETWORK_KEYS)))

    systems = ["Phần mềm quản lý bệnh viện (HIS)"] if any(
        "user.id" in a.context for a in mine) or records else []
    systems += [MODULE_NAMES.get(m.lower(), m) for m in modules]
    if destinations:
        systems.append("Mạng nội bộ của bệnh viện (kết nối ra Internet)")

    history_measures = [m for m in (_measure(c, mask) for c in incident.history) if m]
    zone = hospital.zone
    cause = [safe_text.clean(f"Cảnh báo «{a.rule_title}» ngày "
                             f"{a.window_end.astimezone(zone):%d/%m/%Y}: "
                             f"{mask(a.explanation)}")
             for a in incident.alerts]
    cause += [safe_text.clean(f"Nhận định của cán bộ xác minh ({safe_text.name(c.actor)}): "
                              f"{mask(c.note)}")
              for c in incident.history if c.to_status == "confirmed_leak" and c.note.strip()]
    rules = sorted({a.rule_id for a in incident.alerts})
    dp = hospital.data_protection

    try:
        return ReportFacts(
            hospital_id=hospital.id,
            hospital_name=safe_text.name(hospital.name),
            incident_id=incident.id,
            incident_status=incident.status,
            severity=incident.severity,
            detected_at=_aware(incident.detected_at, "incident.detected_at"),
            detection_method=(
                "Phát hiện tự động bởi hệ thống giám sát phiwatch qua nhật ký truy cập HIS và "
                f"lưu lượng mạng ({len(incident.alerts)} cảnh báo của {len(rules)} luật phát "
                "hiện)"),
            occurred_from=min(times, default=None),
            occurred_to=max(times, default=None),
            alerts=tuple(RuleHit(
                alert_id=a.id, rule_id=safe_text.name(a.rule_id),
                title=safe_text.clean(a.rule_title), severity=a.severity,
                explanation=safe_text.clean(mask(a.explanation)),
                window_start=_aware(a.window_start, f"alert {a.id}"),
                window_end=_aware(a.window_end, f"alert {a.id}"),
                event_count=a.event_count) for a in incident.alerts),
            systems=tuple(dict.fromkeys(systems)),
            accounts=accounts.result(),
            workstations=tuple(Workstation(host=h, ip=i) for h, i in stations),
            destinations=tuple(destinations),
            data_categories=tuple(safe_text.clean(c) for c in hospital.data_categories),
            patients_count=patients_count,
            records_count=records_count,
            counts_basis=basis,
            bytes_out=bytes_out or None,
            cause=tuple(cause),
            consequences=tuple(safe_text.clean(c) for c in hospital.consequences),
            measures_taken=(*history_measures,
                            *(Measure(text=safe_text.clean(mask(m))) for m in measures_taken),
                            *(Measure(text=safe_text.clean(m))
                              for m in hospital.measures_taken)),
            measures_planned=tuple(safe_text.clean(m) for m in (
                hospital.measures_planned if measures_planned is None else measures_planned)),
            notified=tuple(Notified(recipient=safe_text.clean(n.recipient),
                                    at=_aware(n.at, "notification time"),
                                    channel=safe_text.name(n.channel)) for n in notified),
            contact=ContactFacts(name=safe_text.name(dp.name), title=safe_text.name(dp.title),
                                 phone=safe_text.name(dp.phone),
                                 email=safe_text.name(dp.email)),
            affected_patients=tuple(
                AffectedPatient(pseudonym=safe_text.name(p), accesses=len(ts),
                                first_access=min(ts), last_access=max(ts))
                for p, ts in sorted(patients.items())),
            prepared_at=now,
        )
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        raise FactsError(f"incident {incident.id}", str(e)) from e
