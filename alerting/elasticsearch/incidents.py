"""Incidents in Elasticsearch: one ordinary index per hospital, compare-and-set writes.

Incidents change (alerts join, analysts move the status), so they live in ordinary
indices, never data streams: ``<prefix>-incidents-<org>``, one per hospital, made from
their own template (explicit mappings, ``dynamic: false``) and not touched by the alert
retention (``prune`` and ILM only see ``<prefix>-alerts-*``).

Every write is conditional. A create is ``op_type=create`` (409 if the id exists); an
update first reads the document in real time (``GET``, not search), checks phiwatch's
own ``version`` against the caller's ``expected_version``, and writes with the
``if_seq_no``/``if_primary_term`` of what it read: a write slipping in between makes the
cluster answer 409, which is a ``ConflictError``, never a lost update.

Writes use ``refresh=true``, whatever ``refresh`` says for alerts: the grouper looks for
the incident to extend by search, and an incident it has just written must be visible to
its next search, or one episode would open two incidents. ``wait_for`` would also do, but
waits up to a refresh interval (1 s) per write; refreshing the one small incident index
of a hospital costs less, and incident writes are few.

``phiwatch.incident.detected_us`` (the 72-hour clock's start, exact microseconds) came
after the first template: installing the newer template also adds the field to indices
made from the older one and rewrites, compare-and-set, the incidents stored without it
(``ensure_incident_template``; the pipeline does it before its first write, ``es setup``
at once). Until then the age counts and the ``detected`` order miss those incidents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch import ConflictError as EsConflict

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.documents import micros, org_slug
from alerting.elasticsearch.incident_ages import DETECTED_FIELD, count_by_age
from alerting.elasticsearch.template import SETTINGS, TemplateAction
from alerting.elasticsearch.writer import ClusterUnavailable
from alerting.incident import ConflictError, Incident
from alerting.incident_store import (
    INCIDENT_SORTS,
    AgeBounds,
    IncidentQuery,
    StatusChanges,
    age_query,
    incident_words,
    stored,
)
from alerting.store import SEVERITY_RANK

_KW: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}

INCIDENT_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "event": {"properties": {
            "id": _KW, "module": _KW, "dataset": _KW, "start": {"type": "date"},
            "end": {"type": "date"}, "created": {"type": "date"}, "severity": {"type": "long"},
        }},
        "organization": {"properties": {"id": _KW}},
        "user": {"properties": {"id": _KW}},
        "rule": {"properties": {"id": _KW}},
        "phiwatch": {"properties": {
            "incident": {"properties": {
                "status": _KW,
                "version": {"type": "long"},
                "severity": _KW,
                "first_us": {"type": "long"},
                "last_us": {"type": "long"},
                "alert_ids": _KW,
                "alert_count": {"type": "long"},
                "event_count": {"type": "long"},
                "detected_at": {"type": "date"},
                "detected_us": {"type": "long"},
                "history": {"properties": {
                    "at": {"type": "date"}, "actor": _KW, "from": _KW, "to": _KW,
                    "role": _KW, "note": {"type": "text"},
                }},
            }},
            # The incident exactly as written, for get/query; not indexed.
            "incident_doc": {"type": "object", "enabled": False},
        }},
    },
}

#: The document field behind each sort key of ``alerting.incident_store.INCIDENT_SORTS``.
SORT_FIELDS = {"first": "phiwatch.incident.first_us", "last": "phiwatch.incident.last_us",
               "detected": DETECTED_FIELD, "severity": "event.severity", "id": "event.id"}
_PAGE = 500


def sort_of(q: IncidentQuery) -> list[dict[str, Any]]:
    return [{SORT_FIELDS[key]: {"order": "desc" if desc else "asc"}}
            for key, desc in INCIDENT_SORTS[q.sort]]


def incidents_pattern(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-incidents-*"


def incident_index(config: ElasticsearchConfig, organization_id: str | None) -> str:
    """``<prefix>-incidents-<org>``: one ordinary index per hospital."""
    return f"{config.index_prefix}-incidents-{org_slug(organization_id)}"


def incident_template_name(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-incidents"


def incident_template_body(config: ElasticsearchConfig) -> dict[str, Any]:
    settings = {k: v for k, v in SETTINGS.items() if k in ("number_of_shards",
                                                             "auto_expand_replicas")}
    body: dict[str, Any] = {
        "index_patterns": [incidents_pattern(config)],
        "priority": 200,
        "template": {"settings": {"index": settings}, "mappings": INCIDENT_MAPPINGS},
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["_meta"] = {"managed_by": "phiwatch", "hash": digest}
    return body


def ensure_incident_template(client: Elasticsearch, config: ElasticsearchConfig) -> TemplateAction:
    """Install or update the incident template; write nothing when it is current."""
    body = incident_template_body(config)
    current = installed_incident_hash(client, config)
    if current == body["_meta"]["hash"]:
        return "unchanged"
    upgrade_incident_indices(client, config)  # first: a failure leaves it to do again
    client.indices.put_index_template(name=incident_template_name(config), **body)
    return "installed" if current is None else "updated"


def upgrade_incident_indices(client: Elasticsearch, config: ElasticsearchConfig) -> int:
    """Indices made from an older template learn its new fields (adding fields is allowed
    on a live index), and incidents stored without ``detected_us`` are written again as
    they are, compare-and-set (one changed meanwhile was written with it). How many."""
    pattern = incidents_pattern(config)
    client.indices.put_mapping(index=pattern, properties=INCIDENT_MAPPINGS["properties"],
                               allow_no_indices=True, ignore_unavailable=True)
    lacking = {"bool": {"must_not": [{"exists": {"field": DETECTED_FIELD}}]}}
    rewritten = 0
    while True:
        hits = client.search(index=pattern, query=lacking, size=_PAGE,
                             seq_no_primary_term=True, allow_no_indices=True,
                             ignore_unavailable=True).body["hits"]["hits"]
        done = 0
        for h in hits:
            try:
                client.index(index=h["_index"], id=h["_id"],
                             document=to_incident_document(_hit(h)),
                             if_seq_no=h["_seq_no"], if_primary_term=h["_primary_term"])
                done += 1
            except EsConflict:
                pass
        if not hits or not done:
            return rewritten
        rewritten += done
        client.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)


def installed_incident_hash(client: Elasticsearch, config: ElasticsearchConfig) -> str | None:
    """The installed incident template's hash, ``""`` for a foreign one, ``None`` if absent."""
    try:
        found = client.indices.get_index_template(
            name=incident_template_name(config)).body.get("index_templates") or []
    except NotFoundError:
        return None
    if not found:
        return None
    return str((found[0].get("index_template", {}).get("_meta") or {}).get("hash", ""))


