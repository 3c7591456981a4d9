"""FileSource on real files: rotation by rename, copytruncate, delete and re-create, restart.

Every scenario writes numbered events, disturbs the files the way logrotate or an
operator would (real ``os.rename``, ``os.truncate``, ``os.unlink``), and checks that each
event number was read exactly once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from sensors.checkpoint import Checkpoint
from sensors.deadletter import DeadLetter
from sensors.file_source import FileSource
from sensors.formats import FileParser
from sensors.parsers import JsonParserConfig, parser_for
from sensors.split import Split


def rec(n: int) -> bytes:
    return orjson.dumps({
        "@timestamp": f"2026-11-22T08:{(n // 60) % 60:02d}:{n % 60:02d}+07:00",
        "event": {"action": "view"},
        "user": {"id": "nv00001"},
        "patient": {"id": f"BN{n:08d}"},
        "seq": n,
    }) + b"\n"


def append(path: Path, first: int, last: int) -> None:
    with open(path, "ab") as f:
        for n in range(first, last):
            f.write(rec(n))


class Harness:
    def __init__(self, tmp: Path, pattern: str, rotate_wait: float = 0.0) -> None:
        self.tmp = tmp
        self.pattern = pattern
        self.rotate_wait = rotate_wait
        self.dead = DeadLetter(tmp / "dead" / "dead.ndjson")
        self.seen: list[int] = []
        self.source = self._new(Checkpoint())

    def _new(self, checkpoint: Checkpoint) -> FileSource:
        cfg = JsonParserConfig(format="json")
        factory: Callable[[str], FileParser] = (  # noqa: E731
            lambda p: FileParser(lines=parser_for(cfg, Path(p))))
        self.splits: list[Split] = []
        return FileSource([self.pattern], factory, self.dead, checkpoint,
                          on_split=self.splits.append, rotate_wait=self.rotate_wait)

    def pump(self, rounds: int = 3) -> None:
        for _ in range(rounds):
            self.source.scan()
            while self.source.fill(1000, 1_000_000):
                pass
            for split in self.splits:
                self.seen.extend(int(e.fields["seq"]) for e in split.take(float("inf")))

    def restart(self) -> None:
        positions = self.source.positions()
        self.source.close()
        self.source = self._new(Checkpoint(positions))


def assert_exactly_once(seen: list[int], n: int) -> None:
    assert sorted(seen) == list(range(n)), (
        f"missing {sorted(set(range(n)) - set(seen))[:10]}, "
        f"doubled {sorted({x for x in seen if seen.count(x) > 1})[:10]}"
    )


def test_rename_rotation_while_running(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, 0, 100)
    h = Harness(tmp_path, str(tmp_path / "access.log"))
    h.pump()
    append(log, 100, 150)  # written before rotation, not yet read
    os.rename(log, tmp_path / "access.log.1")
    append(log, 150, 200)  # the new file
    append(tmp_path / "access.log.1", 200, 210)  # a writer still holding the old file
    h.pump()
    assert_exactly_once(h.seen, 210)


def test_copytruncate_with_rotated_names_in_the_glob(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, 0, 100)
    h = Harness(tmp_path, str(tmp_path / "access.log*"))
    h.pump()
    append(log, 100, 130)  # not read before the copy
    shutil.copyfile(log, tmp_path / "access.log.1")
    os.truncate(log, 0)
    append(log, 130, 180)
    h.pump()
    assert_exactly_once(h.seen, 180)


def test_delete_and_recreate(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, 0, 50)
    h = Harness(tmp_path, str(log))
    h.pump()
    os.unlink(log)
    append(log, 50, 80)
    h.pump()
    assert_exactly_once(h.seen, 80)


def test_files_appearing_later_are_picked_up(tmp_path: Path) -> None:
    h = Harness(tmp_path, str(tmp_path / "*.log"))
    h.pump()
    append(tmp_path / "a.log", 0, 10)
    h.pump()
    append(tmp_path / "b.log", 10, 20)
    h.pump()
    assert_exactly_once(h.seen, 20)


def test_restart_resumes_without_loss_or_repeat(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, 0, 100)
    h = Harness(tmp_path, str(log))
    h.pump()
    h.restart()
    append(log, 100, 120)
    h.pump()
    assert_exactly_once(h.seen, 120)


def test_rotation_while_stopped_is_finished_after_restart(tmp_path: Path) -> None:
    """The glob names only access.log; the rotated file is found beside it by fingerprint."""
    log = tmp_path / "access.log"
    append(log, 0, 100)
    h = Harness(tmp_path, str(log))
    h.pump()
    positions = h.source.positions()
    h.source.close()
    append(log, 100, 140)  # written after the stop, then rotated away
    os.rename(log, tmp_path / "access.log.1")
    append(log, 140, 160)
    h.source = h._new(Checkpoint(positions))
    h.pump()
    assert_exactly_once(h.seen, 160)


def test_bad_lines_are_dead_lettered_and_the_rest_read(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with open(log, "wb") as f:
        f.write(rec(0))
        f.write(b"{not json\n")
        f.write(b"\xff\xfe\xfa invalid utf-8\n")
        f.write(b'{"@timestamp": "2026-11-22T08:00:00+07:00", "event": {"action": "view"}}\n')
        f.write(os.urandom(4096).replace(b"\n", b"") + b"\n")
        f.write(rec(1))
    h = Harness(tmp_path, str(log))
    h.pump()
    assert_exactly_once(h.seen, 2)
    assert h.dead.counts["parse"] == 4
    h.dead.flush()
    raw = (tmp_path / "dead" / "dead.ndjson").read_bytes()
    entries = [orjson.loads(x) for x in raw.splitlines()]
    assert [e["line"] for e in entries] == [2, 3, 4, 5]
    assert any("user.id" in e["reason"] for e in entries)
    assert "raw_b64" in entries[1]


@pytest.mark.parametrize("cut", [1, 37, 200])
def test_partial_line_at_a_snapshot_is_read_once(tmp_path: Path, cut: int) -> None:
    log = tmp_path / "access.log"
    append(log, 0, 10)
    whole = rec(10)
    with open(log, "ab") as f:
        f.write(whole[: min(cut, len(whole) - 1)])
    h = Harness(tmp_path, str(log))
    h.pump()
    assert len(h.seen) == 10
    h.restart()
    with open(log, "ab") as f:
        f.write(whole[min(cut, len(whole) - 1):])
    append(log, 11, 15)
    h.pump()
    assert_exactly_once(h.seen, 15)
