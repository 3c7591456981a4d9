"""How alerts look on a terminal (a table, paragraphs) and in pipes (NDJSON).

Every value that came from a log is wrapped in ``Text`` after ``printable``: rich never
reads it as markup and the terminal never sees its control characters.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

import orjson
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from phiwatch.text import printable
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
        who = a.group.get("user.id") or a.context.get("user.id") or ", ".join(
            str(v) for v in a.group.values())
        name = a.context.get("user.name")
        who_text = printable(str(who), one_line=True)
        if name:
            who_text += "\n" + printable(str(name), one_line=True)
        table.add_row(
            Text(f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"),
            Text(a.severity, style=_STYLE.get(a.severity, "")),
            Text(printable(a.rule_title, one_line=True)),
            Text(who_text),
            Text(printable(a.explanation)),
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
        head.append(printable(a.rule_title, one_line=True), style="bold")
        parts.append(head)
        parts.append(Padding(Text(printable(a.explanation)), (0, 0, 1, 9)))
    return Group(*parts)


class AlertPrinter:
    """Prints each alert of a live run once when it is raised and once when it is final.

    An alert is emitted when its threshold is crossed and again, with the final numbers,
    when its episode closes (and its current version at a flush); the operator's console
    shows the first and the last. The memory of what was shown is bounded.
    """

    def __init__(self, say: Callable[[str, str, str], None], memory: int = 10_000) -> None:
        self._say = say
        self._shown: OrderedDict[str, None] = OrderedDict()
        self._memory = memory

    def __call__(self, alert: Alert) -> None:
        if alert.id in self._shown and not alert.final:
            return
        self._shown[alert.id] = None
        self._shown.move_to_end(alert.id)
        if len(self._shown) > self._memory:
            self._shown.popitem(last=False)
        label = f"{alert.severity}{' (final)' if alert.final else ''}"
        self._say(label, _STYLE.get(alert.severity, "bold"),
                  f"{alert.rule_title}: {alert.explanation}")


# Characters JSON may carry raw that a terminal would still act on (C1 controls; bidi
# overrides and isolates): written as \u escapes, which parse back to the same string.
_JSON_UNSAFE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029"
                          "\u202a-\u202e\u2066-\u2069]")


def json_line(doc: object) -> str:
    """One JSON document on one line, safe to print on a terminal as it is."""
    text = orjson.dumps(doc).decode()
    if _JSON_UNSAFE.search(text):
        text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def write_ndjson(alerts: Iterable[Alert], stream: TextIO) -> None:
    for a in alerts:
        stream.write(json_line(a.to_dict()) + "\n")
