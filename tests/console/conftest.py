"""Fixtures of the console tests: worlds per backend, the console served over them, and
one headless Chromium (Debian's ``chromium`` and ``chromium-driver``) for the session.

The browser tests skip, naming the command, where Chromium or its driver is missing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "api"))

from apikit import World
from consolekit import Console, populate, serve
from es_testkit import start_osmem

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1366,1000",
                  "--lang=vi")


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[Any]:
    server = start_osmem()
    yield server
    server.close()


def _world(request: pytest.FixtureRequest, folder: Path, backend: str) -> Iterator[World]:
    if backend == "sqlite":
        w = World("sqlite", folder)
        populate(w)
        yield w
        w.close()
        return
    server = request.getfixturevalue("osmem_server")
    with server.clone() as clone:
        w = World("elasticsearch", folder, clone.url)
        populate(w)
        yield w
        w.close()


@pytest.fixture(scope="session", params=["sqlite", "elasticsearch"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    yield from _world(request, tmp_path_factory.mktemp(f"console-{request.param}"),
                      request.param)


@pytest.fixture(scope="session")
def sqlite_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[World]:
    yield from _world(request, tmp_path_factory.mktemp("console-sqlite-only"), "sqlite")


@pytest.fixture(scope="session")
def console(world: World) -> Console:
    """The console over ``world`` (both backends); tests here make no failed sign-ins."""
    return serve(world)


@pytest.fixture(scope="session")
def sqlite_console(sqlite_world: World) -> Console:
    return serve(sqlite_world)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the browser tests (fresh profile, no network chatter)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"Chromium or chromedriver missing; install them with: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="phiwatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
