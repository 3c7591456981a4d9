"""The 72-hour clock, and finalize refusing a late notification without a reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from alerting.reports import sample
from alerting.reports.deadline import ClockState, clock, deadline, delay_reason_for
from alerting.reports.drafting import finalize
from alerting.reports.errors import FactsError, LateWithoutReasonError
from alerting.reports.model import ReportFacts
from alerting.reports.numbering import SQLiteReportNumbers
from alerting.reports.profile import HospitalProfile
from alerting.reports.signing import SigningKey

T0 = sample.local(2026, 12, 4, 17, 3)
H = timedelta(hours=1)


@pytest.mark.parametrize(("elapsed", "state"), [
    (timedelta(0), ClockState.OK),
    (48 * H - timedelta(seconds=1), ClockState.OK),
    (48 * H, ClockState.WARN),
    (70 * H - timedelta(seconds=1), ClockState.WARN),
    (70 * H, ClockState.URGENT),
    (72 * H, ClockState.URGENT),
    (72 * H + timedelta(seconds=1), ClockState.OVERDUE),
    (400 * H, ClockState.OVERDUE),
])
def test_states_follow_the_given_now(elapsed: timedelta, state: ClockState) -> None:
    c = clock(T0, T0 + elapsed)
    assert c.state is state
    assert c.deadline == T0 + 72 * H == deadline(T0)
    assert c.remaining == 72 * H - elapsed


def test_a_sent_notification_stops_the_clock() -> None:
    assert clock(T0, T0 + 100 * H, sent_at=T0 + 71 * H).state is ClockState.SENT
    late = clock(T0, T0 + 100 * H, sent_at=T0 + 73 * H)
    assert late.state is ClockState.SENT_LATE and late.remaining == -H


def test_naive_times_are_refused() -> None:
    with pytest.raises(FactsError):
        clock(T0.replace(tzinfo=None), T0)


def test_delay_reason_required_only_when_late() -> None:
    assert delay_reason_for(T0, T0 + 10 * H, None) is None
    with pytest.raises(LateWithoutReasonError, match="72-hour deadline"):
        delay_reason_for(T0, T0 + 73 * H, "  ")
    assert delay_reason_for(T0, T0 + 73 * H, "Mất điện\x00") == "Mất điện\\x00"


def test_finalize_refuses_late_without_reason_and_burns_no_number(
        facts: ReportFacts, hospital: HospitalProfile, key: SigningKey, tmp_path: Path,
        pdf_text: Callable[[bytes], str]) -> None:
    numbers = SQLiteReportNumbers(tmp_path / "n.db")
    late = facts.detected_at + 80 * H
    with pytest.raises(LateWithoutReasonError):
        finalize(facts, hospital, kind="breach_notification", numbers=numbers, key=key,
                 issued_at=late)
    assert numbers.assigned("bv-mau", 2026) == []
    r = finalize(facts, hospital, kind="breach_notification", numbers=numbers, key=key,
                 issued_at=late, delay_reason="Hệ thống thư điện tử của bệnh viện bị gián đoạn")
    assert r.payload.late and r.payload.number == 1
    assert r.payload.delay_reason == "Hệ thống thư điện tử của bệnh viện bị gián đoạn"
    assert "Lý do thông báo sau 72 giờ" in pdf_text(r.pdf)
    again = finalize(facts, hospital, kind="breach_notification", numbers=numbers, key=key,
                     issued_at=late, delay_reason="Hệ thống thư điện tử của bệnh viện bị gián đoạn")
    assert again.payload.number == 1                    # a retried finalize keeps its number
    on_time = finalize(facts, hospital, numbers=numbers, key=key,
                       issued_at=facts.detected_at + 20 * H)
    assert not on_time.payload.late and on_time.payload.number == 2
    assert on_time.payload.number_text == "2/BC-BVPSM"
