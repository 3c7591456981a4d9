"""The engine's ingest journal: a batch is recorded once whatever is retried, belongs to
its sensor's hospital, and is read back in order by the run loop's remote source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensors.event import Event
from sensors.merge import EventTimeMerge
from sensors.remote.batch import Batch, BatchError, Header
from sensors.remote.journal import IngestJournal
from sensors.remote.source import RemoteSource
from sensors.split import Split

T0 = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)


def events(n: int, start: int = 0, org: str | None = None) -> list[Event]:
    out = []
    for i in range(start, start + n):
        fields: dict[str, object] = {"event.dataset": "his.access", "user.id": "nv01"}
        if org is not None:
            fields["organization.id"] = org
        e = Event(T0, fields, f"/var/log/his/access.log:{i + 1}", f"id-{i}")
        e.epoch += i
        out.append(e)
    return out


def batch(seq: int, evs: list[Event], *, stream: str = "aa01",
          watermark: float | None = None) -> Batch:
    return Batch(Header("his-app-01", stream, seq, watermark, len(evs)), evs)


def test_a_batch_sent_twice_is_recorded_once(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    assert j.accept(batch(1, events(3)), "tu-du") == "accepted"
    assert j.accept(batch(1, events(3)), "tu-du") == "duplicate"
    assert j.accept(batch(2, events(2, 3)), "tu-du") == "accepted"
    assert j.pending() == 2
    (info,) = j.streams()
    assert (info.last_seq, info.gaps, info.hospital) == (2, 0, "tu-du")
    read = j.read(info.key, 0, 10)
    assert [b.seq for b in read] == [1, 2]
    assert [r["f"]["organization.id"] for r in read[0].records] == ["tu-du"] * 3
    # Pruned after a snapshot read past batch 1: a late resend of batch 1 is still known.
    assert j.prune({info.key: 1}) == 1
    assert j.accept(batch(1, events(3)), "tu-du") == "duplicate"
    assert [b.seq for b in j.read(info.key, 0, 10)] == [2]


def test_a_restarted_spool_is_a_new_stream(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    j.accept(batch(1, events(1)), "tu-du")
    assert j.accept(batch(1, events(1, 5), stream="bb02"), "tu-du") == "accepted"
    assert len(j.streams()) == 2


def test_a_gap_is_counted(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    j.accept(batch(1, events(1)), "tu-du")
    j.accept(batch(3, events(1, 1)), "tu-du")  # batch 2 refused by us, dead-lettered there
    assert j.streams()[0].gaps == 1


def test_events_of_another_hospital_refuse_the_batch(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    evs = events(2, org="tu-du") + events(1, 2, org="cho-ray")
    with pytest.raises(BatchError) as e:
        j.accept(batch(1, evs), "tu-du")
    assert (e.value.line, e.value.key) == (4, "organization.id")
    assert j.pending() == 0 and j.streams() == []
    # A stream opened by one hospital's sensor cannot be continued by another's.
    j.accept(batch(1, events(1)), "tu-du")
    with pytest.raises(BatchError, match="opened for hospital 'tu-du'"):
        j.accept(batch(2, events(1, 1)), "cho-ray")


def test_heartbeats_name_a_known_batch(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    assert not j.heartbeat("his-app-01", "aa01", "tu-du", 1, 1.0e9)
    j.accept(batch(1, events(1)), "tu-du")
    assert j.heartbeat("his-app-01", "aa01", "tu-du", 1, 1.9e9)
    assert not j.heartbeat("his-app-01", "aa01", "cho-ray", 1, 1.9e9)
    assert j.streams()[0].watermark == 1.9e9
    # Batch 2 was refused (the sensor set it aside): the heartbeat after it still counts,
    # from the last batch the journal has.
    assert j.heartbeat("his-app-01", "aa01", "tu-du", 2, 1.95e9)
    info = j.streams()[0]
    assert (info.through_seq, info.watermark) == (1, 1.95e9)


def _source(tmp_path: Path, positions: dict[str, int] | None = None
            ) -> tuple[RemoteSource, EventTimeMerge]:
    merge = EventTimeMerge(live=True)
    return RemoteSource(tmp_path / "ingest.db", merge, lambda name: Split(name, idle_timeout=30),
                        positions=positions), merge


def test_the_remote_source_reads_in_order_and_waits_for_the_watermark(tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    j.accept(batch(1, events(5), watermark=T0.timestamp() + 5), "tu-du")
    source, merge = _source(tmp_path)
    assert source.fill(1000, now=0.0) == 5
    # Released up to the sensor's watermark: event 5 (epoch T0+5) waits for what follows.
    out = merge.release(0.0)
    assert [e.id for e in out] == ["id-0", "id-1", "id-2", "id-3", "id-4"]
    assert out[0].ref == "his-app-01:/var/log/his/access.log:1" and out[0].offset == -1
    j.accept(batch(2, events(3, 5), watermark=None), "tu-du")  # then its inputs went quiet
    assert source.fill(1000, now=0.1) == 3
    assert [e.id for e in merge.release(0.1)] == ["id-5", "id-6", "id-7"]
    assert source.positions() == {"his-app-01/aa01": 2}
    # After a restart from a snapshot at batch 1, batch 2 is read again, batch 1 not.
    again, _ = _source(tmp_path, {"his-app-01/aa01": 1})
    assert again.fill(1000, now=0.0) == 3
    assert source.prune() == 2 and j.pending() == 0


def test_a_silent_sensor_stops_holding_the_others_after_its_idle_timeout(
        tmp_path: Path) -> None:
    j = IngestJournal(tmp_path / "ingest.db")
    j.accept(batch(1, events(2), watermark=T0.timestamp() + 1), "tu-du")
    source, merge = _source(tmp_path)
    other = merge.add(Split("local log", idle_timeout=30))
    late = events(1, 100)
    other.add(late, now=0.0)
    source.fill(1000, now=0.0)
    assert [e.id for e in merge.release(1.0)] == ["id-0"]  # the sensor holds id-100 back
    assert [e.id for e in merge.release(31.0)] == ["id-1", "id-100"]  # … until it is silent
