"""The reports of ``phiwatch es setup|check|prune|resend`` as plain text."""

from __future__ import annotations

from alerting.elasticsearch.commands import CheckReport, ResendReport, SetupReport
from alerting.elasticsearch.connection import ServerInfo
from alerting.elasticsearch.retention import PruneReport


def format_setup(report: SetupReport) -> str:
    lines = [f"Elasticsearch: {', '.join(report.hosts)}"]
    if not report.ok:
        lines.append(f"  FAILED: {report.error}")
        return "\n".join(lines)
    if report.server is not None:
        lines.append(f"  server: {_server(report.server)}")
    for what, done in report.done.items():
        lines.append(f"  {what.replace('_', ' ')}: {done}")
    if report.advice:
        lines.append(f"  warning: {report.advice}")
    return "\n".join(lines)


def format_check(report: CheckReport) -> str:
    lines = [f"Elasticsearch: {', '.join(report.hosts)} (compat: {report.compat})"]
    if report.reachable and report.server is not None:
        lines.append(f"  reachable: yes, {_server(report.server)}")
        lines.append(f"  template: {report.template}")
        lines.append(f"  incident template: {report.incident_template}")
        lines.append(f"  ILM policy: {report.ilm_policy}")
        lines.append(f"  alerts: {report.alerts} in {report.indices} index(es)")
    else:
        lines.append(f"  reachable: NO ({report.error})")
    if report.spool is None:
        lines.append(f"  spool: empty ({report.spool_path})")
    else:
        age = (f", oldest {_age(report.spool.oldest_age_seconds)}"
               if report.spool.oldest_age_seconds is not None else "")
        lines.append(f"  spool: {report.spool.depth} of {report.spool_capacity} alerts{age} "
                     f"({report.spool_path})")
    lines.append(f"  refused by the cluster: {report.rejected} ({report.rejected_path})")
    lines.append("  OK" if report.ok else "  PROBLEMS:")
    lines.extend(f"    - {p}" for p in report.problems)
    return "\n".join(lines)


def format_prune(report: PruneReport, retention_days: int) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"Retention {retention_days} days: {verb} {len(report.deleted)} index(es), "
             f"kept {len(report.kept)}"]
    lines.extend(f"  {verb}: {name}" for name in report.deleted)
    lines.extend(f"  not a phiwatch month index, left alone: {name}" for name in report.skipped)
    return "\n".join(lines)


def _server(info: ServerInfo) -> str:
    return f"{info.distribution} {info.version} (cluster {info.cluster_name!r})"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_resend(report: ResendReport) -> str:
    r = report.result
    return (f"Re-sent {report.read} refused alert(s) from {report.path}: {r.inserted} new, "
            f"{r.updated} updated, {r.unchanged} already there, {r.spooled} spooled, "
            f"{r.rejected} refused again")

