"""What ``phiwatch es setup``, ``check``, ``prune`` and ``resend`` do, and how they read.

Each function returns a report (plain data, for tests and for JSON output) and each report
has a formatter that phrases it for the operator, one fact a line. ``check`` never raises
for an unreachable cluster: saying so is its job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from alerting.elasticsearch.config import ElasticsearchConfig
from alerting.elasticsearch.connection import (
    ServerInfo,
    build_client,
    describe_error,
    server_info,
)
from alerting.elasticsearch.deadletter import count_rejected, read_rejected
from alerting.elasticsearch.incidents import incident_template_state
from alerting.elasticsearch.retention import PruneReport, prune
from alerting.elasticsearch.spool import SpoolStats, read_stats
from alerting.elasticsearch.store import prepare_cluster
from alerting.elasticsearch.template import ilm_policy_name, installed_hash, template_body
from alerting.store import AlertStore, WriteResult
from rules.alert import Alert


@dataclass
class SetupReport:
    hosts: list[str]
    ok: bool
    server: ServerInfo | None = None
    done: dict[str, str] = field(default_factory=dict)
    advice: str | None = None
    error: str | None = None


@dataclass
class CheckReport:
    hosts: list[str]
    compat: str
    reachable: bool = False
    error: str | None = None
    server: ServerInfo | None = None
    advice: str | None = None
    template: str = "unknown"  # current, outdated, missing, foreign
    incident_template: str = "unknown"  # the same, for the incident indices
    ilm_policy: str = "n/a"  # present, missing, n/a
    alerts: int | None = None
    indices: int | None = None
    spool_path: Path | None = None
    spool: SpoolStats | None = None
    spool_capacity: int = 0
    rejected_path: Path | None = None
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def setup(
    config: ElasticsearchConfig, *, client: Elasticsearch | None = None
) -> SetupReport:
    """Install the alert template and, on Elasticsearch, the ILM retention policy."""
    own = client is None
    es = client or build_client(config)
    report = SetupReport(hosts=list(config.hosts), ok=False)
    try:
        report.server, report.done = prepare_cluster(es, config)
        report.advice = report.server.advice(config.compat)
        report.ok = True
    except (TransportError, ApiError) as e:
        report.error = describe_error(e)
    finally:
        if own:
            es.close()
    return report


def check(
    config: ElasticsearchConfig,
    *,
    state_dir: Path | None = None,
    client: Elasticsearch | None = None,
) -> CheckReport:
    """Reachability, server, template, retention, spool depth and dead letters."""
    report = CheckReport(hosts=list(config.hosts), compat=config.compat)
    report.spool_path = config.spool_path(state_dir)
    report.spool_capacity = config.spool_max_alerts
    report.spool = read_stats(report.spool_path)
    report.rejected_path = config.dead_letter_file(state_dir)
    report.rejected = count_rejected(report.rejected_path)
    if report.spool is not None and report.spool.depth:
        ratio = report.spool.depth / config.spool_max_alerts
        if ratio >= config.spool_warn_ratio:
            report.problems.append(f"the spool is {ratio:.0%} full")
    if report.rejected:
        report.problems.append(f"{report.rejected} alert(s) refused by the cluster are in "
                               f"{report.rejected_path}")
    own = client is None
    es = client or build_client(config)
    try:
        _check_cluster(es, config, report)
    except (TransportError, ApiError) as e:
        report.error = describe_error(e)
        report.problems.append(f"cluster: {report.error}")
    finally:
        if own:
            es.close()
    return report


def _check_cluster(es: Elasticsearch, config: ElasticsearchConfig, report: CheckReport) -> None:
    report.server = server_info(es)
    report.reachable = True
    report.advice = report.server.advice(config.compat)
    if report.advice:
        report.problems.append(report.advice)
    policy: str | None = None
    if report.server.has_ilm and config.ilm:
        try:
            es.ilm.get_lifecycle(name=ilm_policy_name(config))
            report.ilm_policy = "present"
            policy = ilm_policy_name(config)
        except NotFoundError:
            report.ilm_policy = "missing"
            report.problems.append("the ILM policy is missing: run setup")
    found = installed_hash(es, config)
    wanted = template_body(config, policy)["_meta"]["hash"]
    report.template = ("missing" if found is None else "foreign" if found == ""
                       else "current" if found == wanted else "outdated")
    if report.template != "current":
        report.problems.append(f"the alert template is {report.template}: run setup")
    report.incident_template = incident_template_state(es, config)
    if report.incident_template != "current":
        report.problems.append(f"the incident template is {report.incident_template}: "
                               f"run setup")
    settings = es.indices.get_settings(index=config.alerts_pattern, name="index.creation_date",
                                       allow_no_indices=True, expand_wildcards="open,closed")
    report.indices = len(settings.body)
    report.alerts = int(es.count(index=config.alerts_pattern, allow_no_indices=True,
                                 ignore_unavailable=True).body["count"])


def prune_indices(
    config: ElasticsearchConfig,
    *,
    retention_days: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    client: Elasticsearch | None = None,
) -> PruneReport:
    """``retention.prune`` with a client of its own."""
    es = client or build_client(config)
    try:
        return prune(es, config, retention_days=retention_days, dry_run=dry_run, now=now)
    finally:
        if client is None:
            es.close()


@dataclass
class ResendReport:
    """What ``resend_rejected`` did with the dead-letter file."""

    path: Path
    read: int = 0
    result: WriteResult = field(default_factory=WriteResult)


def resend_rejected(
    config: ElasticsearchConfig, store: AlertStore, *, state_dir: Path | None = None
) -> ResendReport:
    """Write the refused alerts again (once their cause is fixed) through ``store``.

    The file is renamed first, so alerts refused again land in a fresh file, and a crash
    half-way leaves the renamed file to be picked up by the next run (writes are
    idempotent, so sending some twice is harmless).
    """
    path = config.dead_letter_file(state_dir)
    working = path.with_name(path.name + ".resending")
    report = ResendReport(path=path)
    if not working.exists():
        if not path.exists():
            return report
        path.rename(working)
    alerts = [Alert.from_dict(entry["alert"]) for entry in read_rejected(working)
              if isinstance(entry.get("alert"), dict)]
    report.read = len(alerts)
    totals = WriteResult()
    for k in range(0, len(alerts), config.bulk_size):
        r = store.write(alerts[k : k + config.bulk_size])
        totals = WriteResult(*(a + b for a, b in zip(dataclasses.astuple(totals),
                                                     dataclasses.astuple(r), strict=True)))
    report.result = totals
    working.unlink()
    return report


# -- formatters ------------------------------------------------------------------------------













