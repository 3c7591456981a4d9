"""``phiwatch es setup|check|prune|resend``: the Elasticsearch (or OpenSearch) store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from elastic_transport import TransportError
from elasticsearch import ApiError

from alerting.elasticsearch.config import ElasticsearchConfig
from phiwatch.cli.common import ConfigOption, close_store, echo, errors, fail, load
from phiwatch.config import Config
from phiwatch.render.elasticsearch import format_check, format_prune, format_resend, format_setup
from phiwatch.stores import open_store

app = typer.Typer(
    help="Set up and check the Elasticsearch (or OpenSearch) alert store "
    "(`store.elasticsearch` in the configuration).",
    no_args_is_help=True,
)


def _es_config(path: Path | None) -> tuple[Config, ElasticsearchConfig]:
    cfg = load(path)
    if cfg.store.elasticsearch is None:
        fail(f"{path or 'defaults'}: store.elasticsearch: not configured (add `hosts:` "
             "under `store: elasticsearch:`; see deploy/phiwatch.example.yaml)")
    return cfg, cfg.store.elasticsearch


@contextmanager
def _reachable(es: ElasticsearchConfig) -> Iterator[None]:
    """A cluster that cannot be reached is one line, not a traceback."""
    with errors():
        try:
            yield
        except (TransportError, ApiError) as e:
            fail(f"Elasticsearch at {', '.join(es.hosts)} did not answer: "
                 f"{type(e).__name__}: {e} (`phiwatch es check` shows what is wrong)", 1)


@app.command("setup")
def es_setup(config: ConfigOption = None) -> None:
    """Install the alert index template and the retention policy (idempotent)."""
    from alerting.elasticsearch.commands import setup

    _, es = _es_config(config)
    with _reachable(es):
        report = setup(es)
    echo(format_setup(report))
    raise typer.Exit(0 if report.ok else 1)


@app.command("check")
def es_check(config: ConfigOption = None) -> None:
    """Reachability, server version, template, retention, spool depth; exit 1 on a problem."""
    from alerting.elasticsearch.commands import check

    cfg, es = _es_config(config)
    with _reachable(es):
        report = check(es, state_dir=cfg.state_dir)
    echo(format_check(report))
    raise typer.Exit(0 if report.ok and report.error is None else 1)


@app.command("prune")
def es_prune(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be deleted.")] = False,
) -> None:
    """Delete whole monthly alert indices older than `retention_days` (servers without ILM)."""
    from alerting.elasticsearch.commands import prune_indices

    _, es = _es_config(config)
    with _reachable(es):
        report = prune_indices(es, dry_run=dry_run)
    echo(format_prune(report, es.retention_days))


@app.command("resend")
def es_resend(config: ConfigOption = None) -> None:
    """Send again the alerts the cluster refused (after fixing the cause, e.g. a mapping)."""
    from alerting.elasticsearch.commands import resend_rejected

    cfg, es = _es_config(config)
    with _reachable(es):
        store = open_store(cfg)
        report = resend_rejected(es, store, state_dir=cfg.state_dir)
        close_store(store)
    echo(format_resend(report))
