"""The notify:, metrics: and logging: sections through phiwatch's own loader: defaults,
relative paths, secrets from files, and one-line errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting.notify.channels import build_channel
from alerting.notify.config import EmailChannelConfig, WebhookChannelConfig
from alerting.notify.errors import NotifyError
from phiwatch.config import ConfigError, load_config

MAIL = ("    - {type: email, name: it, host: mail.bv.local, sender: pw@bv.local,\n"
        "       to: [it@bv.local]")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "phiwatch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_sections_are_optional_and_default_off() -> None:
    cfg = load_config(None)
    assert cfg.notify is None and cfg.metrics is None
    assert (cfg.logging.format, cfg.logging.level) == ("text", None)


def test_relative_paths_are_taken_from_the_files_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, (
        "state_dir: state\n"
        "metrics: {}\n"
        "logging: {format: json, level: info}\n"
        "notify:\n  outbox_path: notify/outbox.db\n  channels:\n"
        f"{MAIL}, username: pw, password_file: secrets/smtp, ca_file: ca.pem}}\n")))
    assert cfg.notify is not None
    assert cfg.notify.outbox_file(cfg.state_dir) == tmp_path / "notify" / "outbox.db"
    channel = cfg.notify.channels[0]
    assert isinstance(channel, EmailChannelConfig)
    assert channel.password_file == tmp_path / "secrets" / "smtp"
    assert channel.ca_file == tmp_path / "ca.pem"
    assert cfg.metrics is not None and cfg.metrics.address == ("127.0.0.1", 9464)
    assert cfg.logging.format == "json"


def test_default_outbox_is_in_the_state_dir(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, f"state_dir: s\nnotify:\n  channels:\n{MAIL}}}\n"))
    assert cfg.notify is not None
    assert cfg.notify.outbox_file(cfg.state_dir) == tmp_path / "s" / "notify.db"


@pytest.mark.parametrize(("text", "expected"), [
    ("notify: {channels: []}\n", "notify.channels: List should have at least 1 item"),
    (f"notify:\n  channels:\n{MAIL}, usernme: x}}\n", "usernme: unknown key"),
    (f"notify:\n  channels:\n{MAIL}, username: x}}\n",
     "notify.channels.0.email: Value error, username and password (or password_file) go"),
    (f"notify:\n  channels:\n{MAIL}, security: none, username: x, password: y}}\n",
     "refusing to log in without TLS"),
    ("notify:\n  channels:\n    - {type: email, name: it, host: h, sender: pw@bv.local,\n"
     "       to: [\"it@bv.local\\r\\nBcc: x@evil.example\"]}\n", "is not a plain email"),
    ("notify:\n  channels:\n    - {type: webhook, name: w, url: 'http://siem/x', "
     "secret: 0123456789abcdef}\n", "must be an https:// URL"),
    ("notify:\n  channels:\n    - {type: webhook, name: w, url: 'https://siem/x', "
     "secret: short}\n", "secret needs at least 16 bytes"),
    ("notify:\n  channels:\n    - {type: syslog, name: s, host: siem, transport: udp,\n"
     "       hostname: 'two words'}\n", "notify.channels.0.syslog.hostname"),
    ("notify:\n  channels:\n    - {type: syslog, name: s, host: siem}\n",
     "notify.channels.0.syslog.transport: required key is missing"),
    ("notify:\n  channels:\n    - {type: pager, name: p}\n", "notify.channels.0"),
    (f"notify:\n  channels:\n{MAIL}}}\n{MAIL}}}\n", "channel names must be unique: it"),
    ("notify:\n  min_severity: urgent\n  channels:\n"
     f"{MAIL}}}\n", "notify.min_severity"),
    (f"notify:\n  alert_url: https://pw.bv.local/alerts\n  channels:\n{MAIL}}}\n",
     "alert_url must be an http(s) URL containing {id}"),
    ("metrics: {listen: '9464'}\n", "metrics.listen: Value error, '9464' is not host:port"),
    ("logging: {format: xml}\n", "logging.format"),
])
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith(str(tmp_path / "phiwatch.yaml") + ": ")
    assert expected in message and "\n" not in message


def test_secrets_are_never_printed(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, (
        "notify:\n  channels:\n    - {type: webhook, name: w, url: 'https://siem/x',\n"
        "       secret: the-webhook-secret-value}\n")))
    assert "the-webhook-secret-value" not in repr(cfg) and \
        "the-webhook-secret-value" not in str(cfg.model_dump())


def test_a_secret_file_that_cannot_be_read_names_file_and_key(tmp_path: Path) -> None:
    channel = WebhookChannelConfig(type="webhook", name="w", url="https://siem/x",
                                   secret_file=tmp_path / "missing")
    with pytest.raises(NotifyError) as err:
        build_channel(channel)
    assert err.value.file == str(tmp_path / "missing")
    assert err.value.key == "notify.channels.w.secret" and err.value.hint


def test_a_secret_file_is_read_without_its_newline(tmp_path: Path) -> None:
    (tmp_path / "hook").write_text("0123456789abcdef0123\n", encoding="utf-8")
    channel = WebhookChannelConfig(type="webhook", name="w", url="https://siem/x",
                                   secret_file=tmp_path / "hook")
    assert channel.secret_bytes() == b"0123456789abcdef0123"
