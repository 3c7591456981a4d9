"""Shared by the console tests: the API tests' three-hospital world plus console accounts
and a hostile alert, the real application on loopback with a clock the tests move, and a
signed-in HTTP client.

The clock follows the real time (python-jose checks ``nbf``/``exp`` against the real
clock too) plus what a test moves it by: session expiry and the sign-in throttle are
driven, never waited for.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from apikit import ENV, NOW, Running, World, make_alert

from alerting.grouping import IncidentGrouper
from api.app import create_app
from api.server import ApiServer
from phiwatch.service import add_account

PASSWORD = "mật khẩu đủ dài 2026"
#: username → (role, hospital)
ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "lan": ("hospital_it", "tu-du"), "minh": ("hospital_it", "cho-ray"),
    "thanh": ("inspector", None), "so": ("department", None), "root": ("admin", None),
}
HOSTILE_USER = "nv09999"
HOSTILE = ("<script>alert('xss')</script> <img src=x onerror=alert(1)> {{ 7*7 }} {% raw %} "
           "\x1b[31mred\x1b[0m \u202eevil\u202c BN hidden TD00000999")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """Seconds since the epoch, moved by ``advance``; ``offset`` starts it that far from
    the real time (a test that moves it far forward and signs in again starts it in the
    past, so the tokens it issues are valid for python-jose's real clock too)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        # The real time plus what the tests moved: a frozen clock made a token issued a
        # slow half-minute later "not yet valid" on a loaded machine (CI).
        return time.time() + self.offset

    @property
    def now(self) -> float:
        return self()

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def populate(world: World) -> None:
    """Console accounts and one tu-du incident whose explanation is hostile."""
    store = world.open_store()
    try:
        for name, (role, hospital) in ACCOUNTS.items():
            add_account(store, name, role, hospital, PASSWORD)
        hostile = make_alert("tu-du", 99, user=HOSTILE_USER, explanation=HOSTILE,
                             severity="critical")
        store.write([hostile])
        IncidentGrouper(store).add([hostile], NOW)
    finally:
        store.close()


@dataclass
class Console:
    """The application with its console, on loopback, and its clock."""

    running: Running
    clock: Clock
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.running.url

    def client(self) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self.clients.append(c)
        return c

    def sign_in(self, user: str, password: str = PASSWORD) -> httpx.Client:
        c = self.client()
        r = sign_in(c, user, password)
        assert r.status_code == 303, (r.status_code, r.text[:500])
        return c

    def token(self, user: str) -> str:
        role, hospital = ACCOUNTS[user]
        return self.running.token(role, hospital, subject=user)

    def api(self, user: str) -> httpx.Client:
        return self.running.client(self.token(user))


def csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: httpx.Client, user: str, password: str = PASSWORD,
            next_: str = "/console/") -> httpx.Response:
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": user, "password": password,
                                               "csrf": csrf(page.text), "next": next_})


def serve(world: World, console: dict[str, Any] | None = None,
          api: dict[str, Any] | None = None, clock: Clock | None = None) -> Console:
    clock = clock or Clock()
    config = world.config({**(api or {}), "console": console or {}})
    app = create_app(config, environ=ENV, clock=clock)
    server = ApiServer(config, app=app).start()
    running = Running(server, config, server.url)
    world.running.append(running)
    return Console(running, clock)


def incident_ids(page: str) -> list[str]:
    return re.findall(r'data-id="([0-9a-f]{32})"', page)


def folder_of(world: World) -> Path:
    return world.folder
