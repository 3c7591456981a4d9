"""Fixtures for the alert-store tests: osmem-server over real HTTP, skipped if it can't run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from es_testkit import es_config, start_osmem

from alerting.elasticsearch import ElasticsearchAlertStore
from alerting.sqlite_store import SQLiteAlertStore


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    """One osmem-server for the session (overrides the plugin's, to skip cleanly)."""
    server = start_osmem()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty alert store of each backend: the same test holds on both."""
    s: Any
    if request.param == "sqlite":
        s = SQLiteAlertStore(tmp_path / "alerts.db")
    else:
        clone = request.getfixturevalue("osmem_clone")
        s = ElasticsearchAlertStore(es_config(clone.url, tmp_path), background=False)
    yield s
    s.close()
