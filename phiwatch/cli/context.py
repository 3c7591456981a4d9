"""``phiwatch context check``: the hospital's words and accounts phiwatch does not know."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from phiwatch.cli.common import ConfigOption, echo, errors, load
from phiwatch.context_check import check_context
from phiwatch.render.context import format_context_check

app = typer.Typer(help="Check the hospital's context files (roster, encounters …) and "
                  "what phiwatch makes of their words.", no_args_is_help=True)


@app.command("check")
def context_check(
    logs: Annotated[list[Path] | None, typer.Argument(
        help="Log files to read too: their roles and departments, and accounts missing "
        "from the roster.", exists=True, dir_okay=False)] = None,
    config: ConfigOption = None,
) -> None:
    """List roster and log values that map to no class, unknown shift and status words,
    accounts in the logs missing from the roster, and what each gap switches off, with the
    configuration line that closes it. Exits 1 when there is a gap or a file is rejected.
    """
    logging.getLogger("sensors.context").setLevel(logging.ERROR)  # the report says it all
    cfg = load(config)
    with errors():
        report = check_context(cfg, logs or [])
    echo(format_context_check(report))
    raise typer.Exit(0 if report.ok else 1)
