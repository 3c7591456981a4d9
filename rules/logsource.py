"""Which events a rule reads: Sigma ``logsource`` → phiwatch ``event.dataset`` values.

Sigma leaves the meaning of a logsource to the engine. phiwatch's sensors stamp every event
with ``event.dataset``; the engine routes an event only to the rules whose logsource maps to
that dataset, so a network rule never spends time on HIS events and vice versa. A rule whose
logsource maps to nothing is reported (as a warning) and not evaluated: silently evaluating
a Windows rule against HIS events would only produce nonsense or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.rule.logsource import SigmaLogSource

from rules.alert_events import ALERT_DATASET
from sensors.event import (
    DATASETS,
    HIS_ACCESS,
    HIS_SYSTEM,
    NETWORK_DNS,
    NETWORK_FLOW,
    NETWORK_PROXY,
)

__all__ = ["DATASETS", "HIS_ACCESS", "HIS_SYSTEM", "NETWORK_DNS", "NETWORK_FLOW",
           "NETWORK_PROXY", "datasets_for", "describe"]


@dataclass(frozen=True, slots=True)
class LogsourceMapping:
    """One row: ``None`` matches anything; the first matching row wins."""

    product: str | None
    category: str | None
    service: str | None
    datasets: frozenset[str]

    def matches(self, logsource: SigmaLogSource) -> bool:
        return all(
            want is None or (have is not None and have.lower() == want)
            for want, have in (
                (self.product, logsource.product),
                (self.category, logsource.category),
                (self.service, logsource.service),
            )
        )


#: The table. Community network rules use categories (``network_connection``, ``firewall``,
#: ``dns``, ``proxy``) or Zeek's services; phiwatch's own HIS rules use product ``his``.
#: Their field names are mapped onto the events' ECS names by ``rules.taxonomy``.
MAPPINGS: tuple[LogsourceMapping, ...] = (
    LogsourceMapping("his", None, None, frozenset({HIS_ACCESS})),
    LogsourceMapping(None, "network_connection", None, frozenset({NETWORK_FLOW})),
    LogsourceMapping(None, "firewall", None, frozenset({NETWORK_FLOW})),
    LogsourceMapping(None, "dns", None, frozenset({NETWORK_DNS})),
    LogsourceMapping(None, "proxy", None, frozenset({NETWORK_PROXY})),
    LogsourceMapping("zeek", None, "conn", frozenset({NETWORK_FLOW})),
    LogsourceMapping("zeek", None, "dns", frozenset({NETWORK_DNS})),
    # Rules over other rules' alerts (``rules.alert_events``).
    LogsourceMapping("phiwatch", "alert", None, frozenset({ALERT_DATASET})),
)


def datasets_for(logsource: SigmaLogSource) -> frozenset[str]:
    """The datasets a rule with ``logsource`` applies to; empty when it maps to none."""
    for row in MAPPINGS:
        if row.matches(logsource):
            return row.datasets
    return frozenset()


def describe(logsource: SigmaLogSource) -> str:
    """``product=his, category=access`` — for messages."""
    parts = [
        f"{name}={value}"
        for name, value in (
            ("product", logsource.product),
            ("category", logsource.category),
            ("service", logsource.service),
        )
        if value
    ]
    return ", ".join(parts) or "empty logsource"
