"""Retention: whole monthly alert indices are deleted once every alert in them is old.

Two ways, one rule (an alert is kept at least ``retention_days``):

* ``prune`` reads the month from the index name (``…-YYYY.MM``) and deletes an index once
  the end of that month is ``retention_days`` in the past. It works on every server
  (Elasticsearch, OpenSearch, osmem-server) and is exact for replayed old data too; run
  it daily (``phiwatch es prune`` from a timer).
* On Elasticsearch, ``setup`` also installs an ILM policy. ILM ages an index from its
  creation (no rollover here: names come from the alert's own time), and a month's index
  is created by its first alert, so the delete phase waits ``retention_days + 31`` days.
  For indices filled by a replay of old logs ILM keeps them longer than needed; ``prune``
  is the exact one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.template import ilm_policy_name

#: A month is at most this long: the ILM delete phase's margin over ``retention_days``.
MONTH_MARGIN_DAYS = 31


def ilm_policy_body(config: ElasticsearchConfig) -> dict[str, Any]:
    return {
        "phases": {
            "hot": {"min_age": "0ms", "actions": {}},
            "delete": {
                "min_age": f"{config.retention_days + MONTH_MARGIN_DAYS}d",
                "actions": {"delete": {}},
            },
        },
        "_meta": {"managed_by": "phiwatch", "retention_days": config.retention_days},
    }


def ensure_ilm_policy(client: Elasticsearch, config: ElasticsearchConfig) -> str:
    """Install or update the ILM policy; ``installed``, ``updated`` or ``unchanged``."""
    name = ilm_policy_name(config)
    body = ilm_policy_body(config)
    try:
        current = client.ilm.get_lifecycle(name=name).body.get(name, {}).get("policy")
    except NotFoundError:
        current = None
    if current is not None and (current.get("_meta") or {}) == body["_meta"]:
        return "unchanged"
    client.ilm.put_lifecycle(name=name, policy=body)
    return "installed" if current is None else "updated"


def index_month_end(config: ElasticsearchConfig, index: str) -> datetime | None:
    """The first instant after the month an alert index holds, from its name."""
    m = re.fullmatch(rf"{re.escape(config.index_prefix)}-alerts-.+-(\d{{4}})\.(\d{{2}})", index)
    if m is None:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return None
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


@dataclass
class PruneReport:
    """What ``prune`` deleted (or would delete) and what it kept."""

    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # names that are not ours
    dry_run: bool = False


def prune(
    client: Elasticsearch,
    config: ElasticsearchConfig,
    *,
    retention_days: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete the alert indices whose whole month is older than the retention."""
    days = config.retention_days if retention_days is None else retention_days
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    report = PruneReport(dry_run=dry_run)
    names = sorted(
        client.indices.get_settings(
            index=config.alerts_pattern, name="index.creation_date",
            allow_no_indices=True, expand_wildcards="open,closed",
        ).body
    )
    for name in names:
        end = index_month_end(config, name)
        if end is None:
            report.skipped.append(name)
        elif end <= cutoff:
            if not dry_run:
                # One explicit name per call: never a wildcard delete.
                client.indices.delete(index=name)
            report.deleted.append(name)
        else:
            report.kept.append(name)
    return report
