"""Fixtures of the API tests: one world per backend for the session, servers on loopback.

``world`` runs every test that takes it twice: on a SQLite file and on osmem-server over
real HTTP (skipped, saying why, when osmem-server cannot run here).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from apikit import World, env, world_on
from es_testkit import start_osmem


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    """One osmem-server for the session (overrides the plugin's, to skip cleanly)."""
    server = start_osmem()
    yield server
    server.close()


@pytest.fixture(scope="session", params=["sqlite", "elasticsearch"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    yield from world_on(request, tmp_path_factory.mktemp(f"world-{request.param}"))


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def fresh_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[World]:
    """A world of its own for a module that changes what others count (new alerts, a
    tampered audit log)."""
    yield from world_on(request, tmp_path_factory.mktemp(f"fresh-{request.param}"))


@pytest.fixture(scope="session")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The SQLite world alone, for tests about the HTTP layer rather than the store."""
    w = World("sqlite", tmp_path_factory.mktemp("world-sqlite-only"))
    yield w
    w.close()


__all__ = ["env"]
