"""The sensor's shipper against a real engine API: a batch leaves the spool only when the
engine has it, a malformed one is set aside with the engine's reason, the engine being
away keeps everything, and a renewed token file is used without a restart."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from remotekit import token

from phiwatch.config import Config
from phiwatch.sensor import read_token
from sensors.event import Event
from sensors.remote.batch import Header, encode
from sensors.remote.config import SensorConfig
from sensors.remote.journal import IngestJournal
from sensors.remote.shipper import Shipper, TokenFile
from sensors.remote.spool import SensorSpool, SensorState

T0 = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)
NO_STATE = SensorState([], [], 0)


def spool_batch(spool: SensorSpool, n: int, *, org: str | None = None) -> int:
    evs = [Event(T0, {"event.dataset": "his.access", "user.id": "nv01",
                      **({"organization.id": org} if org else {})},
                 f"access.log:{i + 1}", f"id-{spool.last_seq}-{i}") for i in range(n)]
    return spool.append(lambda seq: encode(Header("his-app-01", spool.stream, seq,
                                                  T0.timestamp(), n), evs), n, NO_STATE)


def shipper(tmp_path: Path, url: str, spool: SensorSpool) -> Shipper:
    settings = SensorConfig(name="his-app-01", engine_url=url,
                            token_file=tmp_path / "sensor.token", timeout_seconds=5)
    return Shipper(settings, spool, token=TokenFile(settings.token_file, read_token),
                   sensor="his-app-01", refused_dir=tmp_path / "refused",
                   position=lambda: (spool.last_seq, None))


def test_a_batch_leaves_the_spool_when_the_engine_has_it(
        tmp_path: Path, engine_api: Callable[..., tuple[Config, str]]) -> None:
    config, url = engine_api()
    (tmp_path / "sensor.token").write_text(token(config, "sensor"))
    spool = SensorSpool(tmp_path / "sensor-spool.db")
    spool_batch(spool, 3)
    spool_batch(spool, 2, org="cho-ray")  # not this sensor's hospital: refused
    spool_batch(spool, 4)
    s = shipper(tmp_path, url, spool)
    while s.ship_once():
        pass
    assert spool.depth() == (0, 0)
    assert (s.status.batches_shipped, s.status.events_shipped) == (2, 7)
    assert s.status.batches_refused == 1
    (kept,) = (tmp_path / "refused").glob("*.gz")
    assert "organization.id" in kept.with_suffix(".reason").read_text()
    j = IngestJournal(config.ingest_path)
    assert [(i.last_seq, i.gaps) for i in j.streams()] == [(3, 1)]


def test_the_engine_away_keeps_everything_and_a_renewed_token_is_used(
        tmp_path: Path, engine_api: Callable[..., tuple[Config, str]]) -> None:
    spool = SensorSpool(tmp_path / "sensor-spool.db")
    spool_batch(spool, 3)
    (tmp_path / "sensor.token").write_text("not-a-token")
    away = shipper(tmp_path, "http://127.0.0.1:9", spool)  # nothing listens on port 9
    away.ship_once()
    assert spool.depth()[0] == 1 and "cannot be reached" in str(away.status.last_error)
    config, url = engine_api()
    s = shipper(tmp_path, url, spool)
    s.ship_once()  # a token the engine does not take: kept, retried
    assert spool.depth()[0] == 1 and "401" in str(s.status.last_error)
    tok = tmp_path / "sensor.token"
    tok.write_text(token(config, "sensor"))
    os.utime(tok, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert s.ship_once()
    assert spool.depth() == (0, 0) and s.status.last_error is None
