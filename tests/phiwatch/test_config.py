"""The configuration: defaults, relative paths, and one-line errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phiwatch.config import BUILTIN_PACKS, ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "phiwatch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_need_no_file() -> None:
    cfg = load_config(None)
    assert cfg.timezone == "Asia/Ho_Chi_Minh"
    assert cfg.rules.paths == [BUILTIN_PACKS]
    assert cfg.sqlite_path == Path("var") / "alerts.db"


def test_relative_paths_are_taken_from_the_files_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "state_dir: state\nsources:\n  - paths: [logs/*.log]\n"))
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.sources[0].paths == [str(tmp_path / "logs" / "*.log")]
    assert cfg.sqlite_path == tmp_path / "state" / "alerts.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sourcez: []\n", "sourcez: unknown key"),
        ("sources:\n  - name: his\n", "sources.0.paths: required key is missing"),
        ("timezone: Mars/Olympus\n", "timezone: Value error, unknown time zone 'Mars/Olympus'"),
        ("rules:\n  lateness_seconds: -1\n", "rules.lateness_seconds:"),
        ("organization:\n  id: 'Bệnh viện'\n", "organization.id:"),
        ("sources: [\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("sources:\n  - paths: [a.log]\n    parse: {format: xml}\n", "sources.0.parse"),
    ],
)
def test_errors_name_the_file_and_key_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith(str(tmp_path / "phiwatch.yaml"))
    assert expected in message
    assert "\n" not in message


def test_cli_reports_config_errors_with_exit_code_2(tmp_path: Path) -> None:
    cfg = write(tmp_path, "pipeline:\n  batch_size: lots\n")
    proc = subprocess.run(
        [sys.executable, "-m", "phiwatch", "alerts", "--config", str(cfg)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "pipeline.batch_size" in proc.stderr
    assert proc.stderr.count("\n") <= 2
