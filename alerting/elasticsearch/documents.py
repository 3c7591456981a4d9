"""How one alert looks in Elasticsearch: which index, which document.

The document is ECS where ECS has a name (``event.*``, ``rule.*``, ``user.*``,
``source.ip`` …, plus phiwatch's own ``patient.*``) so Kibana reads it as it is, and keeps
everything else under ``phiwatch.*``: the exact window in microseconds (``date`` has only
milliseconds, and the SQLite store orders and filters on the exact time), the casefolded
explanation for substring search, and the alert itself, unindexed, so ``get`` and
``query`` give back exactly what was written.

Values copied from the alert's context are coerced to their mapped type, and dropped
from the indexed copy when they cannot be (an ``ip`` that is not an address): one odd
field must not make the cluster refuse the whole alert. The original stays in
``phiwatch.alert``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.store import SEVERITY_RANK, alert_user
from rules.alert import Alert

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

#: ECS (and phiwatch's ``patient.*``) fields copied from an alert's group and context,
#: with the type the index template maps them to.
ECS_FIELDS: dict[str, str] = {
    "event.action": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "user.roles": "keyword",
    "user.department": "keyword",
    "source.ip": "ip",
    "source.port": "long",
    "source.bytes": "long",
    "source.domain": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "destination.bytes": "long",
    "destination.domain": "keyword",
    "network.bytes": "long",
    "network.transport": "keyword",
    "network.protocol": "keyword",
    "host.name": "keyword",
    "host.ip": "ip",
    "dns.question.name": "keyword",
    "patient.id": "keyword",
}

_ORG_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def micros(dt: datetime) -> int:
    """Microseconds since the epoch; a naive time is local, as ``datetime.timestamp``."""
    return (dt.astimezone(UTC) - EPOCH) // _MICRO


def org_slug(organization_id: str | None) -> str:
    """The organization as it may appear inside an index name (lowercase, no separators)."""
    if not organization_id:
        return "none"
    # "Từ Dũ" → "tu du": accents off (đ has no decomposition), then unsafe characters.
    ascii_ = "".join(c for c in unicodedata.normalize("NFKD", organization_id.lower())
                     if not unicodedata.combining(c)).replace("đ", "d")
    slug = _ORG_UNSAFE.sub("_", ascii_).strip("._")
    return slug[:100] or "none"


def index_for(prefix: str, alert: Alert) -> str:
    """``<prefix>-alerts-<org>-YYYY.MM`` from the alert's own window start (UTC month).

    Named from the alert's time, never by rollover: a deterministic ``_id`` deduplicates
    only within one index, and every write of one alert id must land in the same one.
    """
    month = alert.window_start.astimezone(UTC).strftime("%Y.%m")
    return f"{prefix}-alerts-{org_slug(alert.organization_id)}-{month}"


def org_pattern(prefix: str, organization_id: str | None) -> str:
    """The indices that can hold alerts of ``organization_id`` (all of them for ``None``)."""
    if organization_id is None:
        return f"{prefix}-alerts-*"
    return f"{prefix}-alerts-{org_slug(organization_id)}-*"


def fold(text: str) -> str:
    """The case-insensitive form both stores compare: Unicode casefolding."""
    return text.casefold()


def grams(folded: str, limit: int = 64) -> list[str]:
    """Terms that every explanation containing ``folded`` has in its 1–3-gram field.

    Up to three characters the string is itself a gram, and the match is exact. Longer
    strings give their distinct trigrams (at most ``limit``, spread over the string): all
    present is necessary, not sufficient, so the caller checks the candidates.
    """
    if len(folded) <= 3:
        return [folded]
    tri = list(dict.fromkeys(folded[i : i + 3] for i in range(len(folded) - 2)))
    if len(tri) > limit:
        step = len(tri) / limit
        tri = [tri[int(i * step)] for i in range(limit)]
    return tri


def to_document(alert: Alert) -> dict[str, Any]:
    """The indexed document for ``alert``."""
    severity_rank = SEVERITY_RANK.get(alert.severity, SEVERITY_RANK["medium"])
    doc: dict[str, Any] = {
        "@timestamp": alert.window_start.isoformat(),
        "message": alert.explanation,
        "tags": list(alert.tags),
        "event": {
            "kind": "alert",
            "id": alert.id,
            "start": alert.window_start.isoformat(),
            "end": alert.window_end.isoformat(),
            "severity": severity_rank,
            "module": "phiwatch",
            "dataset": "phiwatch.alerts",
        },
        "rule": {"id": alert.rule_id, "name": alert.rule_title},
    }
    for path, value in _ecs_values(alert):
        _put(doc, path, value)
    if alert.organization_id is not None:
        _put(doc, "organization.id", alert.organization_id)
    user = alert_user(alert)
    if user is not None:
        _put(doc, "user.id", user)
    doc["phiwatch"] = {
        "revision": alert.revision,
        "final": alert.final,
        "severity": alert.severity,
        "window": {"start_us": micros(alert.window_start), "end_us": micros(alert.window_end)},
        "event_count": alert.event_count,
        "value_count": alert.value_count,
        "metrics": {
            k.replace(".", "_"): float(v)
            for k, v in alert.metrics.items()
            if isinstance(v, int | float) and v == v and abs(v) != float("inf")
        },
        "group": [f"{k}={v}" for k, v in sorted(alert.group.items())],
        "explanation_folded": fold(alert.explanation),
        "evidence": {
            "first": alert.first_event.to_dict(),
            "last": alert.last_event.to_dict(),
            "sample": [r.to_dict() for r in alert.sample],
        },
        "alert": alert.to_dict(),
    }
    return doc


def from_source(source: Mapping[str, Any]) -> Alert:
    """The alert a stored document holds."""
    return Alert.from_dict(source["phiwatch"]["alert"])


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flat(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


def _ecs_values(alert: Alert) -> Iterator[tuple[str, Any]]:
    """ECS values from the context, then the group (which names what the alert is about)."""
    seen: dict[str, Any] = {}
    for source in (alert.context, alert.group):
        for path, raw in _flat("", source):
            kind = ECS_FIELDS.get(path)
            if kind is None:
                continue
            value = _coerce(raw, kind)
            if value is not None:
                seen[path] = value
    yield from seen.items()


def _coerce(raw: Any, kind: str) -> Any:
    if isinstance(raw, list | tuple):
        values = [v for v in (_coerce(x, kind) for x in raw) if v is not None]
        return values or None
    if raw is None:
        return None
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(str(raw).strip()))
        except ValueError:
            return None
    if kind == "long":
        if isinstance(raw, bool):
            return None
        try:
            number = int(raw)
        except (TypeError, ValueError):
            return None
        return number if -(2**63) <= number < 2**63 else None
    return str(raw)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = doc
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value
