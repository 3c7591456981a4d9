"""``phiwatch sensor``: a remote sensor that ships this host's events to the engine."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from phiwatch.cli.common import ConfigOption, err, errors, fail, load, setup_logging
from phiwatch.text import printable


def sensor(config: ConfigOption = None,
           verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run only the sensors of this host and ship their events to the engine over HTTPS.

    For the capture host on a SPAN port, or the HIS application server, when the engine
    runs elsewhere. The configuration has the same `sources:` and `flows:` as the
    engine's, and a `sensor:` section:

        sensor:
          name: his-app-01                 # the subject of its token
          engine_url: https://phiwatch.benhvien.local:8443
          token_file: /etc/phiwatch/sensor.token
          ca_file: /etc/phiwatch/engine-ca.pem

    On the engine: `ingest: {enabled: true}`, and a token for this sensor:
    `phiwatch token issue --role sensor --hospital HOSPITAL --subject his-app-01 --ttl 30d`.

    Events wait in a durable spool (`state_dir/sensor-spool.db`) until the engine has
    them: nothing is lost while the engine is away or restarts, and nothing is counted
    twice. SIGINT/SIGTERM stops after saving the read positions.
    """
    from phiwatch import logs
    from phiwatch.metrics import Metrics
    from phiwatch.sensor import SensorCollector, SensorRunner

    setup_logging(verbose)
    cfg = load(config)
    logs.configure(cfg.logging, verbose=verbose)
    if cfg.sensor is None:
        fail(f"{config or 'defaults'}: sensor: missing (name, engine_url and token_file of "
             "the engine this sensor ships to)", 2)
    stop = threading.Event()
    started: list[SensorRunner] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for r in started:
            r.notifier.wake()

    # Before the metrics answer: a SIGTERM from then on must stop after saving positions.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with errors():
        try:
            runner = SensorRunner(cfg, name=cfg.sensor.name)
        except OSError as e:  # a live input that cannot open: no right to capture
            fail(str(e))
    started.append(runner)
    server = None
    if cfg.metrics is not None:
        metrics = Metrics(None, collectors=[SensorCollector(runner)])
        server = metrics.serve(*cfg.metrics.address)
    err.print(printable(f"shipping to {cfg.sensor.engine_url} as {cfg.sensor.name}"))
    try:
        report = runner.run(stop)
    finally:
        if server is not None:
            server.close()
    waiting = runner.spool.path
    err.print(printable(f"stopped: {report.events:,} events in {report.batches:,} batch(es); "
                        f"dead letters: {report.dead_letters or 'none'}; unsent batches "
                        f"(if any) wait in {waiting}"))


def register(app: typer.Typer) -> None:
    app.command()(sensor)
