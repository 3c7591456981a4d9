"""Report records and the Department's inbox in Elasticsearch, beside the incidents.

As incidents: one ordinary index per hospital (``<prefix>-reports-<org>``, and
``<prefix>-inbox-<org>`` for what the Department received from that hospital), explicit
mappings (``dynamic: false``), writes with ``refresh=true`` so the next list shows them.
A record update reads the document in real time (``GET``), checks phiwatch's ``version``
and writes with that read's ``if_seq_no``/``if_primary_term``: a write in between makes
the cluster answer 409, a ``RecordConflict``. A received report is created once
(``op_type=create`` on its id); an idempotency key is a create-only document of its own
(``<prefix>-inboxkeys``), so two deliveries of one report under one key store it once.

Documents are base64 in an object that is stored but not indexed, and lists leave it
out of what the cluster sends back.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch import ConflictError as EsConflict

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.documents import micros, org_slug
from alerting.elasticsearch.indices import KW, ensure_index
from alerting.elasticsearch.writer import ClusterUnavailable
from alerting.reports.records import (
    AlreadyReceived,
    InboxPosition,
    ReceivedReport,
    RecordConflict,
    ReportQuery,
    ReportRecord,
    stored_as,
)

_STORED: dict[str, Any] = {"type": "object", "enabled": False}
REPORT_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KW, "hospital_id": KW, "incident_id": KW, "kind": KW, "state": KW,
        "organization": {"properties": {"id": KW}},
        "drafted_us": {"type": "long"}, "version": {"type": "long"},
        "meta": _STORED, "blobs": _STORED,
    },
}
INBOX_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KW, "hospital_id": KW, "kind": KW, "idempotency_key": KW,
        "organization": {"properties": {"id": KW}},
        "received_us": {"type": "long"}, "meta": _STORED, "blobs": _STORED,
    },
}
KEY_MAPPINGS: dict[str, Any] = {"dynamic": False, "properties": {"report_id": KW}}
T = TypeVar("T")


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def _bytes(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value is not None else None


class ElasticsearchReportStore:
    """``ReportStore`` and ``InboxStore`` on a cluster (the alert store's client)."""

    def __init__(self, client: Elasticsearch, config: ElasticsearchConfig) -> None:
        self.client = client
        self.config = config
        self._ready: set[str] = set()

    # -- names ---------------------------------------------------------------------------

    def reports_index(self, hospital_id: str | None) -> str:
        return f"{self.config.index_prefix}-reports-{org_slug(hospital_id)}"

    def inbox_index(self, hospital_id: str | None) -> str:
        return f"{self.config.index_prefix}-inbox-{org_slug(hospital_id)}"

    @property
    def _keys_index(self) -> str:
        return f"{self.config.index_prefix}-inboxkeys"

    def _call(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except (TransportError, ApiError) as e:
            self._ready.clear()
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e

    def _ensure(self, index: str, mappings: dict[str, Any]) -> None:
        if index not in self._ready:
            ensure_index(self.client, index, mappings)
            self._ready.add(index)

    # -- ReportStore ---------------------------------------------------------------------

    def get_report(self, report_id: str) -> ReportRecord | None:
        def work() -> ReportRecord | None:
            hits = self.client.search(
                index=f"{self.config.index_prefix}-reports-*",
                query={"ids": {"values": [report_id]}}, size=1, source=False,
                allow_no_indices=True, ignore_unavailable=True).body["hits"]["hits"]
            if not hits:
                return None
            try:
                got = self.client.get(index=hits[0]["_index"], id=report_id).body
            except NotFoundError:
                return None
            return _record(got["_source"])
        return self._call(work)

    def save_report(self, record: ReportRecord, expected_version: int | None
                    ) -> ReportRecord:
        version = 1 if expected_version is None else expected_version + 1
        new = stored_as(record, version)
        index = self.reports_index(new.hospital_id)
        doc = {"id": new.id, "hospital_id": new.hospital_id, "incident_id": new.incident_id,
               "kind": new.kind, "state": new.state, "organization": {"id": new.hospital_id},
               "drafted_us": micros(new.drafted_at), "version": version, "meta": new.meta(),
               "blobs": {"docx": _b64(new.docx), "pdf": _b64(new.pdf), "jws": _b64(new.jws)}}

        def work() -> ReportRecord:
            self._ensure(index, REPORT_MAPPINGS)
            try:
                if expected_version is None:
                    self.client.index(index=index, id=new.id, document=doc, op_type="create",
                                      refresh="true")
                    return new
                try:
                    got = self.client.get(index=index, id=new.id, source=["version"]).body
                except NotFoundError:
                    raise RecordConflict(f"report {new.id}", "does not exist") from None
                if int(got["_source"]["version"]) != expected_version:
                    raise RecordConflict(f"report {new.id}",
                                         f"is no longer at version {expected_version}")
                self.client.index(index=index, id=new.id, document=doc,
                                  if_seq_no=got["_seq_no"],
                                  if_primary_term=got["_primary_term"], refresh="true")
                return new
            except EsConflict:
                raise RecordConflict(f"report {new.id}", "changed meanwhile; read it again"
                                     ) from None
        return self._call(work)

    def _report_query(self, q: ReportQuery) -> dict[str, Any]:
        filters = [{"term": {field: value}} for field, value in (
            ("hospital_id", q.hospital_id), ("state", q.state), ("kind", q.kind),
            ("incident_id", q.incident_id)) if value is not None]
        drafts = [] if q.drafts else [{"term": {"state": "draft"}}]
        return {"bool": {"filter": filters, "must_not": drafts}}

    def _reports_pattern(self, q: ReportQuery) -> str:
        return (self.reports_index(q.hospital_id) if q.hospital_id is not None
                else f"{self.config.index_prefix}-reports-*")

    def query_reports(self, q: ReportQuery) -> list[ReportRecord]:
        def work() -> list[ReportRecord]:
            hits = self.client.search(
                index=self._reports_pattern(q),
                query=self._report_query(q),
                sort=[{"drafted_us": {"order": "desc"}}, {"id": {"order": "desc"}}],
                size=q.limit, from_=q.offset, source_excludes=["blobs"],
                allow_no_indices=True, ignore_unavailable=True).body["hits"]["hits"]
            return [ReportRecord.from_meta(h["_source"]["meta"]) for h in hits]
        return self._call(work)

    def count_reports(self, q: ReportQuery) -> int:
        def work() -> int:
            return int(self.client.count(
                index=self._reports_pattern(q),
                query=self._report_query(q),
                allow_no_indices=True, ignore_unavailable=True).body["count"])
        return self._call(work)

    # -- InboxStore ----------------------------------------------------------------------

    def add_received(self, report: ReceivedReport) -> ReceivedReport:
        hospital = report.payload.hospital_id
        index = self.inbox_index(hospital)
        doc = {"id": report.id, "hospital_id": hospital, "kind": report.payload.kind,
               "idempotency_key": report.idempotency_key, "organization": {"id": hospital},
               "received_us": micros(report.received_at), "meta": report.meta(),
               "blobs": {"jws": _b64(report.jws), "docx": _b64(report.docx),
                         "pdf": _b64(report.pdf)}}

        def work() -> ReceivedReport:
            self._ensure(index, INBOX_MAPPINGS)
            key = report.idempotency_key
            if key is not None:
                self._ensure(self._keys_index, KEY_MAPPINGS)
                try:
                    got = self.client.get(index=self._keys_index, id=key).body
                    known = self.get_received(str(got["_source"]["report_id"]))
                    if known is not None:
                        raise AlreadyReceived(known, "has this idempotency key already")
                except NotFoundError:
                    pass
            try:
                self.client.index(index=index, id=report.id, document=doc, op_type="create",
                                  refresh="true")
            except EsConflict:
                known = self.get_received(report.id)
                if known is None:  # pragma: no cover - created and gone at once
                    raise
                raise AlreadyReceived(known, "was received before") from None
            if key is not None:
                # The same key for another report: the first one keeps it.
                with contextlib.suppress(EsConflict):
                    self.client.index(index=self._keys_index, id=key,
                                      document={"report_id": report.id}, op_type="create",
                                      refresh="true")
            return report
        return self._call(work)

    def get_received(self, received_id: str) -> ReceivedReport | None:
        def work() -> ReceivedReport | None:
            hits = self.client.search(
                index=f"{self.config.index_prefix}-inbox-*",
                query={"ids": {"values": [received_id]}}, size=1,
                allow_no_indices=True, ignore_unavailable=True).body["hits"]["hits"]
            if not hits:
                return None
            source = hits[0]["_source"]
            blobs = source.get("blobs") or {}
            return ReceivedReport.from_meta(source["meta"], jws=_bytes(blobs.get("jws")) or b"",
                                            docx=_bytes(blobs.get("docx")),
                                            pdf=_bytes(blobs.get("pdf")))
        return self._call(work)

    def _inbox_pattern(self, hospital_id: str | None) -> str:
        return (self.inbox_index(hospital_id) if hospital_id is not None
                else f"{self.config.index_prefix}-inbox-*")

    def _inbox_query(self, hospital_id: str | None) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [{"exists": {"field": "received_us"}}]
        if hospital_id is not None:
            filters.append({"term": {"hospital_id": hospital_id}})
        return {"bool": {"filter": filters}}

    def query_received(self, hospital_id: str | None, limit: int = 100,
                       offset: int = 0, after: InboxPosition | None = None
                       ) -> list[ReceivedReport]:
        def work() -> list[ReceivedReport]:
            extra: dict[str, Any] = {} if after is None else {"search_after": list(after)}
            hits = self.client.search(
                index=self._inbox_pattern(hospital_id), query=self._inbox_query(hospital_id),
                sort=[{"received_us": {"order": "desc"}}, {"id": {"order": "desc"}}],
                size=limit, from_=offset, source_excludes=["blobs"],
                allow_no_indices=True, ignore_unavailable=True, **extra).body["hits"]["hits"]
            return [ReceivedReport.from_meta(h["_source"]["meta"]) for h in hits]
        return self._call(work)

    def count_received(self, hospital_id: str | None) -> int:
        def work() -> int:
            return int(self.client.count(
                index=self._inbox_pattern(hospital_id), query=self._inbox_query(hospital_id),
                allow_no_indices=True, ignore_unavailable=True).body["count"])
        return self._call(work)

    def close(self) -> None:
        self.client.close()


def _record(source: dict[str, Any]) -> ReportRecord:
    blobs = source.get("blobs") or {}
    return ReportRecord.from_meta(source["meta"], docx=_bytes(blobs.get("docx")) or b"",
                                  pdf=_bytes(blobs.get("pdf")) or b"",
                                  jws=_bytes(blobs.get("jws")) or b"")
