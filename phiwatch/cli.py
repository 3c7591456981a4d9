"""The ``phiwatch`` command line.

Each command is a thin shell over the library: parse options, load the configuration
(errors in one line, exit code 2), call one function, print the result.
"""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from rich.text import Text

from alerting.store import AlertQuery, AlertStore
from phiwatch.config import Config, ConfigError, load_config
from phiwatch.render import AlertPrinter, alert_blocks, alert_table, write_ndjson
from phiwatch.stores import open_store, store_exists
from phiwatch.text import SafeFormatter, console, printable

app = typer.Typer(
    name="phiwatch",
    help=(
        "Watch a hospital's HIS access logs for patient-data leaks.\n\n"
        "Start with `phiwatch demo`: it simulates a hospital day with injected leaks and "
        "shows what phiwatch finds. Then point a config file at your logs and use "
        "`phiwatch replay` for history and `phiwatch run` to watch live."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Check and try out Sigma rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
es_app = typer.Typer(
    help="Set up and check the Elasticsearch (or OpenSearch) alert store "
    "(`store.elasticsearch` in the configuration).",
    no_args_is_help=True,
)
app.add_typer(es_app, name="es")
incidents_app = typer.Typer(
    help="Incidents: alerts on one person close in time, with a status history "
    "(new → investigating → confirmed_leak → reported → closed, or false_positive).",
    no_args_is_help=True,
)
app.add_typer(incidents_app, name="incidents")

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


def _say(label: str, style: str, message: str) -> None:
    """One line on stderr: a styled label, then ``message`` printed literally."""
    line = Text(label, style=style)
    line.append(" " + printable(message, one_line=True))
    err.print(line)


def _fail(message: str, code: int = 2) -> NoReturn:
    _say("error:", "bold red", message)
    raise typer.Exit(code)


def _echo(text: str) -> None:
    """Plain text on stdout with control characters escaped (reports quote log fields)."""
    typer.echo(printable(text))


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        _fail(str(e))


def _close(store: AlertStore) -> None:
    """Deliver what is still queued (Elasticsearch spool), then close."""
    flush = getattr(store, "flush", None)
    if flush is not None and not flush():
        _say("warning:", "yellow", "Elasticsearch is not reachable; alerts stay in the "
             "spool and are sent on the next start (`phiwatch es check` shows the depth)")
    store.close()


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        handlers=[handler], force=True)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=30, help="Simulated days.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the simulated logs and alert store in this folder.")
    ] = None,
) -> None:
    """Simulate a hospital with injected leaks, replay it, and show the alerts found.

    Needs nothing else: no Elasticsearch, no configuration. Exits 0 when every injected
    incident was found.
    """
    from phiwatch.demo import run_demo

    _logging(False)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        code = run_demo(keep, days=days, seed=seed, console=out)
    else:
        with tempfile.TemporaryDirectory(prefix="phiwatch-demo-") as tmp:
            code = run_demo(Path(tmp), days=days, seed=seed, console=out)
    raise typer.Exit(code)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the logs into.")],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days to simulate.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    preset: Annotated[
        str, typer.Option(help="Hospital size: `small` (~250 staff) or `large` (1,500 staff; "
                          "650 for the general profile).")
    ] = "small",
    profile: Annotated[
        str, typer.Option(help="Which hospital: `maternity` (the default) or `general`, a "
                          "general hospital with its own roles, departments and shifts.")
    ] = "maternity",
    start: Annotated[
        str | None, typer.Option(help="First simulated day, YYYY-MM-DD (default 2026-11-16).")
    ] = None,
    pcap: Annotated[bool, typer.Option(
        "--pcap/--no-pcap", help="Also write the network capture of each day (and the "
        "network incidents in it).")] = True,
) -> None:
    """Write realistic HIS access logs, context files and labelled injected incidents.

    Output: `his/access-YYYY-MM-DD.log` (JSON lines), `roster.csv`,
    `flagged_patients.csv`, `encounters.csv`, `patients.csv`, `workstations.csv`,
    `networks.csv`, `assignments.csv`, `hospital.yaml` (shift hours, maternity and service
    departments) and `ground_truth.json`; with `--pcap` (the default) also
    `net/capture-YYYY-MM-DD.pcap` and `net/network.yaml`, the `network:` section that
    describes the simulated network (replay with `--config net/network.yaml`).
    """
    from simulator import HospitalSpec
    from simulator import simulate as run_simulation
    from simulator.profiles import PROFILE_NAMES

    if preset not in ("small", "large"):
        _fail(f"--preset must be 'small' or 'large', not {preset!r}")
    if profile not in PROFILE_NAMES:
        _fail(f"--profile must be one of {', '.join(PROFILE_NAMES)}, not {profile!r}")
    first = None
    if start is not None:
        try:
            first = datetime.strptime(start, "%Y-%m-%d").date()
        except ValueError:
            _fail(f"--start must be a date like 2026-11-16, not {start!r}")
    spec = HospitalSpec.preset(preset, profile)
    with err.status(f"simulating {days} day(s) of the {preset} {profile} hospital…"):
        result = run_simulation(spec, out_dir, days=days, seed=seed, start=first, pcap=pcap)
    packets = sum(result.packets_per_day.values())
    net = (f" and {packets:,} packets in {len(result.pcap_files)} capture(s)"
           if result.pcap_files else "")
    out.print(f"wrote {result.events:,} events{net} to {out_dir}")


