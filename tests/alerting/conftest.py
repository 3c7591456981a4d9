"""Fixtures for the alert-store tests: osmem-server over real HTTP, skipped if it can't run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from es_testkit import start_osmem


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    """One osmem-server for the session (overrides the plugin's, to skip cleanly)."""
    server = start_osmem()
    yield server
    server.close()
