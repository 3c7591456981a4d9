"""``phiwatch notify status`` and ``retry`` from a shell, on the state file a running
notifier wrote: a channel refused for good shows with its reason, exits 1, and is sent
again after ``retry``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from opskit import SENDER, T0, Recorder, alert
from typer.testing import CliRunner

from alerting.notify.notifier import Notifier
from alerting.reports.outbox import Outcome
from phiwatch.cli import app
from phiwatch.config import load_config

WEBHOOK = {"type": "webhook", "name": "it-webhook", "url": "https://siem.bv.local/hook",
           "secret": "s" * 32}


def test_status_shows_what_failed_and_retry_sends_it_again(tmp_path: Path) -> None:
    path = tmp_path / "phiwatch.yaml"
    path.write_text(yaml.safe_dump({"state_dir": "state", "notify": {"channels": [WEBHOOK]}}),
                    encoding="utf-8")
    cfg = load_config(path)
    assert cfg.notify is not None
    # The receiver's answer to the first try: a wrong secret, which retrying cannot fix.
    refused = Recorder([Outcome.failed("HTTP 401 Unauthorized [red]x[/red]", status=401)])
    n = Notifier(cfg.notify, sender=SENDER, state_dir=cfg.state_dir,
                 channels={"it-webhook": refused})
    n.submit([alert()], now=T0)
    n.run_due(T0)

    runner = CliRunner()
    r = runner.invoke(app, ["notify", "status", "--config", str(path)])
    assert r.exit_code == 1, r.output
    assert "it-webhook" in r.output and "webhook" in r.output
    assert "last error: HTTP 401 Unauthorized [red]x[/red]" in r.output  # shown as written
    assert "phiwatch notify retry" in r.output

    r = runner.invoke(app, ["notify", "retry", "--config", str(path), "--channel", "nope"])
    assert r.exit_code == 2 and "it-webhook" in r.output
    r = runner.invoke(app, ["notify", "retry", "--config", str(path)])
    assert r.exit_code == 0 and "1 notification(s) queued again" in r.output
    n.run_due(T0 + timedelta(hours=1))
    assert [p.report_id for p, _, _ in refused.sent][-1].startswith("it-webhook/alert/")
    r = runner.invoke(app, ["notify", "status", "--config", str(path)])
    assert r.exit_code == 0 and "Nothing failed for good." in r.output


def test_without_a_notify_section_it_says_so(tmp_path: Path) -> None:
    path = tmp_path / "phiwatch.yaml"
    path.write_text("state_dir: state\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["notify", "status", "--config", str(path)])
    assert r.exit_code == 2 and "no `notify:` section" in r.output
