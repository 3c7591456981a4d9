"""Ships a sensor's spooled batches to the engine, oldest first, one at a time.

A batch leaves the spool only when the engine has answered 200 (it is in the engine's
journal) or has refused it for good (400, 413, 415, 422: the batch itself is wrong, and
sending it again would block every batch behind it); a refused batch is kept in the
dead-letter folder with the engine's reason. Anything else (the engine away, 5xx, 429, a
token the engine does not take) is retried with a growing pause, and the spool grows
meanwhile: the sensor's logs wait on disk, nothing is dropped.

With nothing to send, a heartbeat tells the engine the sensor is alive and how far its
event time has gone, so the engine neither waits for a quiet sensor nor gives up on one
that is only quiet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sensors.remote.batch import CONTENT_TYPE
from sensors.remote.config import SensorConfig
from sensors.remote.spool import SensorSpool, SpooledBatch

log = logging.getLogger(__name__)

#: Answers that say the batch itself is wrong: retrying cannot help.
REFUSED = frozenset({400, 413, 415, 422})
MIN_PAUSE, MAX_PAUSE = 0.5, 30.0


@dataclass
class ShipperStatus:
    batches_shipped: int = 0
    events_shipped: int = 0
    duplicates: int = 0
    batches_refused: int = 0
    retries: int = 0
    heartbeats: int = 0
    last_error: str | None = None
    #: Wall clock of the engine's last acknowledgement.
    last_ack: float | None = None
    errors: dict[str, int] = field(default_factory=dict)


class TokenFile:
    """The sensor's bearer token, read again when its file changes: a token renewed
    before it expires is used without a restart."""

    def __init__(self, path: Path, read: Callable[[Path], str]) -> None:
        self.path = path
        self._read = read
        self._stamp: tuple[int, int] | None = None
        self._token = ""
        self.current()

    def current(self) -> str:
        try:
            st = self.path.stat()
        except OSError:
            return self._token  # gone for a moment (being replaced): keep the last one
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                self._token = self._read(self.path)
            except Exception as e:  # a half-written file: keep the last good token
                if not self._token:
                    raise
                log.warning("the token file %s cannot be read (%s); keeping the last token",
                            self.path, e)
                return self._token
            self._stamp = stamp
        return self._token


class Shipper:
    """The sensor's sending side (a thread: ``start``/``stop``)."""

    def __init__(
        self,
        config: SensorConfig,
        spool: SensorSpool,
        *,
        token: TokenFile,
        sensor: str,
        refused_dir: Path,
        position: Callable[[], tuple[int, float | None] | None],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.spool = spool
        self.sensor = sensor
        self.refused_dir = refused_dir
        self.token = token
        #: (newest spooled seq, watermark after it), read for heartbeats; ``None`` until
        #: the sensor has read its inputs once (see ``heartbeat``).
        self._position = position
        verify: str | bool = str(config.ca_file) if config.ca_file else True
        self._client = httpx.Client(
            base_url=config.engine_url, verify=verify, timeout=config.timeout_seconds,
            headers={"User-Agent": "phiwatch-sensor"},
            transport=transport)
        self.status = ShipperStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pause = 0.0
        self._last_contact = float("-inf")

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="phiwatch-shipper",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A batch was spooled: ship it now rather than at the next heartbeat."""
        self._wake.set()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Ship what can be shipped within ``drain_seconds``, then stop; the rest stays in
        the spool for the next start."""
        deadline = time.monotonic() + drain_seconds
        while (self.spool.oldest() is not None and time.monotonic() < deadline
               and self._pause == 0.0):
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.config.timeout_seconds + 5)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.ship_once()
            except Exception as e:  # never let the thread die: the spool keeps the data
                log.exception("shipping failed unexpectedly; retrying")
                self._failed(f"{type(e).__name__}: {e}")
                sent = False
            if self._pause:
                self._stop.wait(self._pause)
            elif not sent:
                self._wake.wait(min(self.config.heartbeat_seconds, 0.5))
                self._wake.clear()

    # -- one step ------------------------------------------------------------------------------

    def ship_once(self) -> bool:
        """Send the oldest batch, or a heartbeat when one is due; ``True`` if a batch went."""
        batch = self.spool.oldest()
        if batch is None:
            if time.monotonic() - self._last_contact >= self.config.heartbeat_seconds:
                self.heartbeat()
            return False
        self._send(batch)
        return True

    def _send(self, batch: SpooledBatch) -> None:
        try:
            r = self._client.post("/ingest", content=batch.body, headers={
                "Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip", **self._auth()})
        except httpx.HTTPError as e:
            self._failed(f"the engine cannot be reached: {e}")
            return
        if r.status_code == 200:
            outcome = _json(r).get("status")
            self.spool.remove(batch.seq)
            self.status.batches_shipped += 1
            self.status.events_shipped += batch.count
            if outcome == "duplicate":
                self.status.duplicates += 1
            self._ok()
        elif r.status_code in REFUSED:
            self._refuse(batch, r)
        else:
            self._failed(f"the engine answered {r.status_code}: {_detail(r)}")

    def heartbeat(self) -> None:
        """Tell the engine the sensor is alive and how far its event time is. Nothing is
        said before the sensor's first read: a sensor just started has not yet seen its
        backlog, and a watermark of ``None`` ("my inputs are quiet") would let the engine
        stop waiting for it, so that the backlog of a restart arrived late."""
        position = self._position()
        if position is None:
            return
        seq, watermark = position
        try:
            r = self._client.post("/ingest/heartbeat", headers=self._auth(), json={
                "stream": self.spool.stream, "through_seq": seq, "watermark": watermark})
        except httpx.HTTPError as e:
            self._failed(f"the engine cannot be reached: {e}")
            return
        if r.status_code in (200, 204):
            self.status.heartbeats += 1
            self._ok()
        else:
            self._failed(f"the engine answered {r.status_code} to a heartbeat: {_detail(r)}",
                         heartbeat=True)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.current()}"}

    # -- outcomes ------------------------------------------------------------------------------

    def _ok(self) -> None:
        if self.status.last_error is not None:
            log.warning("the engine takes batches again")
        self.status.last_error = None
        self.status.last_ack = time.time()
        self._pause = 0.0
        self._last_contact = time.monotonic()

    def _failed(self, why: str, *, heartbeat: bool = False) -> None:
        if self.status.last_error != why:
            if heartbeat:
                log.warning("%s; the engine may wait for this sensor up to "
                            "ingest.idle_timeout_seconds; retried", why)
            else:
                log.warning("%s; batches wait in the spool (%s) and are retried", why,
                            self.spool.path)
        self.status.last_error = why
        self.status.retries += 1
        kind = why.split(":")[0][:60]
        self.status.errors[kind] = self.status.errors.get(kind, 0) + 1
        self._pause = min(max(self._pause * 2, MIN_PAUSE), MAX_PAUSE)

    def _refuse(self, batch: SpooledBatch, r: httpx.Response) -> None:
        self.refused_dir.mkdir(parents=True, exist_ok=True)
        kept = self.refused_dir / f"refused-{self.spool.stream}-{batch.seq:012d}.ndjson.gz"
        kept.write_bytes(batch.body)
        reason = _detail(r)
        (kept.with_suffix(".reason")).write_text(f"{r.status_code} {reason}\n",
                                                 encoding="utf-8")
        log.error("the engine refused batch %d (%d events): %s %s; kept in %s",
                  batch.seq, batch.count, r.status_code, reason, kept)
        self.spool.remove(batch.seq)
        self.status.batches_refused += 1
        self._last_contact = time.monotonic()


def _json(r: httpx.Response) -> dict[str, object]:
    try:
        d = r.json()
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def _detail(r: httpx.Response) -> str:
    """The engine's problem description, one line, bounded (it is shown in our logs)."""
    d = _json(r)
    text = str(d.get("message") or d.get("detail") or r.reason_phrase or "")
    return "".join(c for c in text if c.isprintable())[:300]
