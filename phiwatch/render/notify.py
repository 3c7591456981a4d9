"""``phiwatch notify status`` as plain text: one line per channel, then what to do."""

from __future__ import annotations

from alerting.notify import NotifyStatus


def format_notify_status(status: NotifyStatus) -> str:
    """Per channel: pending, failed, delivered, in a digest, oldest pending, last error.

    Plain text (the last error quotes a server's words: print it with markup off)."""
    if not status.channels:
        return f"no notification channel configured (state file {status.path})"
    width = max(len(c.channel) for c in status.channels)
    lines = [f"{'channel':<{width}}  kind     pending  failed  delivered  in digest  "
             "oldest pending"]
    for c in status.channels:
        oldest = c.oldest_pending.strftime("%Y-%m-%d %H:%M UTC") if c.oldest_pending else "-"
        lines.append(f"{c.channel:<{width}}  {c.kind:<7}  {c.pending:>7}  {c.failed:>6}  "
                     f"{c.delivered:>9}  {c.in_digest:>9}  {oldest}")
        if c.last_error:
            lines.append(f"{'':<{width}}  last error: {c.last_error}")
    failed = sum(c.failed for c in status.channels)
    if failed:
        lines.append(f"{failed} notification(s) failed for good: fix the cause (the last "
                     "error above), then `phiwatch notify retry`.")
    else:
        lines.append("Nothing failed for good.")
    return "\n".join(lines)
