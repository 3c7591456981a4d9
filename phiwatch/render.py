"""How alerts look on a terminal (a table) and in pipes (NDJSON)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

import orjson
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from rules.alert import Alert

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def aware(value: datetime | None, zone: str) -> datetime | None:
    """``value`` with the configured zone attached when it was given without an offset."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(zone))


def alert_table(alerts: Iterable[Alert], zone: str) -> Table:
    """A table of alerts with local times (the hospital's zone) and their explanations."""
    tz = ZoneInfo(zone)
    table = Table(show_lines=True, title=f"Alerts (times in {zone})")
    table.add_column("Window", no_wrap=True)
    table.add_column("Severity")
    table.add_column("Rule")
    table.add_column("Who")
    table.add_column("Explanation", ratio=1)
    for a in alerts:
        start = a.window_start.astimezone(tz)
        end = a.window_end.astimezone(tz)
        who = a.group.get("user.id") or a.context.get("user.id") or ", ".join(a.group.values())
        name = a.context.get("user.name")
        table.add_row(
            f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}",
            f"[{_STYLE.get(a.severity, '')}]{a.severity}[/]",
            a.rule_title,
            f"{who}\n{name}" if name else str(who),
            a.explanation,
        )
    return table


def alert_blocks(alerts: Iterable[Alert], zone: str) -> RenderableType:
    """Alerts as short paragraphs: a heading line, then the explanation, indented.

    Reads well at any terminal width, where a table squeezes the explanation.
    """
    tz = ZoneInfo(zone)
    parts: list[RenderableType] = []
    for a in alerts:
        start = a.window_start.astimezone(tz)
        end = a.window_end.astimezone(tz)
        head = Text()
        head.append(f"{a.severity.upper():<8}", style=_STYLE.get(a.severity, ""))
        head.append(f" {start:%Y-%m-%d %H:%M}–{end:%H:%M}  ")
        head.append(a.rule_title, style="bold")
        parts.append(head)
        parts.append(Padding(Text(a.explanation), (0, 0, 1, 9)))
    return Group(*parts)


def write_ndjson(alerts: Iterable[Alert], stream: TextIO) -> None:
    for a in alerts:
        stream.write(orjson.dumps(a.to_dict()).decode() + "\n")
