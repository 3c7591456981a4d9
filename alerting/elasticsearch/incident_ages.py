"""Open incidents per status and age since detection, counted by the cluster.

One search, no hits: a ``terms`` aggregation on the status with a ``range``
sub-aggregation on ``phiwatch.incident.detected_us`` (integer microseconds, so the
buckets' edges are exact, as in ``alerting.incident_store.age_bucket``). A range's
``from`` is inclusive and its ``to`` exclusive, so "younger than ``bound``", which is
``detected_us > now_us - bound_us``, is ``from: now_us - bound_us + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from alerting.incident_store import AgeBounds, detected_after

DETECTED_FIELD = "phiwatch.incident.detected_us"
STATUS_FIELD = "phiwatch.incident.status"


def age_ranges(now: datetime, bounds: AgeBounds) -> list[dict[str, Any]]:
    """The ``range`` aggregation's ranges, youngest first, keyed by bucket number."""
    edges = [cut + 1 for cut in detected_after(now, bounds)]  # "from" of each bucket
    ranges: list[dict[str, Any]] = []
    for n in range(len(bounds) + 1):
        r: dict[str, Any] = {"key": str(n)}
        if n < len(edges):
            r["from"] = edges[n]
        if n > 0:
            r["to"] = edges[n - 1]
        ranges.append(r)
    return ranges


def count_by_age(client: Elasticsearch, index: str, filters: list[dict[str, Any]],
                 statuses: Sequence[str], now: datetime, bounds: AgeBounds
                 ) -> dict[str, list[int]]:
    """Incidents matching ``filters`` in ``index`` per status of ``statuses`` and age."""
    counts = {s: [0] * (len(bounds) + 1) for s in statuses}
    if not statuses:
        return counts
    body = client.search(
        index=index, size=0, track_total_hits=False, allow_no_indices=True,
        ignore_unavailable=True,
        query={"bool": {"filter": [*filters, {"terms": {STATUS_FIELD: list(statuses)}}]}},
        aggs={"status": {
            "terms": {"field": STATUS_FIELD, "size": len(statuses)},
            "aggs": {"age": {"range": {"field": DETECTED_FIELD,
                                       "ranges": age_ranges(now, bounds)}}},
        }},
    ).body
    for status in (body.get("aggregations") or {}).get("status", {}).get("buckets", []):
        row = counts.get(str(status["key"]))
        if row is None:
            continue
        for bucket in status["age"]["buckets"]:
            row[int(bucket["key"])] = int(bucket["doc_count"])
    return counts
