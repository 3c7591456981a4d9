"""Reloading: a broken edit keeps the last good version and says why; a good edit is
picked up within seconds; readers never see half a file. Waits poll a condition with a
deadline rather than assert on timing."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sensors.context import Context, ContextConfig, ContextWatcher

HEADER = "user_id,full_name,role,department,status,end_date,shift,vendor\n"


def staff(*ids: str, department: str = "san-a") -> str:
    return HEADER + "".join(f"{i},Tên {i},nurse,{department},active,,day,\n" for i in ids)


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(0.02)


def rewrite(path: Path, text: str | bytes) -> None:
    """An edit in place that certainly changes the signature (mtime granularity aside)."""
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(data)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


@pytest.fixture
def context(tmp_path: Path) -> Context:
    (tmp_path / "roster.csv").write_text(staff("nv1", "nv2"), encoding="utf-8")
    ctx = Context(ContextConfig(roster=tmp_path / "roster.csv"))
    ctx.load_all()
    return ctx


@pytest.fixture
def watcher(context: Context) -> Iterator[ContextWatcher]:
    w = ContextWatcher(context, poll_interval=0.1, settle=0.05)
    w.start()
    yield w
    w.stop()


def test_broken_edit_keeps_last_good_then_good_edit_loads(
    context: Context, watcher: ContextWatcher, caplog: pytest.LogCaptureFixture
) -> None:
    path = context.status["roster"].path
    st = context.status["roster"]
    assert context.roster.get("nv1") is not None and st.loads == 1
    caplog.set_level(logging.WARNING, logger="sensors.context")

    rewrite(path, b"\x00\x01garbage\xff\xfe that is not a roster\n" * 10)
    eventually(lambda: st.failures == 1)
    assert context.roster.get("nv1") is not None  # the old version still answers
    assert len(context.roster) == 2
    assert st.last_error is not None and str(path) in st.last_error
    assert "not UTF-8" in st.last_error
    assert "keeping the version loaded at" in caplog.text
    assert context.counters()["context_roster_failures"] == 1

    rewrite(path, "just,some,words\n1,2,3\n")
    eventually(lambda: st.failures == 2)
    assert "header lacks columns" in (st.last_error or "")
    assert len(context.roster) == 2

    rewrite(path, staff("nv1", "nv2", "nv3", department="hau-san"))
    eventually(lambda: context.roster.get("nv3") is not None)
    assert context.roster.staff["nv1"].department == "hau-san"
    assert st.last_error is None and st.loads == 2


def test_rejected_version_is_not_retried_until_it_changes(context: Context) -> None:
    w = ContextWatcher(context, settle=0)
    path = context.status["roster"].path
    rewrite(path, "garbage\n")
    assert w.poll() == ["roster"]
    assert w.poll() == [] and w.poll() == []
    assert context.status["roster"].failures == 1


def test_replacement_by_rename_is_picked_up(context: Context, watcher: ContextWatcher) -> None:
    path = context.status["roster"].path
    tmp = path.with_name("roster.csv.tmp")
    tmp.write_text(staff("nv9"), encoding="utf-8")
    os.replace(tmp, path)
    eventually(lambda: context.roster.get("nv9") is not None)
    assert context.roster.get("nv1") is None


def test_deleted_file_keeps_last_good(context: Context) -> None:
    w = ContextWatcher(context, settle=0)
    context.status["roster"].path.unlink()
    assert w.poll() == ["roster"]
    assert context.roster.get("nv1") is not None
    assert "cannot read" in (context.status["roster"].last_error or "")


def test_file_missing_at_start_is_loaded_once_it_appears(tmp_path: Path) -> None:
    ctx = Context(ContextConfig(flagged_patients=tmp_path / "later" / "flagged.csv"))
    w = ContextWatcher(ctx, poll_interval=0.1, settle=0.05)
    w.start()
    try:
        assert not ctx.flagged.loaded and ctx.status["flagged_patients"].failures == 1
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / "flagged.csv").write_text("patient_id,reason\nBN1,vip\n",
                                                        encoding="utf-8")
        eventually(lambda: ctx.flagged.loaded)
        assert ctx.flagged.get("BN1") == ("vip",)
    finally:
        w.stop()


def test_settle_waits_for_a_file_to_stop_changing(context: Context) -> None:
    w = ContextWatcher(context, settle=0.3)
    rewrite(context.status["roster"].path, staff("nv5"))
    assert w.poll() == []  # just seen changed: not read yet
    eventually(lambda: w.poll() == ["roster"])
    assert context.roster.get("nv5") is not None


def test_readers_never_see_half_a_file(context: Context, watcher: ContextWatcher) -> None:
    path = context.status["roster"].path
    small = staff(*(f"a{i}" for i in range(10)))
    big = staff(*(f"b{i}" for i in range(5000)))
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(len(context.roster))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(6):
            tmp = path.with_name("roster.tmp")
            tmp.write_text(big if i % 2 == 0 else small, encoding="utf-8")
            os.replace(tmp, path)
            want = 5000 if i % 2 == 0 else 10
            eventually(lambda want=want: len(context.roster) == want)  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()
    assert seen <= {2, 10, 5000}
