"""``api.console.demo.serve_demo``: the console the demo ends with, over a store of
alerts and incidents, with a ready hospital IT account."""

from __future__ import annotations

import httpx
from apikit import World
from consolekit import incident_ids, sign_in

from api.console.demo import DEMO_USER, serve_demo
from phiwatch.config import load_config


def test_serve_demo_signs_in_with_the_account_it_prints(sqlite_world: World) -> None:
    config = load_config(None).model_copy(update={"state_dir": sqlite_world.folder / "demo"})
    url, username, password, server = serve_demo(config, sqlite_world.folder / "alerts.db",
                                                 "127.0.0.1", 0)
    try:
        assert url == f"{server.url}/console/" and username == DEMO_USER
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert sign_in(c, username, "wrong password").status_code == 401
            assert sign_in(c, username, password).status_code == 303
            page = c.get("/console/incidents").text
            assert incident_ids(page) and "CNTT bệnh viện" in page
    finally:
        server.stop()
    again = serve_demo(config, sqlite_world.folder / "alerts.db", "127.0.0.1", 0)
    try:
        assert again.password != password  # a fresh password each run, same account
    finally:
        again.server.stop()
