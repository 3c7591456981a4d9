"""Incident notes in Elasticsearch: ``<prefix>-notes-<org>``, one small index per hospital.

Each note is its own document, created once (``op_type=create``) and never updated, with
``refresh=true`` so the incident view shows it at once.
"""

from __future__ import annotations

from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.documents import micros, org_slug
from alerting.elasticsearch.indices import KW, ensure_index
from alerting.elasticsearch.writer import ClusterUnavailable
from alerting.notes import Note

NOTE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": KW, "incident_id": KW, "organization_id": KW,
        "organization": {"properties": {"id": KW}},
        "at": {"type": "date"}, "at_us": {"type": "long"}, "actor": KW, "role": KW,
        "kind": KW, "text": {"type": "text"},
    },
}


def notes_index(config: ElasticsearchConfig, organization_id: str | None) -> str:
    return f"{config.index_prefix}-notes-{org_slug(organization_id)}"


class ElasticsearchNotes:
    """The ``NoteStore`` methods, mixed into ``ElasticsearchAlertStore``."""

    client: Elasticsearch
    config: ElasticsearchConfig
    #: Notes indices known to exist (checked once per process and hospital).
    _note_indices: frozenset[str] = frozenset()

    def add_note(self, note: Note) -> Note:
        index = notes_index(self.config, note.organization_id)
        doc = {**note.to_dict(), "at_us": micros(note.at)}
        if note.organization_id is not None:
            doc["organization"] = {"id": note.organization_id}
        try:
            if index not in self._note_indices:
                ensure_index(self.client, index, NOTE_MAPPINGS)
                self._note_indices = self._note_indices | {index}
            self.client.index(index=index, id=note.id, document=doc, op_type="create",
                              refresh="true")
        except (TransportError, ApiError) as e:
            self._note_indices = self._note_indices - {index}
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return note

    def notes_of(self, incident_id: str) -> list[Note]:
        try:
            hits = self.client.search(
                index=f"{self.config.index_prefix}-notes-*",
                query={"bool": {"filter": [{"term": {"incident_id": incident_id}}]}},
                sort=[{"at_us": {"order": "asc"}}, {"id": {"order": "asc"}}], size=10_000,
                allow_no_indices=True, ignore_unavailable=True,
            ).body["hits"]["hits"]
        except (TransportError, ApiError) as e:
            raise ClusterUnavailable(f"Elasticsearch: {e}") from e
        return [Note.from_dict(h["_source"]) for h in hits]
