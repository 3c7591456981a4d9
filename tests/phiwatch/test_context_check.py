"""``phiwatch context check`` names every word and account it does not know, what each
switches off, and the configuration line that closes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runkit import BASE, his_line


def test_gaps_are_listed_with_their_cost_and_fix(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text(
        "user_id,full_name,role,department,status,end_date,shift,vendor\n"
        "nv00001,A,Bảo vệ,phòng 12,active,,ca-kip,\n"
        "nv00002,B,nurse,san-a,đang làm việc,,day,\n"
        "nv00003,C,cashier,Thu ngân,nghỉ phép,,hành chính,\n", encoding="utf-8")
    (tmp_path / "a.log").write_bytes(his_line(BASE, "nv00002", "view", 1)
                                     + his_line(BASE, "nv00077", "view", 2))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("state_dir: var\ncontext: {roster: roster.csv}\n")
    proc = subprocess.run([sys.executable, "-m", "phiwatch", "context", "check", "--config",
                           str(cfg), str(tmp_path / "a.log")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "roster: loaded: 3 of 3 rows used" in out
    assert "shift 'ca-kip' (1 row(s)/event(s))" in out
    assert "context.shifts: {'ca-kip': \"HH:MM-HH:MM\"}" in out
    assert "role 'Bảo vệ'" in out and "context.vocabulary.roles: {'Bảo vệ': <" in out
    assert "department 'phòng 12'" in out
    assert "user not in the roster 'nv00077'" in out
    assert "nghỉ phép" not in out and "hành chính" not in out and "Thu ngân" not in out
