"""The access audit log in Elasticsearch: ``<prefix>-audit``, one document per record.

The document ``_id`` is the record's ``seq`` (zero-padded), written with
``op_type=create``: of two API processes appending record ``n`` at once, the cluster takes
one and answers 409 to the other, which reads record ``n`` in real time (``GET``) and
appends after it. So the chain never forks, whatever the number of writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConflictError as EsConflict

from alerting.audit import AuditEntry, AuditRecord, next_record
from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.indices import KW, ensure_index
from alerting.elasticsearch.writer import ClusterUnavailable

AUDIT_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "seq": {"type": "long"}, "at": {"type": "date"}, "actor": KW, "role": KW,
        "hospital": KW, "method": KW, "route": KW, "objects": KW, "request_id": KW,
        "status": {"type": "long"}, "prev": KW, "hash": KW,
    },
}
_PAGE = 1000


def audit_index(config: ElasticsearchConfig) -> str:
    return f"{config.index_prefix}-audit"


def _doc_id(seq: int) -> str:
    return f"{seq:012d}"


class ElasticsearchAudit:
    """The ``AuditLog`` methods, mixed into ``ElasticsearchAlertStore``."""

    client: Elasticsearch
    config: ElasticsearchConfig

    def append_audit(self, entry: AuditEntry, at: datetime | None = None) -> AuditRecord:
        index = audit_index(self.config)
        try:
            ensure_index(self.client, index, AUDIT_MAPPINGS)
            head = self._audit_head()
            while True:
                record = next_record(head, entry, at or datetime.now(UTC))
                try:
                    self.client.index(index=index, id=_doc_id(record.seq),
                                      document=record.to_dict(), op_type="create",
                                      refresh="true")
                    return record
                except EsConflict:
                    got = self.client.get(index=index, id=_doc_id(record.seq)).body
                    head = AuditRecord.from_dict(got["_source"])
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def audit_records(self, after_seq: int = 0, limit: int = 100) -> list[AuditRecord]:
        try:
            hits = self.client.search(
                index=audit_index(self.config),
                query={"range": {"seq": {"gt": after_seq}}},
                sort=[{"seq": {"order": "asc"}}], size=limit,
                allow_no_indices=True, ignore_unavailable=True,
            ).body["hits"]["hits"]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return [AuditRecord.from_dict(h["_source"]) for h in hits]

    def audit_stored(self) -> Iterator[tuple[int, Any]]:
        after: list[Any] | None = None
        while True:
            extra: dict[str, Any] = {} if after is None else {"search_after": after}
            try:
                hits = self.client.search(
                    index=audit_index(self.config), query={"match_all": {}},
                    sort=[{"seq": {"order": "asc"}}], size=_PAGE,
                    allow_no_indices=True, ignore_unavailable=True, **extra,
                ).body["hits"]["hits"]
            except (TransportError, ApiError) as e:
                raise ClusterUnavailable(f"Elasticsearch: {e}") from e
            for h in hits:
                try:
                    position = int(h["_id"])
                except ValueError:
                    position = -1
                yield position, h.get("_source")
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _audit_head(self) -> AuditRecord | None:
        """The newest record (by search); a newer one written meanwhile shows up as a
        409 on append, and is then read in real time."""
        hits = self.client.search(
            index=audit_index(self.config), query={"match_all": {}},
            sort=[{"seq": {"order": "desc"}}], size=1,
            allow_no_indices=True, ignore_unavailable=True,
        ).body["hits"]["hits"]
        return AuditRecord.from_dict(hits[0]["_source"]) if hits else None
