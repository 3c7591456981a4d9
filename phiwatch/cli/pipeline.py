"""Commands that run the pipeline: ``demo``, ``simulate``, ``replay``, ``run``, ``flows``."""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from phiwatch.cli.common import (
    ConfigOption,
    close_store,
    err,
    errors,
    fail,
    load,
    out,
    say,
    setup_logging,
)
from phiwatch.stores import open_store
from phiwatch.text import printable


def demo(
    days: Annotated[int, typer.Option(min=1, max=30, help="Simulated days.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the simulated logs and alert store in this folder.")
    ] = None,
    reports: Annotated[
        Path | None, typer.Option(help="Where to write the report of the leak found "
                                  "(default: KEEP/reports, else ./phiwatch-demo-reports).")
    ] = None,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="At the end, open the web console over the demo's "
        "incidents and wait for Ctrl-C (only in a terminal; `make demo` in CI never "
        "waits).")] = True,
    port: Annotated[int, typer.Option(min=0, max=65535,
                                      help="The console's port on 127.0.0.1 (0: any).")] = 8080,
) -> None:
    """Simulate a hospital with injected leaks, replay it, and show the alerts found.

    Needs nothing else: no Elasticsearch, no configuration. Ends by confirming the worst
    leak as a demo analyst and writing its report to the Department and breach
    notification (DOCX, PDF, signed JSON); nothing is sent. In a terminal, then serves
    the web console over the demo's incidents with a ready account (printed). Exits 0
    when every injected incident was found.
    """
    from phiwatch.demo import run_demo

    setup_logging(False)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        code = run_demo(keep, days=days, seed=seed, console=out, reports_dir=reports)
        _console(keep, serve, port)
    else:
        with tempfile.TemporaryDirectory(prefix="phiwatch-demo-") as tmp:
            code = run_demo(Path(tmp), days=days, seed=seed, console=out,
                            reports_dir=(reports or Path("phiwatch-demo-reports")).resolve())
            _console(Path(tmp), serve, port)
    raise typer.Exit(code)


def _console(folder: Path, serve: bool, port: int) -> None:
    """The web console over the demo's store until Ctrl-C, when someone is there to use
    it (a terminal); a taken port is a note, not a failure of the demo."""
    if not serve or not sys.stdin.isatty() or not sys.stdout.isatty():
        return
    from api.console.demo import serve_demo, wait_for_interrupt
    from phiwatch.demo import demo_config

    cfg = demo_config(folder)
    try:
        console = serve_demo(cfg, cfg.sqlite_path, "127.0.0.1", port)
    except OSError as e:
        say("note:", "yellow", f"the console could not listen on 127.0.0.1:{port} ({e}); "
            "try `phiwatch demo --port 0`")
        return
    out.print(printable(f"Web console: {console.url}  user {console.username}  "
                        f"password {console.password}  (Ctrl-C to stop)"))
    wait_for_interrupt(console.server)


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
        fail(f"--preset must be 'small' or 'large', not {preset!r}")
    if profile not in PROFILE_NAMES:
        fail(f"--profile must be one of {', '.join(PROFILE_NAMES)}, not {profile!r}")
    first = None
    if start is not None:
        try:
            first = datetime.strptime(start, "%Y-%m-%d").date()
        except ValueError:
            fail(f"--start must be a date like 2026-11-16, not {start!r}")
    spec = HospitalSpec.preset(preset, profile)
    with err.status(f"simulating {days} day(s) of the {preset} {profile} hospital…"):
        result = run_simulation(spec, out_dir, days=days, seed=seed, start=first, pcap=pcap)
    packets = sum(result.packets_per_day.values())
    net = (f" and {packets:,} packets in {len(result.pcap_files)} capture(s)"
           if result.pcap_files else "")
    out.print(f"wrote {result.events:,} events{net} to {out_dir}")


