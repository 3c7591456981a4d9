"""The ``sensor:`` (a remote sensor's) and ``ingest:`` (the engine's) configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorConfig(_Model):
    """Where ``phiwatch sensor`` ships its events, and how."""

    #: This sensor's name: the subject of its token (``phiwatch token issue --role sensor
    #: --subject NAME``), and the origin its events are shown with (``NAME:/path:line``).
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    #: The engine's API, e.g. ``https://phiwatch.benhvien.local:8443``.
    engine_url: Annotated[str, Field(min_length=1)]
    #: A file holding the sensor's token (``phiwatch token issue --role sensor``); kept
    #: out of the configuration so the configuration can be shared.
    token_file: Path
    #: The CA that signed the engine's certificate (else the system's).
    ca_file: Path | None = None
    #: Most events in one batch.
    batch_max_events: Annotated[int, Field(ge=1, le=50_000)] = 5_000
    #: A batch is cut at most this long after its first event (wall clock).
    batch_max_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    #: With nothing to send, the sensor still tells the engine how far its inputs have
    #: read this often, so the engine does not wait for it.
    heartbeat_seconds: Annotated[float, Field(gt=0, le=300)] = 2.0
    #: Seconds for one request; a slower engine is retried.
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    #: Past this the sensor stops reading its inputs until the engine takes batches
    #: again (the logs wait on disk: nothing is dropped).
    spool_max_bytes: Annotated[int, Field(ge=1 << 20)] = 2 << 30

    @field_validator("engine_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("expected an http(s):// address of the engine's API")
        return v.rstrip("/")


class IngestConfig(_Model):
    """Whether the engine takes events from remote sensors (``POST /ingest``)."""

    #: Off by default: no token, however valid, injects events until this is set.
    enabled: bool = False
    #: A compressed batch larger than this is refused (413).
    max_batch_bytes: Annotated[int, Field(ge=1024, le=256 << 20)] = 16 << 20
    #: … and so is one that decompresses to more than this many times its size.
    max_expansion: Annotated[int, Field(ge=2, le=1000)] = 50
    #: A sensor unheard of for this long (wall clock) stops holding the other inputs
    #: back; its events that arrive later than the lateness are then dead-lettered.
    idle_timeout_seconds: Annotated[float, Field(gt=0, le=86_400)] = 30.0
