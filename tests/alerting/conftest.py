"""Fixtures for the alert-store tests: osmem-server over real HTTP, skipped if it can't run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def start_osmem(**kwargs: Any) -> Any:
    """An osmem-server process, or a skip that says why there is none."""
    osmem = pytest.importorskip("osmem_server",
                                reason="osmem-server is not installed (pip install -e '.[dev]')")
    try:
        return osmem.OsmemServer.start(japanese=False, **kwargs)
    except (osmem.OsmemError, OSError) as e:
        pytest.skip(f"osmem-server cannot start on this machine: {e}")


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    """One osmem-server for the session (overrides the plugin's, to skip cleanly)."""
    server = start_osmem()
    yield server
    server.close()
