"""Alerts the cluster refused for good (mapping conflict, bad value, closed index).

Retrying those forever would block the spool behind them, and dropping them would lose
an alert, so each one is appended to an NDJSON file with the reason the cluster gave and
the whole alert; ``read_rejected`` gives them back for a re-send once the cause is fixed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from rules.alert import Alert


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused alert: where it was going and why the cluster said no."""

    alert: Alert
    index: str
    status: int
    error_type: str
    reason: str


class RejectedAlerts:
    """Appends rejections to one NDJSON file, fsynced: these alerts exist nowhere else."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.count = 0

    def write(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        lines = b"".join(
            orjson.dumps({
                "time": datetime.now(UTC).isoformat(),
                "alert_id": r.alert.id,
                "index": r.index,
                "status": r.status,
                "error_type": r.error_type,
                "reason": r.reason,
                "alert": r.alert.to_dict(),
            }) + b"\n"
            for r in rejections
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as f:
                f.write(lines)
                f.flush()
                os.fsync(f.fileno())
            self.count += len(rejections)


def read_rejected(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a dead-letter file, oldest first (a torn last line is skipped)."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                continue


def count_rejected(path: Path) -> int:
    return sum(1 for _ in read_rejected(path))
