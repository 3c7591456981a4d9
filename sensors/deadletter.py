"""Where records that cannot be read go, with the reason, so bad input is never silently lost.

One NDJSON file: each entry names the source file, line and byte offset, the reason
(which names the field), and the raw record (``raw`` as text, or ``raw_b64`` when it is
not valid UTF-8). A record longer than the sensor's line limit is streamed whole into a
side file under ``oversize/`` and the entry points to it.

Restarts: the pipeline records ``size()`` in each snapshot and calls ``truncate_to`` on
start, so entries written after the last snapshot (whose lines will be read again) are
not written twice.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson


class DeadLetter:
    """Appends unreadable records to ``path`` and counts them by reason."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()  # entries name side files; a relative path would dangle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(self.path, "ab")  # noqa: SIM115  (kept open for appends)
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def write(
        self,
        *,
        source: str,
        line: int,
        offset: int,
        reason: str,
        raw: bytes,
        kind: str = "parse",
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Keep one bad record. ``kind`` is the counter it adds to (``parse``, ``late`` …)."""
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "source": source,
            "line": line,
            "offset": offset,
            "kind": kind,
            "reason": reason,
        }
        if field is not None:
            entry["field"] = field
        try:
            entry["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["raw_b64"] = base64.b64encode(raw).decode("ascii")
        if extra:
            entry.update(extra)
        self._file.write(orjson.dumps(entry) + b"\n")
        self.counts[kind] += 1

    def open_oversize(self, source: str, offset: int) -> tuple[Path, IO[bytes]]:
        """A side file to stream an over-long record into; named so a re-read overwrites it."""
        key = hashlib.blake2b(f"{source}:{offset}".encode(), digest_size=8).hexdigest()
        folder = self.path.parent / "oversize"
        folder.mkdir(parents=True, exist_ok=True)
        blob = folder / f"{Path(source).name}.{offset}.{key}.bin"
        return blob, open(blob, "wb")

    def flush(self) -> None:
        self._file.flush()

    def sync(self) -> None:
        """Flush and fsync: called before a snapshot records ``size()``."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def size(self) -> int:
        self._file.flush()
        return self._file.tell()

    def truncate_to(self, size: int) -> None:
        """Drop entries past ``size`` (written after the snapshot that is being resumed)."""
        self._file.flush()
        if size < self._file.tell():
            os.truncate(self.path, size)
            self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()
