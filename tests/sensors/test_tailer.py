"""The tailer on real files: partial lines, over-long lines, truncation and replacement."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from sensors.checkpoint import FINGERPRINT_BYTES, Checkpoint
from sensors.deadletter import DeadLetter
from sensors.tailer import FileState, Tailer


def _dead(tmp_path: Path) -> DeadLetter:
    return DeadLetter(tmp_path / "dead" / "dead.ndjson")


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"one\ntw")
    t = Tailer.open(str(log), None, _dead(tmp_path))
    assert [x.data for x in t.read()] == [b"one"]
    assert t.position().offset == 4  # never past the start of the unfinished line
    with open(log, "ab") as f:
        f.write(b"o\r\nthree\n")
    lines = t.read()
    assert [(x.data, x.number) for x in lines] == [(b"two", 2), (b"three", 3)]
    assert t.position().offset == log.stat().st_size
    t.close()


def test_resume_from_position_reads_each_line_once(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    dead = _dead(tmp_path)
    t = Tailer.open(str(log), None, dead)
    first = t.read(max_lines=1)  # reads a whole chunk: all 100 lines
    pos = t.position()
    t.close()
    with open(log, "ab") as f:
        f.write(b"line 100\n")
    cp = Checkpoint([pos])
    fd = os.open(log, os.O_RDONLY)
    claimed = cp.claim(fd, os.fstat(fd))
    os.close(fd)
    assert claimed is not None
    t2 = Tailer.open(str(log), claimed, dead)
    rest = t2.read()
    assert [x.data for x in first + rest] == [b"line %d" % i for i in range(101)]
    assert rest[0].number == 101
    t2.close()


def test_over_long_line_goes_whole_to_a_side_file(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    big = b"x" * (3 * 1024 * 1024 + 17)
    log.write_bytes(b"before\n" + big + b"\nafter\n")
    dead = _dead(tmp_path)
    t = Tailer.open(str(log), None, dead, max_line_bytes=64 * 1024)
    lines = t.read()
    lines += t.read()
    assert [x.data for x in lines] == [b"before", b"after"]
    assert [x.number for x in lines] == [1, 3]
    dead.flush()
    entry = orjson.loads((tmp_path / "dead" / "dead.ndjson").read_bytes())
    assert entry["kind"] == "oversize" and entry["line"] == 2 and entry["length"] == len(big)
    assert Path(entry["blob"]).read_bytes() == big
    assert "max_line_bytes" in entry["reason"]
    t.close()


def test_truncation_and_replacement_are_noticed(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"a\nb\n")
    t = Tailer.open(str(log), None, _dead(tmp_path))
    t.read()
    assert t.state() is FileState.SAME
    os.truncate(log, 0)
    assert t.state() is FileState.TRUNCATED
    t.close()

    log.write_bytes(b"a\nb\n")
    t = Tailer.open(str(log), None, _dead(tmp_path))
    t.read()
    os.rename(log, tmp_path / "a.log.1")
    assert t.state() is FileState.GONE
    log.write_bytes(b"new\n")
    assert t.state() is FileState.REPLACED
    t.close()


def test_truncate_then_rewrite_to_the_same_length_is_noticed(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"first line\n")
    t = Tailer.open(str(log), None, _dead(tmp_path))
    t.read()
    with open(log, "r+b") as f:  # truncated and refilled before the tailer looked again
        f.truncate(0)
        f.write(b"other line\n")
    assert t.state() is FileState.TRUNCATED
    t.close()


def test_short_file_fingerprint_grows_and_needs_the_same_inode(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"short\n")
    t = Tailer.open(str(log), None, _dead(tmp_path))
    t.read()
    weak = t.position()
    assert weak.fp_len == 6 and not weak.strong
    with open(log, "ab") as f:
        f.write(b"y" * FINGERPRINT_BYTES + b"\n")
    t.read()
    assert t.position().strong
    t.close()

    other = tmp_path / "b.log"
    other.write_bytes(b"short\nsomething else\n")  # same first bytes, another file
    fd = os.open(other, os.O_RDONLY)
    assert not weak.matches(fd, os.fstat(fd))
    os.close(fd)