@app.command()
def replay(
    files: Annotated[list[Path], typer.Argument(
        help="HIS log files, and packet captures (pcap/pcapng, recognised by content).",
        exists=True, dir_okay=False)],
    config: ConfigOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Process log files to their end as fast as possible, on event time.

    Files are merged in time order, so a replay of last month gives the same alerts as
    the live feed did. Replaying the same files again adds no alert: ids are derived from
    the rule, the group and the window.
    """
    from phiwatch.pipeline import replay as run_replay
    from phiwatch.progress import byte_progress

    _logging(False)
    cfg = _config(config)
    store = open_store(cfg)
    total = sum(f.stat().st_size for f in files)
    with byte_progress(total, enabled=progress, console=err) as tick:
        report = run_replay(cfg, files, store, progress=tick)
    _close(store)
    dead = ", ".join(f"{k}: {v}" for k, v in sorted(report.dead_letters.items())) or "none"
    err.print(
        f"{report.events:,} events from {report.files} file(s); "
        f"{report.new_alerts} new alert(s), {report.alerts} raised; dead letters: {dead}"
        + (f" ({cfg.dead_letter_dir / 'replay.ndjson'})" if report.dead_letters else "")
    )


@app.command()
def run(config: ConfigOption = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Tail the configured logs and live network inputs until SIGINT or SIGTERM.

    Resumes where the last run stopped (state in `state_dir`), follows rotation and
    truncation, and on shutdown flushes open alerts and saves its position. `flows:` in the
    configuration adds live capture on an interface or a NetFlow/IPFIX collector.
    """
    from phiwatch.runner import Runner

    _logging(verbose)
    cfg = _config(config)
    if not cfg.sources and not cfg.flows:
        _fail(f"{config or 'defaults'}: sources: no log source configured "
              "(add a `sources:` list with the `paths` of your HIS access logs, or a "
              "`flows:` list of live network inputs)")
    store = open_store(cfg)
    stop = threading.Event()
    try:
        runner = Runner(cfg, store, on_alert=AlertPrinter(_say))
    except OSError as e:  # a live input that cannot open: no right to capture, port taken
        _fail(str(e))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        runner.notifier.wake()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        report = runner.run(stop)
    except Exception as e:  # the store refused alerts (spool full, disk): resume from snapshot
        _say("error:", "bold red", f"{type(e).__name__}: {e}")
        err.print("phiwatch stopped without saving its position past the failure; the next "
                  "start re-reads from the last snapshot, so no alert is lost")
        raise typer.Exit(1) from e
    _close(store)
    err.print(printable(f"stopped: {report.events:,} events, {report.alerts} alert(s) raised, "
                        f"dead letters: {report.dead_letters or 'none'}"))


@app.command()
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
) -> None:
    """List stored alerts, newest first."""
    from phiwatch.render import aware

    cfg = _config(config)
    if format not in ("text", "table", "ndjson"):
        _fail(f"--format must be 'text', 'table' or 'ndjson', not {format!r}")
    if not store_exists(cfg):
        _fail(f"no alert store at {cfg.sqlite_path} yet: run `phiwatch replay` or "
              "`phiwatch run` first")
    try:
        query = AlertQuery(
            start=aware(since, cfg.timezone), end=aware(until, cfg.timezone), rule_id=rule,
            user_id=user, min_severity=severity, text=text, limit=limit,
        )
    except ValueError as e:
        _fail(str(e))
    store = open_store(cfg, read_only=True)
    found = store.query(query)
    store.close()
    if format == "ndjson":
        write_ndjson(found, sys.stdout)
    elif format == "table":
        out.print(alert_table(found, cfg.timezone))
    else:
        out.print(alert_blocks(found, cfg.timezone))
    if format != "ndjson" and len(found) == limit:
        err.print(f"(first {limit} shown; use --limit or narrow the filters for more)")


