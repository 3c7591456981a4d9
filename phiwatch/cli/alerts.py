"""``phiwatch alerts``: stored alerts, newest first, in every format with an honest count."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from alerting.store import AlertQuery
from phiwatch.cli.common import ConfigOption, err, errors, fail, load, out
from phiwatch.render.alerts import alert_blocks, alert_table, aware, write_ndjson
from phiwatch.service import search_alerts
from phiwatch.stores import open_store, store_exists


def alerts(
    config: ConfigOption = None,
    format: Annotated[str, typer.Option(
        "--format", "-f",
        help="`text` (one paragraph per alert), `table` (for wide terminals) or `ndjson`.",
    )] = "text",
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    user: Annotated[str | None, typer.Option(help="Only alerts about this user id.")] = None,
    severity: Annotated[str | None, typer.Option(
        help="Only this severity and above: low, medium, high, critical.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Windows ending after this time.")] = None,
    until: Annotated[datetime | None, typer.Option(help="Windows starting before it.")] = None,
    text: Annotated[str | None, typer.Option(help="Words in the explanation.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (paging).")] = 0,
) -> None:
    """List stored alerts, newest first.

    When more alerts match than `--limit` shows, stderr says so in every format
    ("100 of 525 shown"), so an export is never silently cut short.
    """
    cfg = load(config)
    if format not in ("text", "table", "ndjson"):
        fail(f"--format must be 'text', 'table' or 'ndjson', not {format!r}")
    if not store_exists(cfg):
        fail(f"no alert store at {cfg.sqlite_path} yet: run `phiwatch replay` or "
             "`phiwatch run` first")
    try:
        query = AlertQuery(
            start=aware(since, cfg.timezone), end=aware(until, cfg.timezone), rule_id=rule,
            user_id=user, min_severity=severity, text=text, limit=limit, offset=offset,
        )
    except ValueError as e:
        fail(str(e))
    with errors():
        store = open_store(cfg, read_only=True)
        try:
            page = search_alerts(store, query)
        finally:
            store.close()
    if format == "ndjson":
        write_ndjson(page.alerts, sys.stdout)
    elif format == "table":
        out.print(alert_table(page.alerts, cfg.timezone))
    else:
        out.print(alert_blocks(page.alerts, cfg.timezone))
    if page.more:
        first = offset + 1
        err.print(f"alerts {first}–{offset + len(page.alerts)} of {page.total} shown; use "
                  f"--limit (up to 10000) and --offset {offset + len(page.alerts)} for the "
                  "rest, or narrow the filters")


def register(app: typer.Typer) -> None:
    app.command()(alerts)
