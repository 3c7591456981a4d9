"""Helpers of the remote sensor tests: an engine configuration with ingest on, tokens."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent.parent / "api"))

from apikit import ENV, SECRET

from api.auth import issue_token
from phiwatch.config import Config, load_config

__all__ = ["ENV", "SECRET", "engine_config", "token"]


def engine_config(folder: Path, *, enabled: bool = True, extra: dict[str, object] | None = None
                  ) -> Config:
    data: dict[str, object] = {
        "state_dir": "engine", "api": {"listen": "127.0.0.1:0"},
        "ingest": {"enabled": enabled, "max_batch_bytes": 256 << 10},
        **(extra or {}),
    }
    path = folder / "engine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def token(config: Config, role: str, hospital: str | None = "tu-du",
          subject: str = "his-app-01") -> str:
    return issue_token(config.api.auth, SECRET.encode(), subject=subject,
                       role=role,  # type: ignore[arg-type]
                       hospital=hospital, ttl=timedelta(hours=1))
