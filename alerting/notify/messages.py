"""What a notification says: subject, text (Vietnamese first, then English), HTML, JSON.

A notification is one alert, or a digest listing several. It is stored in the outbox as
a parcel (``alerting.reports.outbox``): the subject and the text as the recipient reads
them, and the JSON document (``payload``) from which the webhook body, the HTML part and
the syslog/CEF events are made. Everything an alert says may come from a log line an
attacker wrote (a user name typed into a login form), so every value goes through
``clean`` (control and bidi characters made visible, one line, bounded) and, in HTML,
``html.escape``: a field is never markup, never a new header line, never a new line in
the text. Email and syslog carry the alert's summary (rule, severity, group, counts,
explanation, window, id); the webhook carries the whole alert, evidence references
included, to a receiver the hospital configured.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

from alerting.reports.outbox import Parcel
from alerting.reports.safe_text import clean
from rules.alert import Alert

SCHEMA = "phiwatch.notification/1"
#: A digest lists at most this many alerts; the rest are counted ("and 12 more").
DIGEST_LIMIT = 200

SEVERITY_VI = {"informational": "thông tin", "low": "thấp", "medium": "trung bình",
               "high": "cao", "critical": "nghiêm trọng"}

Kind = Literal["alert", "digest"]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who speaks: the hospital, the zone its staff read times in, the console link."""

    organization_id: str
    organization_name: str
    timezone: str = "Asia/Ho_Chi_Minh"
    #: ``https://…/alerts/{id}``; ``None``: no link.
    alert_url: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class Notification:
    """One message on one channel: an alert, or a digest of several."""

    id: str
    kind: Kind
    channel: str
    created: datetime
    alerts: tuple[Alert, ...]
    #: Digest: alerts collected but not listed (beyond ``DIGEST_LIMIT``).
    more: int = 0

    def payload(self, sender: Sender) -> bytes:
        """The JSON document: the webhook body, and what HTML and CEF are made from."""
        return orjson.dumps({
            "schema": SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "created": self.created.isoformat(),
            "organization": {"id": sender.organization_id, "name": sender.organization_name},
            "timezone": sender.timezone,
            "alert_url": sender.alert_url,
            "count": len(self.alerts) + self.more,
            "more": self.more,
            "alerts": [a.to_dict() for a in self.alerts],
        })

    def parcel(self, sender: Sender) -> Parcel:
        return Parcel(self.id, subject(self, sender), text(self, sender), self.payload(sender))


def read_payload(data: bytes) -> tuple[Notification, Sender]:
    """The notification and sender a stored payload describes (``payload``'s inverse)."""
    d: dict[str, Any] = orjson.loads(data)
    if d.get("schema") != SCHEMA:
        raise ValueError(f"not a phiwatch notification document: {d.get('schema')!r}")
    org = d["organization"]
    sender = Sender(org["id"], org["name"], d["timezone"], d.get("alert_url"))
    n = Notification(d["id"], d["kind"], d["channel"], datetime.fromisoformat(d["created"]),
                     tuple(Alert.from_dict(a) for a in d["alerts"]), int(d.get("more", 0)))
    return n, sender


# -- fields ------------------------------------------------------------------------------

def group_text(alert: Alert) -> str:
    """``user.id=nv01234, source.ip=10.0.0.5``: whom the alert is about."""
    return clean(", ".join(f"{k}={v}" for k, v in sorted(alert.group.items())) or "-",
                 limit=300)


