"""The on-disk spool: order, revisions, the cap and its warnings, and durability."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from es_testkit import make_alert

from alerting.elasticsearch.spool import Spool, SpoolFullError, read_stats


def test_entries_come_out_in_arrival_order_and_survive_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_alerts=100)
    assert spool.append([make_alert(n) for n in (5, 1, 3)]) == 3
    spool.close()
    again = Spool(tmp_path, max_alerts=100)
    assert len(again) == 3
    entries = again.peek(2)
    assert [e.alert.to_dict() for e in entries] == [make_alert(5).to_dict(),
                                                    make_alert(1).to_dict()]
    assert again.ack(entries) == 2
    assert [e.alert.id for e in again.peek(10)] == [make_alert(3).id]
    again.close()


def test_one_row_per_alert_holding_its_highest_revision(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_alerts=100)
    spool.append([make_alert(1, revision=1), make_alert(2)])
    assert spool.append([make_alert(1, revision=0)]) == 0  # earlier: ignored
    assert spool.append([make_alert(1, revision=4)]) == 1  # later: replaces, keeps its place
    assert len(spool) == 2
    first = spool.peek(1)[0]
    assert first.alert.id == make_alert(1).id and first.revision == 4
    spool.close()


def test_an_entry_replaced_while_in_flight_is_not_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_alerts=100)
    spool.append([make_alert(1, revision=1)])
    in_flight = spool.peek(1)
    spool.append([make_alert(1, revision=2)])
    assert spool.ack(in_flight) == 0
    assert [e.revision for e in spool.peek(1)] == [2]
    spool.close()


def test_full_spool_refuses_new_alerts_loudly_and_keeps_what_fits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, max_alerts=10, warn_ratio=0.8)
    with caplog.at_level(logging.WARNING, logger="alerting.elasticsearch.spool"):
        spool.append([make_alert(n) for n in range(7)])
        assert not caplog.records
        spool.append([make_alert(7)])
        assert "80% full" in caplog.text
        with pytest.raises(SpoolFullError) as full:
            spool.append([make_alert(n) for n in range(8, 13)])
    assert full.value.refused == [make_alert(n).id for n in (10, 11, 12)]
    assert "is full (10 alerts)" in caplog.text
    assert len(spool) == 10
    # A newer revision of a spooled alert needs no room and is still taken.
    assert spool.append([make_alert(3, revision=9)]) == 1
    stats = spool.stats()
    assert (stats.depth, stats.appended, stats.replaced, stats.refused) == (10, 10, 1, 3)
    assert stats.fill_ratio == 1.0 and stats.oldest_age_seconds is not None
    spool.ack(spool.peek(5))
    seen = read_stats(tmp_path)
    assert seen is not None and seen.depth == 5
    spool.close()
