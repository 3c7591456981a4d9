"""``phiwatch notify status|retry``: the alert notifications' outbox, from a shell."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from phiwatch.cli.common import ConfigOption, echo, errors, fail, load
from phiwatch.render.notify import format_notify_status

app = typer.Typer(
    help="Alert notifications (email, webhook, syslog): what is pending, what failed and "
    "why, and sending the failed ones again once the cause is fixed. Reads the state file "
    "only: works while `phiwatch run` is sending.",
    no_args_is_help=True,
)


@app.command("status")
def status(config: ConfigOption = None) -> None:
    """Per channel: pending, failed for good, delivered, waiting in a digest, the last
    error. Exits 1 when something failed for good."""
    from alerting.notify import notify_status

    cfg = load(config)
    if cfg.notify is None:
        fail("no `notify:` section in the configuration: nothing is notified", 2)
    with errors():
        result = notify_status(cfg.notify, cfg.state_dir)
    echo(format_notify_status(result))
    if not result.ok:
        raise typer.Exit(1)


@app.command("retry")
def retry(
    config: ConfigOption = None,
    channel: Annotated[str | None, typer.Option(
        help="Only this channel (its `name:`); default: every channel.")] = None,
) -> None:
    """Send the failed notifications again (after fixing the password, the certificate,
    the receiver …). The running service picks them up at its next round."""
    from alerting.notify import requeue_failed

    cfg = load(config)
    if cfg.notify is None:
        fail("no `notify:` section in the configuration: nothing is notified", 2)
    if channel is not None and channel not in {c.name for c in cfg.notify.channels}:
        fail(f"no channel named {channel!r} (configured: "
             f"{', '.join(c.name for c in cfg.notify.channels)})", 2)
    with errors():
        n = requeue_failed(cfg.notify, cfg.state_dir, now=datetime.now(UTC), channel=channel)
    echo(f"{n} notification(s) queued again" if n else "nothing had failed")
