"""``AlertQuery`` as Elasticsearch structured queries, with the same answers as SQLite.

Every filter is a ``term`` or ``range`` on a keyword or number: no query string, no
wildcard, no regular expression ever holds user input. The order is the SQLite store's:
window start descending (exact, in microseconds), then alert id ascending, so pages are
stable and equal between the two stores.

Text is a case-insensitive substring of the explanation. Up to three (casefolded)
characters it is one exact ``term`` on the 1–3-gram field. Longer, the trigram ``term``s
narrow the candidates and each candidate is confirmed against its casefolded
explanation, so ``query`` and ``count`` walk the candidates in order (``search_after``)
and are exact on any server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from alerting.elasticsearch.documents import fold, grams, micros
from alerting.store import ALERT_SORTS, SEVERITY_RANK, AlertDayCount, AlertQuery, Keyset

#: The document field behind each sort key of ``alerting.store.ALERT_SORTS``.
SORT_FIELDS = {"time": "phiwatch.window.start_us", "severity": "event.severity",
               "id": "event.id"}
SORT: list[dict[str, Any]] = [
    {"phiwatch.window.start_us": {"order": "desc"}},
    {"event.id": {"order": "asc"}},
]


def sort_of(q: AlertQuery) -> list[dict[str, Any]]:
    """The Elasticsearch sort for ``q.sort`` (ids ascending break every tie)."""
    return [{SORT_FIELDS[key]: {"order": "desc" if desc else "asc"}}
            for key, desc in ALERT_SORTS[q.sort]]
#: Elasticsearch's default ``index.max_result_window``: deeper pages use ``search_after``.
MAX_WINDOW = 10_000
PAGE = 1_000
FOLDED = "phiwatch.explanation_folded"


def filters(q: AlertQuery) -> list[dict[str, Any]]:
    """The filter clauses of ``q``, each value a literal, never parsed."""
    clauses: list[dict[str, Any]] = []
    if q.start is not None:
        clauses.append({"range": {"phiwatch.window.end_us": {"gte": micros(q.start)}}})
    if q.end is not None:
        clauses.append({"range": {"phiwatch.window.start_us": {"lt": micros(q.end)}}})
    for field, value in (
        ("organization.id", q.organization_id),
        ("rule.id", q.rule_id),
        ("user.id", q.user_id),
        ("phiwatch.severity", q.severity),
    ):
        if value is not None:
            clauses.append({"term": {field: value}})
    if q.min_severity is not None:
        clauses.append({"range": {"event.severity": {"gte": SEVERITY_RANK[q.min_severity]}}})
    if q.text:
        clauses.extend({"term": {FOLDED: g}} for g in grams(fold(q.text)))
    return clauses


def as_query(q: AlertQuery) -> dict[str, Any]:
    return {"bool": {"filter": filters(q)}}


def needs_confirmation(q: AlertQuery) -> bool:
    """Whether the server's hits are candidates to confirm, not the answer."""
    return bool(q.text) and len(fold(q.text or "")) > 3


def confirms(q: AlertQuery, source: dict[str, Any]) -> bool:
    """The SQLite store's test: the casefolded text is in the casefolded explanation."""
    folded = source.get("phiwatch", {}).get("explanation_folded", "")
    return fold(q.text or "") in folded


