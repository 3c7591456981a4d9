"""``phiwatch incidents list|show|status``: incidents and their status history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from alerting.incident_store import IncidentQuery, IncidentStore
from phiwatch.cli.common import ConfigOption, echo, errors, fail, load
from phiwatch.render.incidents import format_incident, format_incident_list, format_status_change
from phiwatch.service import change_incident_status, list_incidents, show_incident
from phiwatch.stores import open_store, store_exists

app = typer.Typer(
    help="Incidents: alerts on one person close in time, with a status history "
    "(new → investigating → confirmed_leak → reported → closed, or false_positive).",
    no_args_is_help=True,
)


@contextmanager
def _store(config: Path | None) -> Iterator[IncidentStore]:
    cfg = load(config)
    if not store_exists(cfg):
        fail(f"no alert store at {cfg.sqlite_path} yet: run `phiwatch replay` or "
             "`phiwatch run` first")
    with errors():
        store = open_store(cfg, read_only=True)
        if not isinstance(store, IncidentStore):
            fail("the configured store keeps no incidents")
        try:
            yield store
        finally:
            store.close()


@app.command("list")
def incidents_list(
    config: ConfigOption = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    user: Annotated[str | None, typer.Option(help="Only incidents about this user id.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity and above.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
) -> None:
    """List incidents, newest first."""
    try:
        query = IncidentQuery(status=status, principal=user, min_severity=severity, limit=limit)
    except ValueError as e:
        fail(str(e))
    with _store(config) as store:
        echo(format_incident_list(list_incidents(store, query)))


@app.command("show")
def incidents_show(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
                   config: ConfigOption = None) -> None:
    """One incident: its alerts, status, version and history."""
    with _store(config) as store:
        echo(format_incident(show_incident(store, incident_id)))


@app.command("status")
def incidents_status(
    incident_id: Annotated[str, typer.Argument(help="The incident id.")],
    to: Annotated[str, typer.Argument(
        help="new, investigating, confirmed_leak, false_positive, reported or closed.")],
    actor: Annotated[str, typer.Option(help="Who makes the change (recorded in the history).")],
    note: Annotated[str, typer.Option(help="Why; required for confirmed_leak, "
                                           "false_positive, reported and reopening.")] = "",
    expected_version: Annotated[int | None, typer.Option(
        help="The version `show` printed: refuse if someone changed it since.")] = None,
    role: Annotated[str | None, typer.Option(help="The actor's role (admin may reopen).")] = None,
    config: ConfigOption = None,
) -> None:
    """Move an incident to another status; every change is kept in its history."""
    with _store(config) as store:
        incident = change_incident_status(store, incident_id, to, actor, note,
                                          expected_version, role)
        echo(format_status_change(incident))