def _when_vi(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")


def _when_en(dt: datetime, zone: ZoneInfo) -> str:
    local = dt.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + local.strftime("%z")


def _version(alert: Alert) -> tuple[str, str]:
    if alert.final:
        return "đợt đã kết thúc", "episode closed"
    if alert.revision > 0:
        return f"cập nhật lần {alert.revision}", f"update {alert.revision}"
    return "", ""


def _link(alert: Alert, sender: Sender) -> str | None:
    return sender.alert_url.replace("{id}", alert.id) if sender.alert_url else None


def _counts(alert: Alert, distinct: str, events: str) -> str:
    base = f"{alert.event_count} {events}"
    return base if alert.value_count is None else f"{base} ({alert.value_count} {distinct})"


# -- subject and text ----------------------------------------------------------------------

def subject(n: Notification, sender: Sender) -> str:
    """One line, both languages, no CR/LF whatever the alert holds."""
    org = clean(sender.organization_name, limit=120)
    if n.kind == "digest":
        total = len(n.alerts) + n.more
        return clean(f"[phiwatch] Tổng hợp {total} cảnh báo / Digest of {total} alerts — {org}",
                     limit=300)
    a = n.alerts[0]
    vi, en = _version(a)
    tag = f" ({vi} / {en})" if vi else ""
    return clean(f"[phiwatch] {SEVERITY_VI.get(a.severity, a.severity).upper()} / "
                 f"{a.severity.upper()}: {clean(a.rule_title, limit=120)} — "
                 f"{group_text(a)}{tag} — {org}", limit=300)


def _alert_lines_vi(a: Alert, sender: Sender) -> list[str]:
    z = sender.zone
    vi, _ = _version(a)
    lines = [
        f"Quy tắc: {clean(a.rule_title, limit=200)} ({clean(a.rule_id, limit=200)})",
        f"Mức độ: {SEVERITY_VI.get(a.severity, a.severity)}",
        f"Đối tượng: {group_text(a)}",
        f"Thời gian: {_when_vi(a.window_start, z)} – {_when_vi(a.window_end, z)} "
        f"(giờ {sender.timezone})",
        f"Số sự kiện: {_counts(a, 'giá trị khác nhau', 'sự kiện')}",
        f"Diễn giải: {clean(a.explanation, limit=1000)}",
        f"Mã cảnh báo: {a.id}" + (f" ({vi})" if vi else ""),
    ]
    if (url := _link(a, sender)) is not None:
        lines.append(f"Xem: {url}")
    return lines


def _alert_lines_en(a: Alert, sender: Sender) -> list[str]:
    z = sender.zone
    _, en = _version(a)
    lines = [
        f"Rule: {clean(a.rule_title, limit=200)} ({clean(a.rule_id, limit=200)})",
        f"Severity: {a.severity}",
        f"About: {group_text(a)}",
        f"When: {_when_en(a.window_start, z)} – {_when_en(a.window_end, z)}",
        f"Events: {_counts(a, 'distinct values', 'events')}",
        f"Explanation: {clean(a.explanation, limit=1000)}",
        f"Alert id: {a.id}" + (f" ({en})" if en else ""),
    ]
    if (url := _link(a, sender)) is not None:
        lines.append(f"View: {url}")
    return lines


def _digest_line(i: int, a: Alert, sender: Sender, vi: bool) -> str:
    when = _when_vi(a.window_end, sender.zone) if vi else _when_en(a.window_end, sender.zone)
    sev = SEVERITY_VI.get(a.severity, a.severity) if vi else a.severity
    return (f"{i}. [{sev}] {clean(a.rule_title, limit=200)} — {group_text(a)} — {when} — "
            f"{clean(a.explanation, limit=500)}")


def text(n: Notification, sender: Sender) -> str:
    """The plain-text body: the Vietnamese section, then the English one."""
    org = clean(sender.organization_name, limit=200)
    oid = clean(sender.organization_id, limit=100)
    if n.kind == "digest":
        total = len(n.alerts) + n.more
        vi = [f"phiwatch — {org} ({oid}): {total} cảnh báo", ""]
        vi += [_digest_line(i, a, sender, True) for i, a in enumerate(n.alerts, 1)]
        en = [f"phiwatch — {org} ({oid}): {total} alerts", ""]
        en += [_digest_line(i, a, sender, False) for i, a in enumerate(n.alerts, 1)]
        if n.more:
            vi.append(f"… và {n.more} cảnh báo khác (xem phiwatch alerts).")
            en.append(f"… and {n.more} more (see phiwatch alerts).")
    else:
        a = n.alerts[0]
        vi = [f"Cảnh báo phiwatch — {org} ({oid})", "", *_alert_lines_vi(a, sender)]
        en = [f"phiwatch alert — {org} ({oid})", "", *_alert_lines_en(a, sender)]
    return "\n".join([*vi, "", "— English —", "", *en, ""])


# -- HTML ------------------------------------------------------------------------------------

def _e(value: object) -> str:
    """Cleaned, then escaped for HTML text and attribute values."""
    return html.escape(clean(value, limit=1000), quote=True)


def _html_alert(a: Alert, sender: Sender, vi: bool) -> str:
    rows = _alert_lines_vi(a, sender) if vi else _alert_lines_en(a, sender)
    cells = []
    for row in rows:
        label, _, value = row.partition(": ")
        cells.append(f"<tr><th align=\"left\">{_e(label)}</th><td>{_e(value)}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"


def _html_digest(alerts: Sequence[Alert], sender: Sender, vi: bool) -> str:
    z = sender.zone
    head = ("Mức độ", "Quy tắc", "Đối tượng", "Lúc", "Diễn giải") if vi else \
        ("Severity", "Rule", "About", "At", "Explanation")
    rows = ["<tr>" + "".join(f"<th align=\"left\">{h}</th>" for h in head) + "</tr>"]
    for a in alerts:
        sev = SEVERITY_VI.get(a.severity, a.severity) if vi else a.severity
        when = _when_vi(a.window_end, z) if vi else _when_en(a.window_end, z)
        rows.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in
                                     (sev, a.rule_title, group_text(a), when, a.explanation))
                    + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def html_body(n: Notification, sender: Sender) -> str:
    """The HTML alternative: the same content as ``text``, every value escaped."""
    parts = ['<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"></head><body>']
    for vi in (True, False):
        title = subject(n, sender)
        parts.append(f"<h2>{_e(title)}</h2>" if vi else '<hr><h2 lang="en">English</h2>')
        if n.kind == "digest":
            parts.append(_html_digest(n.alerts, sender, vi))
            if n.more:
                more = f"… và {n.more} cảnh báo khác" if vi else f"… and {n.more} more"
                parts.append(f"<p>{_e(more)}</p>")
        else:
            parts.append(_html_alert(n.alerts[0], sender, vi))
    parts.append("</body></html>")
    return "".join(parts)
