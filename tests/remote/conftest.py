"""Fixtures of the remote sensor tests: the API with ingest on, over real HTTP."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from remotekit import ENV, engine_config

from api.app import create_app
from api.server import ApiServer
from phiwatch.config import Config


@pytest.fixture
def engine_api(tmp_path: Path) -> Iterator[Callable[..., tuple[Config, str]]]:
    servers: list[ApiServer] = []

    def start(enabled: bool = True) -> tuple[Config, str]:
        config = engine_config(tmp_path, enabled=enabled)
        server = ApiServer(config, app=create_app(config, environ=ENV)).start()
        servers.append(server)
        return config, server.url

    yield start
    for s in servers:
        s.stop()
