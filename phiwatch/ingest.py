"""The engine's side of remote sensors, as the API uses it (``POST /ingest``).

The API reaches the pipeline's stages only through ``phiwatch`` (docs/architecture.md):
this is its door to ``sensors.remote``. ``Ingest.take`` checks a batch as hostile input,
checks that it is the calling sensor's and its hospital's, and returns only once the
batch is durable in the journal the run loop reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from phiwatch.config import Config
from sensors.errors import PhiwatchError
from sensors.remote.batch import CONTENT_TYPE, MAX_EPOCH, MIN_EPOCH, BatchError, decode
from sensors.remote.journal import IngestJournal, Outcome

__all__ = ["CONTENT_TYPE", "MAX_EPOCH", "MIN_EPOCH", "Ingest", "IngestInvalid",
           "IngestNotYours", "Taken"]


class IngestInvalid(PhiwatchError):
    """The batch is malformed or names another hospital; ``key`` is the field."""


class IngestNotYours(PhiwatchError):
    """The batch names another sensor than the caller."""


@dataclass(frozen=True, slots=True)
class Taken:
    outcome: Outcome
    seq: int
    events: int


class Ingest:
    """The ingest journal of one engine (``state_dir/ingest.db``)."""

    def __init__(self, config: Config) -> None:
        self.limits = config.ingest
        self.journal = IngestJournal(config.ingest_path)

    def take(self, body: bytes, *, sensor: str, hospital: str) -> Taken:
        """Journal the gzip'd batch ``body`` sent by ``sensor`` of ``hospital``."""
        try:
            batch = decode(body, max_bytes=self.limits.max_batch_bytes
                           * self.limits.max_expansion)
        except BatchError as e:
            raise IngestInvalid(str(e), key=e.key) from None
        if batch.header.sensor != sensor:
            raise IngestNotYours(f"the batch names sensor {batch.header.sensor!r}; the token "
                                 f"is for {sensor!r}")
        try:
            outcome = self.journal.accept(batch, hospital)
        except BatchError as e:
            raise IngestInvalid(str(e), key=e.key) from None
        return Taken(outcome, batch.header.seq, batch.header.count)

    def heartbeat(self, *, sensor: str, hospital: str, stream: str, through_seq: int,
                  watermark: float | None) -> bool:
        """Record that ``sensor`` is alive (``False``: it names a batch never received)."""
        if through_seq == 0:
            return True  # nothing sent yet: nothing to record
        return self.journal.heartbeat(sensor, stream, hospital, through_seq, watermark)

    def close(self) -> None:
        self.journal.close()