def walk(
    client: Elasticsearch,
    index: str,
    query: dict[str, Any],
    source: bool | list[str] = True,
    page: int = PAGE,
    sort: list[dict[str, Any]] | None = None,
    start_after: Keyset | None = None,
) -> Iterator[dict[str, Any]]:
    """Every hit of ``query`` in ``sort`` order (default: the store's), after
    ``start_after`` if given, page by page with ``search_after``."""
    after: list[Any] | None = list(start_after) if start_after is not None else None
    while True:
        body: dict[str, Any] = {
            "query": query, "sort": sort or SORT, "size": page, "_source": source,
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index, allow_no_indices=True, ignore_unavailable=True,
                             **body).body["hits"]["hits"]
        yield from hits
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def search_page(
    client: Elasticsearch, index: str, q: AlertQuery
) -> list[dict[str, Any]]:
    """The sources of the page ``q`` asks for."""
    query = as_query(q)
    sort = sort_of(q)
    if not needs_confirmation(q) and q.offset + q.limit <= MAX_WINDOW:
        extra: dict[str, Any] = {"from_": q.offset}
        if q.after is not None:
            extra = {"search_after": list(q.after)}
        hits = client.search(
            index=index, query=query, sort=sort, size=q.limit,
            track_total_hits=False, allow_no_indices=True, ignore_unavailable=True, **extra,
        ).body["hits"]["hits"]
        return [h["_source"] for h in hits]
    found: list[dict[str, Any]] = []
    skip = q.offset
    check = needs_confirmation(q)
    page = min(PAGE, max(q.limit * 4, 100))
    for hit in walk(client, index, query, page=page, sort=sort, start_after=q.after):
        if check and not confirms(q, hit["_source"]):
            continue
        if skip:
            skip -= 1
            continue
        found.append(hit["_source"])
        if len(found) == q.limit:
            break
    return found


def count(client: Elasticsearch, index: str, q: AlertQuery) -> int:
    query = as_query(q)
    if not needs_confirmation(q):
        body = client.count(index=index, query=query, allow_no_indices=True,
                            ignore_unavailable=True).body
        return int(body["count"])
    return sum(1 for hit in walk(client, index, query, source=[FOLDED])
               if confirms(q, hit["_source"]))


def get_many(client: Elasticsearch, index: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The sources of the alerts with these ids (a ``terms`` filter, values literal)."""
    found: list[dict[str, Any]] = []
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        hits = client.search(
            index=index, query={"bool": {"filter": [{"terms": {"event.id": chunk}}]}},
            size=len(chunk) * 2, track_total_hits=False, allow_no_indices=True,
            ignore_unavailable=True,
        ).body["hits"]["hits"]
        found.extend(h["_source"] for h in hits)
    return found


def day_counts(
    client: Elasticsearch, index: str, q: AlertQuery, zone: str
) -> list[AlertDayCount]:
    """Alerts per local day, hospital and rule: a composite aggregation, paged, or (when
    the text must be confirmed per alert) the matching alerts counted here."""
    tz = ZoneInfo(zone)
    counts: dict[tuple[Any, str | None, str], int] = {}
    if needs_confirmation(q):
        fields = [FOLDED, "phiwatch.window.start_us", "organization.id", "rule.id"]
        for hit in walk(client, index, as_query(q), source=fields):
            src = hit["_source"]
            if not confirms(q, src):
                continue
            day = datetime.fromtimestamp(src["phiwatch"]["window"]["start_us"] / 1e6, tz).date()
            key = (day, (src.get("organization") or {}).get("id"), src["rule"]["id"])
            counts[key] = counts.get(key, 0) + 1
    else:
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": [
                {"day": {"date_histogram": {"field": "@timestamp", "calendar_interval": "1d",
                                            "time_zone": zone}}},
                {"org": {"terms": {"field": "organization.id", "missing_bucket": True}}},
                {"rule": {"terms": {"field": "rule.id"}}},
            ]}
            if after is not None:
                composite["after"] = after
            body = client.search(index=index, query=as_query(q), size=0,
                                 aggs={"c": {"composite": composite}},
                                 allow_no_indices=True, ignore_unavailable=True).body
            agg = (body.get("aggregations") or {}).get("c") or {}
            buckets = agg.get("buckets") or []
            for b in buckets:
                k = b["key"]
                day = datetime.fromtimestamp(int(k["day"]) / 1000, tz).date()
                counts[(day, k.get("org"), k["rule"])] = int(b["doc_count"])
            after = agg.get("after_key")
            # A short page is the last: no second aggregation to learn that it was.
            if len(buckets) < composite["size"] or after is None:
                break
    result = [AlertDayCount(day, org, rule, n) for (day, org, rule), n in counts.items()]
    result.sort(key=lambda c: (c.day, c.organization_id or "", c.rule_id))
    return result
