"""Report numbers on Elasticsearch: one counter document per hospital and year, written
only by compare-and-set.

The counter document (``<prefix>-report-numbers``, id ``<hospital>:<year>``) holds the
last number *and* every key it was given to. Drawing a number is one read (real-time
``GET``) and one conditional write (``if_seq_no``/``if_primary_term`` of that read, or
``op_type=create`` for the year's first): bumping the counter and recording the key are
one atomic write, so no crash between two writes can burn a number, and a writer that
lost the race (409) reads again and finds either its key (a retry of the same document)
or a higher counter. Two processes confirming incidents at the same moment thus get two
consecutive numbers, as with ``SQLiteReportNumbers``. A hospital issues tens of reports a
year, so the list of keys stays small.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from elasticsearch import ConflictError as EsConflict

from alerting.elasticsearch.indices import KW, ensure_index
from alerting.reports.errors import NumberingError

MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {"hospital_id": KW, "year": {"type": "long"}, "last": {"type": "long"},
                   "assigned": {"type": "object", "enabled": False}},
}


class ElasticsearchReportNumbers:
    """``ReportNumbers`` on a cluster; safe across threads, processes and machines."""

    def __init__(self, client: Elasticsearch, index: str, *, attempts: int = 200) -> None:
        self.client = client
        self.index = index
        self.attempts = attempts
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            ensure_index(self.client, self.index, MAPPINGS)
            self._ready = True

    def next(self, hospital_id: str, year: int, key: str) -> int:
        if not hospital_id or not key:
            raise NumberingError("report number", "needs a hospital id and a key")
        if not 1900 < year < 10000:
            raise NumberingError(f"report number of {hospital_id}", f"bad year {year}")
        doc_id = f"{hospital_id}:{year}"
        try:
            self._ensure()
            for attempt in range(self.attempts):
                number = self._try(doc_id, hospital_id, year, key)
                if number is not None:
                    return number
                # Lost a race: back off a little, more each time, so many writers spread out.
                time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))
        except (TransportError, ApiError) as e:
            self._ready = False
            raise NumberingError(f"report number of {hospital_id}/{year} ({self.index})",
                                 str(e)) from e
        raise NumberingError(f"report number of {hospital_id}/{year}",
                             f"the counter kept changing during {self.attempts} attempts")

    def _try(self, doc_id: str, hospital_id: str, year: int, key: str) -> int | None:
        """The number, or None when another writer got in first."""
        try:
            got = self.client.get(index=self.index, id=doc_id).body
        except NotFoundError:
            got = None
        now = datetime.now(UTC).isoformat()
        try:
            if got is None:
                doc = {"hospital_id": hospital_id, "year": year, "last": 1,
                       "assigned": {"keys": [{"key": key, "number": 1, "at": now}]}}
                self.client.index(index=self.index, id=doc_id, document=doc, op_type="create")
                return 1
            source = got["_source"]
            keys: list[dict[str, Any]] = list(source["assigned"]["keys"])
            for entry in keys:
                if entry["key"] == key:
                    return int(entry["number"])
            number = int(source["last"]) + 1
            keys.append({"key": key, "number": number, "at": now})
            doc = {**source, "last": number, "assigned": {"keys": keys}}
            self.client.index(index=self.index, id=doc_id, document=doc,
                              if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"])
            return number
        except EsConflict:
            return None

    def assigned(self, hospital_id: str, year: int) -> list[tuple[int, str]]:
        """Every (number, key) of the year, in order: the register, for an audit."""
        try:
            got = self.client.get(index=self.index, id=f"{hospital_id}:{year}").body
        except NotFoundError:
            return []
        except (TransportError, ApiError) as e:
            raise NumberingError(f"report numbers of {hospital_id}/{year}", str(e)) from e
        return sorted((int(e["number"]), str(e["key"]))
                      for e in got["_source"]["assigned"]["keys"])
