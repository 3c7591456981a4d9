"""``phiwatch rules validate`` and ``phiwatch rules test`` reports as plain text."""

from __future__ import annotations

from rules.loader import RuleError
from rules.ruletest import RuleTestReport


def format_report(errors: list[RuleError], good: int) -> str:
    """A plain-text report for ``phiwatch rules validate``: one line per problem, a summary.

    The text contains no markup; print it with markup off (it may quote brackets).
    """
    lines = [str(e) for e in sorted(errors, key=lambda e: (e.path, e.level != "error"))]
    n_err = sum(e.is_error for e in errors)
    n_warn = len(errors) - n_err
    lines.append(
        f"{good} rule{'s' if good != 1 else ''} ready; {n_err} error{'s' if n_err != 1 else ''}"
        f", {n_warn} warning{'s' if n_warn != 1 else ''}"
    )
    return "\n".join(lines)


def format_test_report(report: RuleTestReport) -> str:
    """Plain text for the terminal (no markup; print it with markup off)."""
    out: list[str] = []
    for e in report.errors:
        out.append(str(e))
    out.append(f"{report.events} event(s) read, {report.late} late (ignored)")
    out.append("")
    out.append("Matches:")
    for rule in report.ruleset.detections:
        n = report.matched.get(rule.id, 0)
        refs = report.matches.get(rule.id, [])
        more = f" (first {len(refs)})" if n > len(refs) else ""
        out.append(f"  {rule.id}: {n} event(s){more}")
        out.extend(f"    {r}" for r in refs)
    if report.state:
        out.append("")
        out.append("State at the end:")
        for rid, lines in report.state.items():
            out.append(f"  {rid}:" + ("" if lines else " no group"))
            out.extend(f"    {line}" for line in lines)
    out.append("")
    out.append(f"Alerts it would raise: {len(report.alerts)}"
               + (f" ({report.suppressed} suppressed by realert)" if report.suppressed else ""))
    for a in report.alerts:
        status = "final" if a.final else "open"
        out.append(f"  [{a.severity}] {a.rule_id} ({status}) {a.window_start:%Y-%m-%d %H:%M:%S}"
                   f" {', '.join(f'{k}={v}' for k, v in a.group.items())}")
        out.append(f"    {a.explanation}")
        out.append(f"    evidence: {a.first_event.ref} .. {a.last_event.ref}")
    return "\n".join(out)

