"""Text from logs is data: markup, emoji codes and terminal escapes in a log field are
printed literally and never stop phiwatch (issue 10, point 1).

The attacker's string is a user name typed into the HIS login form: it reaches the
failed-login alert's sentence, the `run` console line, `alerts` in every format, and logs.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import unicodedata
from datetime import timedelta
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import BASE, his_line, write_config

from phiwatch.text import SafeFormatter, console, printable

HOSTILE = [
    "admin[/]",
    "[bold red]x[/bold red]",
    "[link=http://evil]click[/link]",
    ":warning: :cross_mark:",
    "\x1b[2J\x1b[H",          # clear screen, cursor home
    "\x1b]0;pwned\x07",        # set window title
    "ok\u202etxt.exe",         # right-to-left override
    "a\x9bb",                  # C1 control sequence introducer
    "%s %n {0} {user.id}",     # format-string look-alikes
]


def _brute_force_log(path: Path, user: str) -> None:
    lines = []
    for i in range(12):
        t = BASE + timedelta(seconds=5 * i)
        doc = orjson.loads(his_line(t, "nv00001", "login_failed", None))
        doc["user"]["id"] = user
        doc["user"]["name"] = user
        lines.append(orjson.dumps(doc) + b"\n")
    path.write_bytes(b"".join(lines))


def _no_escapes(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in text, f"raw {bad!r} reached the terminal"


def test_printable_escapes_every_control_and_bidi_character() -> None:
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable("a\u202eb") == "a\\u202eb"
    assert printable("a\nb") == "a\nb"
    assert printable("a\nb", one_line=True) == "a\\x0ab"
    assert printable("Nguyễn Thị Lan") == "Nguyễn Thị Lan"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_prints_literally_and_without_controls(value: str) -> None:
    import io

    buf = io.StringIO()
    c = console(file=buf)
    c.print(value)
    shown = buf.getvalue()
    _no_escapes(shown)
    for ch in shown:
        assert ch in "\n\t" or unicodedata.category(ch) != "Cc", repr(ch)


def test_safe_formatter_escapes_log_messages() -> None:
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "user %s", ("\x1b[2J",), None)
    assert "\x1b" not in SafeFormatter("%(message)s").format(record)


def test_hostile_user_names_do_not_stop_replay_or_alerts(tmp_path: Path) -> None:
    (tmp_path / "his").mkdir()
    for i, name in enumerate(HOSTILE):
        _brute_force_log(tmp_path / "his" / f"a{i}.log", name)
    cfg = write_config(tmp_path, "state")
    files = sorted(str(p) for p in (tmp_path / "his").glob("*.log"))
    replay = subprocess.run([sys.executable, "-m", "phiwatch", "replay", "--no-progress",
                             "--config", str(cfg), *files],
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    for fmt in ("text", "table", "ndjson"):
        shown = subprocess.run([sys.executable, "-m", "phiwatch", "alerts", "--config",
                                str(cfg), "--format", fmt, "--limit", "1000"],
                               capture_output=True, text=True, timeout=60,
                               env={"COLUMNS": "400", "PATH": ""})
        assert shown.returncode == 0, shown.stderr
        assert "Traceback" not in shown.stderr
        _no_escapes(shown.stdout)
        if fmt != "ndjson":
            # Literal, not interpreted: the brackets and codes are all there.
            assert "admin[/]" in shown.stdout
            assert "[bold red]x[/bold red]" in shown.stdout
            assert ":warning:" in shown.stdout
            assert "\\x1b[2J" in shown.stdout
        else:
            users = {orjson.loads(line)["group"].get("user.id") for line in
                     shown.stdout.splitlines()}
            assert set(HOSTILE) <= users


def test_run_survives_a_markup_user_name_and_keeps_reading(tmp_path: Path,
                                                           start_run) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "his").mkdir()
    log = tmp_path / "his" / "access.log"
    _brute_force_log(log, "admin[/]")
    cfg = write_config(tmp_path, "state")
    run = start_run(cfg)
    run.wait_for(lambda c: c.get("events", 0) >= 12)
    # Lines after the hostile burst are still read.
    with open(log, "ab") as f:
        f.write(his_line(BASE + timedelta(minutes=5), "nv00002", "view", 1))
    run.wait_for(lambda c: c.get("events", 0) >= 13)
    time.sleep(0.2)
    assert run.proc.poll() is None
    assert run.stop() == 0
    stderr = cfg.with_suffix(".stderr").read_text(encoding="utf-8")
    assert "admin[/]" in stderr
    assert "MarkupError" not in stderr


def test_config_values_are_echoed_literally(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('timezone: "[/]\\u001b[2J"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "phiwatch", "alerts", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "[/]" in proc.stderr
    _no_escapes(proc.stderr)