def incident_template_state(client: Elasticsearch, config: ElasticsearchConfig) -> str:
    """``current``, ``outdated``, ``missing`` or ``foreign``, for ``es check``."""
    found = installed_incident_hash(client, config)
    if found is None:
        return "missing"
    if found == "":
        return "foreign"
    return "current" if found == incident_template_body(config)["_meta"]["hash"] else "outdated"


def to_incident_document(incident: Incident) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": incident.first_seen.isoformat(),
        "message": incident.summary,
        "event": {
            "id": incident.id, "module": "phiwatch", "dataset": "phiwatch.incidents",
            "start": incident.first_seen.isoformat(), "end": incident.last_seen.isoformat(),
            "created": incident.detected_at.isoformat(), "severity": incident.severity_rank,
        },
        "user": {"id": incident.principal},
        "rule": {"id": incident.rule_ids},
        "phiwatch": {
            "incident": {
                "status": incident.status, "version": incident.version,
                "severity": incident.severity, "first_us": micros(incident.first_seen),
                "last_us": micros(incident.last_seen), "alert_ids": incident.alert_ids,
                "alert_count": len(incident.alerts), "event_count": incident.event_count,
                "detected_at": incident.detected_at.isoformat(),
                "detected_us": micros(incident.detected_at),
                "history": [h.to_dict() for h in incident.history],
            },
            "incident_doc": incident.to_dict(),
        },
    }
    if incident.organization_id is not None:
        doc["organization"] = {"id": incident.organization_id}
    return doc


def _from_source(source: dict[str, Any]) -> Incident:
    return Incident.from_dict(source["phiwatch"]["incident_doc"])


def _hit(hit: dict[str, Any]) -> Incident:
    source = hit["_source"]
    return stored(_from_source(source), int(source["phiwatch"]["incident"]["version"]))


def _filters(q: IncidentQuery) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if q.start is not None:
        clauses.append({"range": {"phiwatch.incident.last_us": {"gte": micros(q.start)}}})
    if q.end is not None:
        clauses.append({"range": {"phiwatch.incident.first_us": {"lt": micros(q.end)}}})
    for field, value in (("organization.id", q.organization_id), ("user.id", q.principal),
                         ("phiwatch.incident.status", q.status), ("rule.id", q.rule_id)):
        if value is not None:
            clauses.append({"term": {field: value}})
    if q.statuses is not None:
        clauses.append({"terms": {"phiwatch.incident.status": list(q.statuses)}})
    if q.min_severity is not None:
        clauses.append({"range": {"event.severity": {"gte": SEVERITY_RANK[q.min_severity]}}})
    return clauses