def replay(
    files: Annotated[list[Path], typer.Argument(
        help="Log files, Zeek logs and packet captures; each is read with the format of the "
        "configured source whose paths match it, else the format its content shows "
        "(pcap/pcapng, Zeek, FHIR, Squid, JSON lines).",
        exists=True, dir_okay=False)],
    config: ConfigOption = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Process log files to their end as fast as possible, on event time.

    Files are merged in time order, so a replay of last month gives the same alerts as
    the live feed did. Replaying the same files again adds no alert: ids are derived from
    the rule, the group and the window. Exits 1 when not one record could be read.
    """
    from phiwatch.progress import byte_progress
    from phiwatch.replay import replay as run_replay

    setup_logging(False)
    cfg = load(config)
    with errors():
        store = open_store(cfg)
        total = sum(f.stat().st_size for f in files)
        with byte_progress(total, enabled=progress, console=err) as tick:
            report = run_replay(cfg, files, store, progress=tick)
        close_store(store)
    for warning in report.warnings:
        say("warning:", "yellow", warning)
    dead = ", ".join(f"{k}: {v}" for k, v in sorted(report.dead_letters.items())) or "none"
    where = f" ({report.dead_letter_path})" if report.dead_letters else ""
    err.print(f"{report.events:,} events from {report.files} file(s); "
              f"{report.new_alerts} new alert(s), {report.alerts} raised; "
              f"dead letters: {dead}{where}")
    if report.unreadable:
        fail(f"no record of the {report.files} file(s) could be read; every one was "
             f"dead-lettered — see the reasons in {report.dead_letter_path} (a wrong "
             "format, delimiter or column mapping in the source's `parse:` section?)", 1)


def run(config: ConfigOption = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run phiwatch as a service: the sensors, the rules, the store, the notifications,
    the metrics and (with `api.serve_with_run`) the API and console, until SIGINT or
    SIGTERM.

    Resumes where the last run stopped (state in `state_dir`), follows rotation and
    truncation, and on shutdown flushes open alerts and saves its position within seconds.
    SIGHUP reads the configuration again: rules, context files and vocabulary change in
    place, keeping every window. `flows:` adds live capture or a NetFlow/IPFIX collector.
    """
    from phiwatch import logs
    from phiwatch.operations import Operations
    from phiwatch.render.alerts import AlertPrinter
    from phiwatch.runner import Runner

    setup_logging(verbose)
    cfg = load(config)
    logs.configure(cfg.logging, verbose=verbose)
    if not cfg.sources and not cfg.flows and not cfg.ingest.enabled:
        fail(f"{config or 'defaults'}: sources: no log source configured "
             "(add a `sources:` list with the `paths` of your HIS access logs, a "
             "`flows:` list of live network inputs, or `ingest: {enabled: true}` for "
             "remote sensors)")
    if cfg.ingest.enabled and not cfg.api.serve_with_run:
        say("note:", "yellow", "ingest is enabled: remote sensors' batches are read from "
            f"{cfg.ingest_path}, written by `phiwatch api` (or set api.serve_with_run)")
    stop = threading.Event()
    started: list[Runner] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for r in started:
            r.wake()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        for r in started:  # before the runner exists there is nothing loaded to reload
            r.request_reload()

    # Before anything answers (metrics, the API): from then a supervisor may send SIGTERM
    # at any moment, and the default action would kill the process without its snapshot.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    api_server = None
    with errors():
        ops = Operations.open(cfg)
        store = open_store(cfg)
        try:
            runner = Runner(cfg, store, on_alert=ops.alert_callback(AlertPrinter(say)),
                            on_round=lambda r: ops.publish(r.pipeline,
                                                           newest_event=r.newest_event,
                                                           snapshots=r.snapshots_taken))
        except OSError as e:  # a live input that cannot open: no right to capture, port taken
            ops.close()
            fail(str(e))
        runner.config_path = config
        started.append(runner)
        if cfg.api.serve_with_run:
            from api.server import serve_in_thread

            api_server = serve_in_thread(cfg, on_ingest=runner.wake)
    try:
        report = runner.run(stop)
    except Exception as e:  # the store refused alerts (spool full, disk): resume from snapshot
        say("error:", "bold red", f"{type(e).__name__}: {e}")
        err.print("phiwatch stopped without saving its position past the failure; the next "
                  "start re-reads from the last snapshot, so no alert is lost")
        raise typer.Exit(1) from e
    finally:
        if api_server is not None:
            api_server.stop()
        ops.close()
    close_store(store)
    err.print(printable(f"stopped: {report.events:,} events, {report.alerts} alert(s) raised, "
                        f"dead letters: {report.dead_letters or 'none'}"))


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
        fail(f"--format must be 'ndjson' or 'csv', not {format!r}")
    reader = FlowReader(pcap, idle_timeout=idle_timeout, active_timeout=active_timeout)
    with errors():
        try:
            n = write_events(reader, sys.stdout, format)
        except BrokenPipeError:  # `phiwatch flows … | head` is fine
            return
    c = reader.counters
    bad = sum(c.decode_errors.values())
    err.print(f"{n:,} events ({c.flows:,} flows, {c.dns_events:,} DNS, {c.dns_truncated:,} of "
              f"them cut short by the capture) from {c.packets:,} packets of {pcap}; "
              f"undecodable packets: {bad:,}" + (f" ({dict(c.decode_errors)})" if bad else "")
              + f"; unreadable DNS messages: {sum(c.dns_errors.values()):,}"
              + (f" ({dict(c.dns_errors)})" if c.dns_errors else ""))


def register(app: typer.Typer) -> None:
    for command in (demo, simulate, replay, run, flows):
        app.command()(command)
