"""The ``api.console:`` section: sessions, cookies, sign-in limits, the default language.

Example::

    api:
      console:
        session_minutes: 480
        language: vi
        signin_failures_per_account: 5
        signin_failures_per_address: 20
        signin_window_seconds: 900
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")


class ConsoleConfig(BaseModel):
    """The web console under ``/console`` (served by the API's process)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Serve the console (it needs an HS* algorithm in ``api.auth.algorithms`` to sign in).
    enabled: bool = True
    #: How long a sign-in lasts (the session token's lifetime).
    session_minutes: Annotated[int, Field(ge=5, le=1440)] = 480
    #: Send the session cookie only over HTTPS; unset: when the API serves TLS itself.
    #: Set it to true behind a TLS-terminating proxy.
    secure_cookie: bool | None = None
    #: The language of a visitor who has not chosen one.
    language: Language = "vi"
    #: Failed sign-ins allowed per account name, and per client address, within
    #: ``signin_window_seconds``; beyond them sign-ins are refused until the window moves.
    signin_failures_per_account: Annotated[int, Field(ge=1, le=100)] = 5
    signin_failures_per_address: Annotated[int, Field(ge=1, le=1000)] = 20
    signin_window_seconds: Annotated[int, Field(ge=60, le=86_400)] = 900
    #: Incidents shown nearest their 72-hour notification deadline on the overview.
    deadline_rows: Annotated[int, Field(ge=1, le=100)] = 10
    #: Days of alerts in the overview's charts.
    chart_days: Annotated[int, Field(ge=7, le=90)] = 14
