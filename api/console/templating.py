"""Pages from Jinja2 templates, where everything from a log stays text.

Autoescape is on for every template, and ``finalize`` passes every value a template
prints through ``phiwatch.text.printable`` first: control characters and the invisible
characters that reorder text (bidirectional overrides) are shown escaped (``\\x1b``,
``\\u202e``), then HTML-escaped. No template marks anything safe; charts are drawn by a
template too (``_charts.html``), from numbers, with labels escaped like any other text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from api.console.config import Language
from api.console.i18n import translator
from api.console.session import Viewer, lang_of
from api.console.state import ConsoleState, console
from phiwatch.text import printable

TEMPLATES = Path(__file__).parent / "templates"
#: The statutory notification deadline after detection (Law 91/2025/QH15, Art. 23).
NOTIFY_WITHIN = timedelta(hours=72)
#: Statuses whose notification clock still runs.
CLOCK_RUNNING = frozenset({"new", "investigating", "confirmed_leak"})
_FORMATS: dict[str, str] = {"vi": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}


def _finalize(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, finalize=_finalize, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["oneline"] = lambda v: printable(str(v), one_line=True)
    return env


def number(value: int | float, lang: Language) -> str:
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "vi" else text


class Clock:
    """Times shown in the configured zone, and the notification deadline."""

    def __init__(self, zone: str, now: datetime, lang: Language) -> None:
        self.zone = ZoneInfo(zone)
        self.now = now
        self.lang = lang

    def dt(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(self.zone).strftime(_FORMATS[self.lang])

    def iso(self, value: str | None) -> str:
        """A time written as ISO 8601 text (a report's facts), shown like ``dt``."""
        if not value:
            return ""
        try:
            return self.dt(datetime.fromisoformat(value))
        except ValueError:
            return value

    def day(self, value: date) -> str:
        return value.strftime(_FORMATS[self.lang].split(" ")[0])

    def deadline(self, detected_at: datetime) -> datetime:
        return detected_at + NOTIFY_WITHIN

    def hours_left(self, detected_at: datetime) -> float:
        return (self.deadline(detected_at) - self.now).total_seconds() / 3600


def render(request: Request, name: str, context: Mapping[str, Any],
           viewer: Viewer | None = None, status: int = 200) -> HTMLResponse:
    state = console(request)
    lang = viewer.lang if viewer is not None else lang_of(request)
    now = datetime.fromtimestamp(state.clock(), ZoneInfo("UTC"))
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = state.templates.get_template(name).render(
        t=translator(lang), lang=lang, viewer=viewer, clock=Clock(
            state.api.config.timezone, now, lang),
        num=lambda v: number(v, lang), here=here, query=_query,
        clock_running=CLOCK_RUNNING, features=features(state), **context)
    return HTMLResponse(page, status_code=status)


def features(state: ConsoleState) -> dict[str, bool]:
    """What this instance offers beyond incidents: reports it issues (a hospital's
    phiwatch) and an inbox of received ones (the Department's)."""
    parts = state.api.reports
    return {"reports": parts is not None and parts.hospital is not None,
            "inbox": parts is not None and parts.keyring is not None}


def _query(params: Mapping[str, Any], **changes: Any) -> str:
    """A query string of ``params`` with ``changes``, leaving out empty values."""
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in merged.items() if v not in (None, "")])


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message},
                  status=status)
