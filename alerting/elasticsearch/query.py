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

from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch

from alerting.elasticsearch.documents import fold, grams, micros
from alerting.store import SEVERITY_RANK, AlertQuery

SORT: list[dict[str, Any]] = [
    {"phiwatch.window.start_us": {"order": "desc"}},
    {"event.id": {"order": "asc"}},
]
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
) -> Iterator[dict[str, Any]]:
    """Every hit of ``query`` in the store's order, page by page with ``search_after``."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "query": query, "sort": SORT, "size": page, "_source": source,
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
    if not needs_confirmation(q) and q.offset + q.limit <= MAX_WINDOW:
        hits = client.search(
            index=index, query=query, sort=SORT, from_=q.offset, size=q.limit,
            track_total_hits=False, allow_no_indices=True, ignore_unavailable=True,
        ).body["hits"]["hits"]
        return [h["_source"] for h in hits]
    found: list[dict[str, Any]] = []
    skip = q.offset
    check = needs_confirmation(q)
    for hit in walk(client, index, query):
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
