"""Report records and the inbox on both backends: one contract, SQLite and osmem-server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.connection import build_client
from alerting.reports import sample
from alerting.reports.drafting import finalize
from alerting.reports.es_records import ElasticsearchReportStore
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.records import (
    AlreadyReceived,
    DeliveryStatus,
    ReceivedReport,
    RecordConflict,
    ReportQuery,
    ReportRecord,
    inbox_position,
    record_id,
)
from alerting.reports.signing import SigningKey
from alerting.reports.sqlite_records import SQLiteReportStore

T0 = sample.local(2026, 12, 5, 10)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        s: Any = SQLiteReportStore(tmp_path / "alerts.db")
        yield s
        return
    url = request.getfixturevalue("es_url")
    config = ElasticsearchConfig(hosts=[url], compat="opensearch", refresh="true",
                                 request_timeout=10)
    s = ElasticsearchReportStore(build_client(config), config)
    yield s
    s.close()


def record(facts: ReportFacts, incident: str = "inc1", hospital: str = "bv-mau",
           at: int = 0) -> ReportRecord:
    f = facts.model_copy(update={"incident_id": incident, "hospital_id": hospital})
    return ReportRecord(id=record_id(incident, "department_report"), hospital_id=hospital,
                        incident_id=incident, kind="department_report", state="draft",
                        facts=f, drafted_at=T0 + timedelta(minutes=at),
                        drafted_by="it.tran").with_documents(b"PK docx", b"%PDF draft")


def test_records_are_written_by_compare_and_set(store: Any, facts: ReportFacts) -> None:
    first = store.save_report(record(facts), None)
    assert first.version == 1
    with pytest.raises(RecordConflict):
        store.save_report(record(facts), None)              # the id exists
    got = store.get_report(first.id)
    assert got == first and got.docx == b"PK docx" and got.facts == first.facts
    issued = replace(got, state="issued", number=3, number_text="3/BC-BVPSM", year=2026,
                     issued_at=T0, issued_by="it.tran",
                     deliveries=(DeliveryStatus("email", "a@b.vn", "pending", 0),)
                     ).with_documents(b"PK final", b"%PDF final", b"a.b.c")
    second = store.save_report(issued, 1)
    assert second.version == 2
    with pytest.raises(RecordConflict):
        store.save_report(issued, 1)                        # stale: someone wrote version 2
    again = store.get_report(first.id)
    assert again.jws == b"a.b.c" and again.state == "issued" and again.deliveries[0].target \
        == "a@b.vn"
    assert store.get_report("nope") is None


def test_lists_filter_leave_documents_out_and_hide_drafts_on_request(
        store: Any, facts: ReportFacts) -> None:
    store.save_report(record(facts, "inc1", "bv-mau", 0), None)
    store.save_report(record(facts, "inc2", "bv-mau", 5), None)
    other = record(facts, "inc3", "bv-khac", 9)
    store.save_report(replace(other, state="issued"), None)
    everything = store.query_reports(ReportQuery())
    assert [r.incident_id for r in everything] == ["inc3", "inc2", "inc1"]   # newest first
    assert all(r.docx == b"" and r.jws == b"" for r in everything)
    assert [r.incident_id for r in store.query_reports(ReportQuery(hospital_id="bv-mau"))] \
        == ["inc2", "inc1"]
    assert store.count_reports(ReportQuery(hospital_id="bv-mau")) == 2
    assert [r.incident_id for r in store.query_reports(ReportQuery(drafts=False))] == ["inc3"]
    assert store.count_reports(ReportQuery(state="draft")) == 2
    assert store.query_reports(ReportQuery(incident_id="inc2", limit=1))[0].incident_id \
        == "inc2"


def received(facts: ReportFacts, key: SigningKey, tmp_path: Path, incident: str = "inc1",
             idem: str | None = "k1") -> ReceivedReport:
    f = facts.model_copy(update={"incident_id": incident})
    issued = finalize(f, sample.sample_hospital(), numbers=SQLiteReportNumbers(
        tmp_path / "n.db"), key=key, issued_at=sample.local(2026, 12, 5, 11))
    return ReceivedReport(id=ReceivedReport.id_of(issued.payload), payload=issued.payload,
                          jws=issued.jws, key_id=key.key_id, received_at=T0,
                          idempotency_key=idem, docx=issued.docx, pdf=issued.pdf,
                          jws_sha256="x" * 64)


def test_the_inbox_stores_a_report_once(store: Any, facts: ReportFacts, key: SigningKey,
                                        tmp_path: Path) -> None:
    r = received(facts, key, tmp_path)
    assert r.id == "bv-mau-2026-1-bc"
    store.add_received(r)
    with pytest.raises(AlreadyReceived) as same:
        store.add_received(replace(r, idempotency_key="k2"))
    assert same.value.existing.id == r.id
    other = received(facts, key, tmp_path, "inc2", idem="k1")   # a new report, a used key
    with pytest.raises(AlreadyReceived, match="idempotency key"):
        store.add_received(other)
    store.add_received(replace(other, idempotency_key=None,
                               received_at=T0 + timedelta(minutes=1)))
    got = store.get_received(r.id)
    assert got.jws == r.jws and got.docx == r.docx and got.pdf == r.pdf
    assert got.payload == r.payload
    listed = store.query_received(None)
    assert [x.id for x in listed] == ["bv-mau-2026-2-bc", "bv-mau-2026-1-bc"]
    assert all(x.docx is None and x.jws == b"" for x in listed)
    assert listed[0].has_docx and listed[0].has_pdf
    assert store.count_received("bv-mau") == 2 and store.count_received("bv-khac") == 0
    assert store.query_received("bv-khac") == []
    assert store.get_received("bv-mau-2026-9-bc") is None


def test_inbox_pages_follow_a_position_that_new_arrivals_do_not_move(
        store: Any, facts: ReportFacts, key: SigningKey, tmp_path: Path) -> None:
    # Three at the same instant (sorted by id within it) and one a minute later.
    for n in (1, 2, 3):
        r = received(facts, key, tmp_path, f"inc{n}", idem=None)
        store.add_received(r)
    store.add_received(replace(received(facts, key, tmp_path, "inc4", idem=None),
                               received_at=T0 + timedelta(minutes=1)))
    first = store.query_received(None, limit=2)
    assert [x.id for x in first] == ["bv-mau-2026-4-bc", "bv-mau-2026-3-bc"]
    # A report arriving now sorts first and leaves the next page where it was.
    store.add_received(replace(received(facts, key, tmp_path, "inc5", idem=None),
                               received_at=T0 + timedelta(minutes=2)))
    rest = store.query_received(None, limit=2, after=inbox_position(first[-1]))
    assert [x.id for x in rest] == ["bv-mau-2026-2-bc", "bv-mau-2026-1-bc"]
    assert store.query_received(None, limit=2, after=inbox_position(rest[-1])) == []
    assert store.query_received("bv-khac", after=inbox_position(first[0])) == []