@rules_app.command("validate")
def rules_validate(
    dirs: Annotated[list[Path], typer.Argument(help="Rule folders (searched recursively).",
                                               exists=True, file_okay=False)],
) -> None:
    """Parse and compile every Sigma rule; list the broken ones; exit 1 if any."""
    from rules.loader import format_report, validate_directories

    errors, good = validate_directories(dirs)
    _echo(format_report(errors, good))
    raise typer.Exit(1 if any(e.is_error for e in errors) else 0)


@rules_app.command("test")
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

    Nothing is stored. The events are read with the configured parser and, when context
    files are configured, enriched as `phiwatch run` would.
    """
    from phiwatch.pipeline import (
        capture_events,
        file_events,
        is_capture,
        load_context,
        parser_factory,
        source_for,
    )
    from rules.ruletest import format_test_report, run_rule_test
    from sensors.context import Enricher
    from sensors.deadletter import DeadLetter

    cfg = _config(config)
    with tempfile.TemporaryDirectory(prefix="phiwatch-rules-test-") as tmp:
        dead = DeadLetter(Path(tmp) / "dead.ndjson")
        if is_capture(events):
            stream = list(capture_events(events, lambda n: None, cfg))
        else:
            parser = parser_factory(cfg, source_for(cfg, events))(str(events))
            stream = list(file_events(events, parser, dead, lambda n: None))
        context = load_context(cfg)
        if context is not None:
            enrich = Enricher(context).enrich
            for event in stream:
                enrich(event)
        report = run_rule_test(rule, stream, lateness_seconds=cfg.rules.lateness_seconds,
                               sample_size=cfg.rules.sample_size)
        bad = dead.total
        dead.close()
    _echo(format_test_report(report))
    if bad:
        err.print(f"{bad} line(s) of {events} could not be read (see `phiwatch replay` for "
                  "the dead-letter file)")


def _es_config(path: Path | None) -> tuple[Config, Any]:
    cfg = _config(path)
    if cfg.store.elasticsearch is None:
        _fail(f"{path or 'defaults'}: store.elasticsearch: not configured (add `hosts:` "
              "under `store: elasticsearch:`; see deploy/phiwatch.example.yaml)")
    return cfg, cfg.store.elasticsearch


@es_app.command("setup")
def es_setup(config: ConfigOption = None) -> None:
    """Install the alert index template and the retention policy (idempotent)."""
    from alerting.elasticsearch.commands import format_setup, setup

    _, es = _es_config(config)
    report = setup(es)
    _echo(format_setup(report))
    raise typer.Exit(0 if report.ok else 1)


@es_app.command("check")
def es_check(config: ConfigOption = None) -> None:
    """Reachability, server version, template, retention, spool depth; exit 1 on a problem."""
    from alerting.elasticsearch.commands import check, format_check

    cfg, es = _es_config(config)
    report = check(es, state_dir=cfg.state_dir)
    _echo(format_check(report))
    raise typer.Exit(0 if report.ok and report.error is None else 1)


@es_app.command("prune")
def es_prune(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be deleted.")] = False,
) -> None:
    """Delete whole monthly alert indices older than `retention_days` (servers without ILM)."""
    from alerting.elasticsearch.commands import format_prune, prune_indices

    _, es = _es_config(config)
    report = prune_indices(es, dry_run=dry_run)
    _echo(format_prune(report, es.retention_days))


@es_app.command("resend")
def es_resend(config: ConfigOption = None) -> None:
    """Send again the alerts the cluster refused (after fixing the cause, e.g. a mapping)."""
    from alerting.elasticsearch.commands import format_resend, resend_rejected

    cfg, es = _es_config(config)
    store = open_store(cfg)
    report = resend_rejected(es, store, state_dir=cfg.state_dir)
    _close(store)
    _echo(format_resend(report))


def _incident_store(config: Path | None) -> Any:
    from alerting.incident_store import IncidentStore

    cfg = _config(config)
    if not store_exists(cfg):
        _fail(f"no alert store at {cfg.sqlite_path} yet: run `phiwatch replay` or "
              "`phiwatch run` first")
    store = open_store(cfg, read_only=True)
    if not isinstance(store, IncidentStore):
        _fail("the configured store keeps no incidents")
    return store


@incidents_app.command("list")
def incidents_list(
    config: ConfigOption = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    user: Annotated[str | None, typer.Option(help="Only incidents about this user id.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity and above.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
) -> None:
    """List incidents, newest first."""
    from alerting.incident_commands import format_incident_list, list_incidents
    from alerting.incident_store import IncidentQuery

    store = _incident_store(config)
    try:
        query = IncidentQuery(status=status, principal=user, min_severity=severity, limit=limit)
    except ValueError as e:
        _fail(str(e))
    _echo(format_incident_list(list_incidents(store, query)))
    store.close()


@incidents_app.command("show")
def incidents_show(incident_id: Annotated[str, typer.Argument(help="The incident id.")],
                   config: ConfigOption = None) -> None:
    """One incident: its alerts, status, version and history."""
    from alerting.incident import IncidentError
    from alerting.incident_commands import format_incident, show_incident

    store = _incident_store(config)
    try:
        _echo(format_incident(show_incident(store, incident_id)))
    except IncidentError as e:
        _fail(str(e), code=1)
    finally:
        store.close()


@incidents_app.command("status")
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
    from alerting.incident import IncidentError
    from alerting.incident_commands import change_incident_status, format_status_change

    store = _incident_store(config)
    try:
        incident = change_incident_status(store, incident_id, to, actor, note,
                                          expected_version, role)
        _echo(format_status_change(incident))
    except IncidentError as e:
        _fail(str(e), code=1)
    finally:
        store.close()


@app.command()
def flows(
    pcap: Annotated[Path, typer.Option("--pcap", help="pcap or pcapng capture file.",
                                       exists=True, dir_okay=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="`ndjson` or `csv`.")] = "ndjson",
    idle_timeout: Annotated[float, typer.Option(help="Seconds of silence that end a flow.")] = 60,
    active_timeout: Annotated[float, typer.Option(
        help="Seconds after which a long flow is reported and started afresh.")] = 300,
) -> None:
    """Print the bidirectional flows (and DNS queries) of a capture, as ECS events.

    Bytes are counted on the wire, as `tshark -z conv,ip` counts them.
    """
    from sensors.flows import FlowReader, write_events

    if format not in ("ndjson", "csv"):
        _fail(f"--format must be 'ndjson' or 'csv', not {format!r}")
    reader = FlowReader(pcap, idle_timeout=idle_timeout, active_timeout=active_timeout)
    try:
        n = write_events(reader, sys.stdout, format)
    except BrokenPipeError:  # `phiwatch flows … | head` is fine
        return
    c = reader.counters
    bad = sum(c.decode_errors.values())
    err.print(f"{n:,} events ({c.flows:,} flows, {c.dns_events:,} DNS) from {c.packets:,} "
              f"packets of {pcap}; undecodable packets: {bad:,}"
              + (f" ({dict(c.decode_errors)})" if bad else ""))


def main() -> None:
    app()
