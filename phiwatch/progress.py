"""A progress bar for long replays, by bytes read (file sizes are known up front)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


@contextmanager
def byte_progress(
    total: int, *, enabled: bool = True, console: Console | None = None, label: str = "replay"
) -> Iterator[Callable[[int], None]]:
    """A function to report bytes done; draws a bar when ``enabled`` and on a terminal."""
    if not enabled:
        yield lambda n: None
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
