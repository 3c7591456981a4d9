"""``phiwatch context check`` as plain text: the files, then every gap with its cost and
the configuration that closes it."""

from __future__ import annotations

from phiwatch.context_check import ContextReport


def format_context_check(report: ContextReport) -> str:
    lines = ["Context files:"]
    if not report.files:
        lines.append("  none configured (context: in the configuration)")
    lines.extend(f"  {kind}: {status}" for kind, status in report.files.items())
    if report.events_read:
        lines.append(f"Logs: {report.events_read:,} events read, {report.users_in_logs:,} "
                     "accounts")
    if not report.gaps:
        lines.append("Every word is understood and every account is in the roster.")
        return "\n".join(lines)
    lines.append(f"{len(report.gaps)} gap(s):")
    for g in report.gaps:
        lines.append(f"  {g.where} {g.value!r} ({g.count:,} row(s)/event(s))")
        lines.append(f"      switches off: {g.costs}")
        lines.append(f"      fix: {g.fix}")
    return "\n".join(lines)
