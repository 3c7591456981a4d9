"""``phiwatch rules validate|test``: check and try out Sigma rules."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from phiwatch.cli.common import ConfigOption, echo, err, errors, load
from phiwatch.render.rules import format_report, format_test_report
from phiwatch.service import validate_rules

app = typer.Typer(help="Check and try out Sigma rules.", no_args_is_help=True)


@app.command("validate")
def rules_validate(
    dirs: Annotated[list[Path], typer.Argument(help="Rule folders (searched recursively).",
                                               exists=True, file_okay=False)],
) -> None:
    """Parse and compile every Sigma rule; list the broken ones; exit 1 if any."""
    result = validate_rules(dirs)
    echo(format_report(result.errors, result.ready))
    raise typer.Exit(0 if result.ok else 1)


@app.command("test")
def rules_test(
    rule: Annotated[list[Path], typer.Argument(
        help="Rule file(s) or folder(s); correlations need their building blocks too.",
        exists=True)],
    events: Annotated[Path, typer.Option(
        "--events", "-e", help="A log file (or capture) to run through the rules.",
        exists=True, dir_okay=False)],
    config: ConfigOption = None,
) -> None:
    """Show which events match each rule, the correlation state, and the alerts it would raise.

    Nothing is stored. The events are read as `phiwatch replay` reads them (the configured
    source's format, else the one the content shows) and, when context files are
    configured, enriched as `phiwatch run` would.
    """
    from phiwatch.replay import replay_events
    from rules.ruletest import run_rule_test

    cfg = load(config)
    with tempfile.TemporaryDirectory(prefix="phiwatch-rules-test-") as tmp, errors():
        stream, bad = replay_events(cfg, [events], Path(tmp) / "dead.ndjson")
        report = run_rule_test(rule, stream, lateness_seconds=cfg.rules.lateness_seconds,
                               sample_size=cfg.rules.sample_size)
    echo(format_test_report(report))
    if bad:
        err.print(f"{bad} line(s) of {events} could not be read (see `phiwatch replay` for "
                  "the dead-letter file)")
