"""Report numbers under contention: real threads and real processes on one SQLite file."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alerting.reports.errors import NumberingError
from alerting.reports.numbering import ReportNumbers, SQLiteReportNumbers, number_key


def test_sequence_is_per_hospital_and_year_and_idempotent(tmp_path: Path) -> None:
    n = SQLiteReportNumbers(tmp_path / "n.db")
    assert isinstance(n, ReportNumbers)
    assert n.next("bv-mau", 2026, number_key("inc1", "BC")) == 1
    assert n.next("bv-mau", 2026, number_key("inc2", "BC")) == 2
    assert n.next("bv-mau", 2026, number_key("inc1", "BC")) == 1   # a retry keeps its number
    assert n.next("bv-mau", 2026, number_key("inc1", "TB")) == 3
    assert n.next("bv-khac", 2026, number_key("inc9", "BC")) == 1
    assert n.next("bv-mau", 2027, number_key("inc1", "BC")) == 1
    again = SQLiteReportNumbers(tmp_path / "n.db")                   # a restart
    assert again.next("bv-mau", 2026, number_key("inc3", "BC")) == 4
    assert [k for _, k in again.assigned("bv-mau", 2026)] == \
        ["inc1/BC", "inc2/BC", "inc1/TB", "inc3/BC"]
    with pytest.raises(NumberingError):
        n.next("", 2026, "x")


def test_threads_get_no_gap_and_no_duplicate(tmp_path: Path) -> None:
    n = SQLiteReportNumbers(tmp_path / "n.db")
    got: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def work(t: int) -> None:
        start.wait()
        for i in range(10):
            key = f"inc{t}-{i % 5}"      # every key asked twice: the retry must not burn
            num = n.next("bv-mau", 2026, key)
            with lock:
                got.append((key, num))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    by_key: dict[str, set[int]] = {}
    for k, v in got:
        by_key.setdefault(k, set()).add(v)
    assert all(len(v) == 1 for v in by_key.values())
    numbers = sorted(v.pop() for v in by_key.values())
    assert numbers == list(range(1, 16 * 5 + 1))


WORKER = """
import sys
from alerting.reports.numbering import SQLiteReportNumbers
db, me = sys.argv[1], sys.argv[2]
n = SQLiteReportNumbers(db)
print("ready", flush=True)
sys.stdin.readline()
for i in range(12):
    print(f"p{me}-{i} {n.next('bv-mau', 2026, f'p{me}-{i}')}", flush=True)
"""


def test_processes_get_no_gap_and_no_duplicate(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    SQLiteReportNumbers(db)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(p)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for p in range(6)]
    for p in procs:  # every process is up before any draws: they contend for real
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    lines = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        lines += out.split("\n")
    numbers = sorted(int(line.split()[1]) for line in lines if line.strip())
    assert numbers == list(range(1, 6 * 12 + 1))
    assert [num for num, _ in SQLiteReportNumbers(db).assigned("bv-mau", 2026)] == numbers
