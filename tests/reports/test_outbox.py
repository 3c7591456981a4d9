"""Outbox mechanics: backoff, leases after a crash, giving up, a channel that raises.

The channels here are small in-test classes (a channel is any object with ``send``):
what is under test is the outbox's bookkeeping on a real SQLite file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alerting.reports import sample
from alerting.reports.drafting import finalize, parcel_of
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.outbox import Backoff, Outbox, Outcome, Parcel, State
from alerting.reports.profile import HospitalProfile
from alerting.reports.signing import SigningKey

T0 = sample.local(2026, 12, 5, 10)
PARCEL = Parcel("r1", "s", "b", b"x.y.z")


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        self.calls.append(idempotency_key)
        if len(self.calls) <= self.failures:
            return Outcome.retry("temporary")
        return Outcome.delivered()


class Broken:
    def send(self, parcel: Parcel, target: str, idempotency_key: str) -> Outcome:
        raise RuntimeError("bug in a channel")


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(base=timedelta(seconds=30), cap=timedelta(minutes=5))
    assert [b.delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]
    assert b.delay(1, timedelta(minutes=2)) == timedelta(minutes=2)
    assert b.delay(1, timedelta(days=3)) == b.max_retry_after


def test_a_crash_mid_send_is_retried_after_the_lease(tmp_path: Path) -> None:
    flaky = Flaky(0)
    box = Outbox(tmp_path / "o.db", {"x": flaky}, lease=timedelta(minutes=5))
    box.enqueue(PARCEL, [("x", "t")], now=T0)
    assert box._claim(int(T0.timestamp() * 1_000_000)) is not None   # claimed, then "crash"
    assert box.deliveries()[0].state is State.SENDING
    restarted = Outbox(tmp_path / "o.db", {"x": flaky}, lease=timedelta(minutes=5))
    assert restarted.run_due(now=T0 + timedelta(minutes=4)) == []      # lease still held
    (a,) = restarted.run_due(now=T0 + timedelta(minutes=5))
    assert a.result is State.DELIVERED and flaky.calls


def test_a_raising_channel_is_recorded_and_retried(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", {"x": Broken()}, max_attempts=3)
    box.enqueue(PARCEL, [("x", "t")], now=T0)
    t = T0
    for _ in range(3):
        box.run_due(now=t)
        t += timedelta(hours=2)
    d = box.deliveries()[0]
    assert d.state is State.GAVE_UP and "gave up after 3 attempts" in d.last_error
    assert [a.error for a in box.attempts(d.id)] == ["RuntimeError: bug in a channel"] * 3
    assert box.next_due() is None


def test_an_issued_report_becomes_a_parcel(facts: ReportFacts, hospital: HospitalProfile,
                                           key: SigningKey, tmp_path: Path) -> None:
    issued = finalize(facts, hospital, numbers=SQLiteReportNumbers(tmp_path / "n.db"),
                      key=key, issued_at=sample.local(2026, 12, 6, 9))
    p = parcel_of(issued, hospital)
    assert p.report_id == "bv-mau:2026:1/BC-BVPSM" and p.jws == issued.jws
    assert [a.filename for a in p.attachments] == [
        "bao-cao-1-BC-BVPSM-2026.docx", "bao-cao-1-BC-BVPSM-2026.pdf",
        "bao-cao-1-BC-BVPSM-2026.jws"]
    assert "Báo cáo sự cố lộ lọt dữ liệu người bệnh – số 1/BC-BVPSM" in p.subject
    flaky = Flaky(1)
    box = Outbox(tmp_path / "o.db", {"x": flaky})
    box.enqueue(p, [("x", "t")], now=T0)
    box.run_due(now=T0)
    box.run_due(now=T0 + timedelta(minutes=1))
    assert box.deliveries()[0].state is State.DELIVERED
    assert len(set(flaky.calls)) == 1
