"""What every command shares: the literal consoles, one-line messages, the configuration
option, and the error boundary that maps ``PhiwatchError`` to an exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.text import Text

from alerting.store import AlertStore
from phiwatch.config import Config, load_config
from phiwatch.text import SafeFormatter, console, printable
from sensors.errors import PhiwatchError

# Literal consoles (``phiwatch.text``): log fields are never markup or escapes.
err = console(stderr=True)
out = console()

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration file (see deploy/phiwatch.example.yaml). "
        "Without it: JSON lines, the shipped rules, state in ./var.",
        exists=False,
        dir_okay=False,
    ),
]


def say(label: str, style: str, message: str) -> None:
    """One line on stderr: a styled label, then ``message`` printed literally."""
    line = Text(label, style=style)
    line.append(" " + printable(message, one_line=True))
    err.print(line)


def fail(message: str, code: int = 2) -> NoReturn:
    say("error:", "bold red", message)
    raise typer.Exit(code)


def echo(text: str) -> None:
    """Plain text on stdout with control characters escaped (reports quote log fields)."""
    typer.echo(printable(text))


@contextmanager
def errors() -> Iterator[None]:
    """Turn a ``PhiwatchError`` into one line on stderr and its exit code."""
    try:
        yield
    except PhiwatchError as e:
        fail(str(e), e.exit_code)


def load(path: Path | None) -> Config:
    with errors():
        return load_config(path)


def close_store(store: AlertStore) -> None:
    """Deliver what is still queued (Elasticsearch spool), then close."""
    if not store.flush():
        say("warning:", "yellow", "Elasticsearch is not reachable; alerts stay in the "
            "spool and are sent on the next start (`phiwatch es check` shows the depth)")
    store.close()


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        handlers=[handler], force=True)


def no_progress(n: int) -> None:
    return None


Progress = Callable[[int], None]