class ElasticsearchIncidents(StatusChanges):
    """The ``IncidentStore`` methods, mixed into ``ElasticsearchAlertStore``."""

    client: Elasticsearch
    config: ElasticsearchConfig
    _incident_template_ready: bool = False

    def get_incident(self, incident_id: str) -> Incident | None:
        found = self._find({"ids": {"values": [incident_id]}})
        return None if found is None else self._read(*found)[0]

    def incident_of_alert(self, alert_id: str) -> Incident | None:
        found = self._find({"term": {"phiwatch.incident.alert_ids": alert_id}})
        return None if found is None else self._read(*found)[0]

    def save_incident(self, incident: Incident, expected_version: int | None) -> Incident:
        version = 1 if expected_version is None else expected_version + 1
        new = stored(incident, version)
        index = incident_index(self.config, incident.organization_id)
        refresh = "true"  # visible to the grouper's next search at once (module docstring)
        try:
            self._ensure_incident_template()
            if expected_version is None:
                self.client.index(index=index, id=incident.id, document=to_incident_document(new),
                                  op_type="create", refresh=refresh)
                return new
            current, seq_no, term = self._read(index, incident.id)
            if current is None:
                raise ConflictError(incident.id, expected_version, None)
            if current.version != expected_version:
                raise ConflictError(incident.id, expected_version, current.version)
            self.client.index(index=index, id=incident.id, document=to_incident_document(new),
                              if_seq_no=seq_no, if_primary_term=term, refresh=refresh)
            return new
        except EsConflict:
            raise ConflictError(incident.id, expected_version, None) from None
        except (TransportError, ApiError) as e:
            self._incident_template_ready = False  # a cluster back may be a fresh one
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def query_incidents(self, q: IncidentQuery) -> list[Incident]:
        """A page; with ``text``, the candidates of the other filters are walked in order
        and each confirmed here against ``incident_words`` (never a query string)."""
        try:
            if not q.text:
                extra: dict[str, Any] = {"from_": q.offset}
                if q.after is not None:
                    extra = {"search_after": list(q.after)}
                hits = self.client.search(
                    index=self._pattern(q), query={"bool": {"filter": _filters(q)}},
                    sort=sort_of(q), size=q.limit, track_total_hits=False,
                    allow_no_indices=True, ignore_unavailable=True, **extra,
                ).body["hits"]["hits"]
                return [_hit(h) for h in hits]
            found: list[Incident] = []
            skip = q.offset
            for incident in self._walk(q):
                if skip:
                    skip -= 1
                    continue
                found.append(incident)
                if len(found) == q.limit:
                    break
            return found
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def count_incidents(self, q: IncidentQuery) -> int:
        try:
            if q.text:
                return sum(1 for _ in self._walk(IncidentQuery(
                    start=q.start, end=q.end, organization_id=q.organization_id,
                    principal=q.principal, status=q.status, statuses=q.statuses,
                    min_severity=q.min_severity,
                    rule_id=q.rule_id, text=q.text)))
            body = self.client.count(index=self._pattern(q),
                                     query={"bool": {"filter": _filters(q)}},
                                     allow_no_indices=True, ignore_unavailable=True).body
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return int(body["count"])

    def count_incidents_by_age(self, q: IncidentQuery, statuses: Sequence[str],
                               now: datetime, bounds: AgeBounds) -> dict[str, list[int]]:
        """One search of no hits: statuses, then ranges of ``detected_us`` (``incident_ages``)."""
        filtered = age_query(q, statuses)
        try:
            return count_by_age(self.client, self._pattern(filtered), _filters(filtered),
                                statuses, now, bounds)
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def _walk(self, q: IncidentQuery) -> Iterator[Incident]:
        """Incidents matching every filter of ``q`` but text, in ``q.sort`` order after
        ``q.after``, those whose words hold the text."""
        needle = (q.text or "").casefold()
        after: list[Any] | None = list(q.after) if q.after is not None else None
        while True:
            extra: dict[str, Any] = {} if after is None else {"search_after": after}
            hits = self.client.search(
                index=self._pattern(q), query={"bool": {"filter": _filters(q)}},
                sort=sort_of(q), size=_PAGE, track_total_hits=False,
                allow_no_indices=True, ignore_unavailable=True, **extra,
            ).body["hits"]["hits"]
            for h in hits:
                incident = _hit(h)
                if needle in incident_words(incident):
                    yield incident
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    # -- helpers --------------------------------------------------------------------------

    def _pattern(self, q: IncidentQuery) -> str:
        if q.organization_id is None:
            return incidents_pattern(self.config)
        return incident_index(self.config, q.organization_id)

    def _find(self, query: dict[str, Any]) -> tuple[str, str] | None:
        """The index holding the one incident ``query`` names (search finds where; the
        real-time GET that follows reads what)."""
        try:
            hits = self.client.search(
                index=incidents_pattern(self.config), query=query, size=1, source=False,
                allow_no_indices=True, ignore_unavailable=True,
            ).body["hits"]["hits"]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        if not hits:
            return None
        return str(hits[0]["_index"]), str(hits[0]["_id"])

    def _read(self, index: str, doc_id: str) -> tuple[Incident | None, int, int]:
        """The incident, its seq_no and primary term, read in real time (GET)."""
        try:
            got = self.client.get(index=index, id=doc_id).body
        except NotFoundError:
            return None, -1, -1
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        source = got["_source"]
        incident = stored(_from_source(source), int(source["phiwatch"]["incident"]["version"]))
        return incident, int(got["_seq_no"]), int(got["_primary_term"])

    def _ensure_incident_template(self) -> None:
        if not self._incident_template_ready:
            ensure_incident_template(self.client, self.config)
            self._incident_template_ready = True
