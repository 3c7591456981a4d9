"""``/ingest`` (sensor): event batches and heartbeats from remote sensors.

A batch (``sensors.remote.batch``: gzip'd NDJSON, a header line then events) is checked
as hostile input, its events must belong to the hospital of the sensor's token, and it
is answered 200 only once it is durable in the engine's ingest journal. Sending the same
batch again is answered 200 with ``"status": "duplicate"`` and changes nothing.

Refused unless ``ingest.enabled``: a valid sensor token is not enough to inject events
into an engine that does not expect remote sensors.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Caller, allow, state
from api.errors import ApiError, Forbidden, Invalid, PayloadTooLarge
from api.models import ErrorOut
from api.routes.common import ERRORS
from phiwatch.ingest import (
    CONTENT_TYPE,
    MAX_EPOCH,
    MIN_EPOCH,
    Ingest,
    IngestInvalid,
    IngestNotYours,
    Taken,
)

router = APIRouter(tags=["ingest"])
Sensor = Annotated[Caller, Depends(allow("sensor"))]
log = logging.getLogger("phiwatch.api.ingest")


class UnsupportedMedia(ApiError):
    status, code = 415, "unsupported_media_type"


class IngestOut(BaseModel):
    status: str = Field(description="`accepted`, or `duplicate` for a batch already taken")
    seq: int
    events: int


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
    through_seq: Annotated[int, Field(ge=0, lt=2**62)]
    watermark: Annotated[float | None, Field(ge=MIN_EPOCH, le=MAX_EPOCH)] = None


def _journal(request: Request) -> Ingest:
    s = state(request)
    if not s.config.ingest.enabled or s.ingest is None:
        raise Forbidden("this engine takes no remote sensors (ingest.enabled is false)")
    return s.ingest


@router.post("/ingest", response_model=IngestOut,
             responses={**ERRORS, 415: {"model": ErrorOut, "description":
                                        "Not gzip'd NDJSON (Content-Encoding, Content-Type)"}},
             summary="A remote sensor's batch of events (gzip'd NDJSON)")
async def ingest(request: Request, caller: Sensor) -> IngestOut:
    journal = _journal(request)
    config = state(request).config.ingest
    if request.headers.get("content-encoding", "").lower() != "gzip":
        raise UnsupportedMedia("send the batch gzip'd, with Content-Encoding: gzip")
    if request.headers.get("content-type", "").split(";")[0].strip() != CONTENT_TYPE:
        raise UnsupportedMedia(f"send the batch as {CONTENT_TYPE}")
    body = await request.body()
    if len(body) > config.max_batch_bytes:
        raise PayloadTooLarge(f"a batch may be at most {config.max_batch_bytes} bytes")
    hospital = caller.principal.hospital
    assert hospital is not None  # a sensor token names its hospital (api.auth)

    def take() -> Taken:
        try:
            return journal.take(body, sensor=caller.subject, hospital=hospital)
        except IngestInvalid as e:
            raise Invalid(str(e), field=e.key) from None
        except IngestNotYours as e:
            raise Forbidden(str(e)) from None

    # Decompressing, checking and an fsync'd commit: off the event loop.
    taken = await asyncio.to_thread(take)
    waker = state(request).on_ingest
    if waker is not None and taken.outcome == "accepted":
        waker()
    return IngestOut(status=taken.outcome, seq=taken.seq, events=taken.events)


@router.post("/ingest/heartbeat", status_code=204, responses=ERRORS,
             summary="A remote sensor is alive; how far its event time has gone")
def heartbeat(request: Request, caller: Sensor, body: HeartbeatIn) -> Response:
    journal = _journal(request)
    hospital = caller.principal.hospital
    assert hospital is not None
    if not journal.heartbeat(sensor=caller.subject, hospital=hospital, stream=body.stream,
                             through_seq=body.through_seq, watermark=body.watermark):
        raise Invalid(f"stream {body.stream} of sensor {caller.subject!r} is unknown to this "
                      "engine: none of its batches was accepted", field="stream")
    return Response(status_code=204)
