"""Adversarial properties of the pipeline (issue 10), each over at least 200 generated
cases (``make test``; ``make test-nightly`` runs ten times more):

- inserting any one line anywhere in a log never removes an alert the clean log raises,
  except alerts about that line's own user (or workstation);
- splitting a log into files, rotating it at any line, or restarting ``run`` at any line
  gives the same alert ids as one replay;
- hostile field values never crash the pipeline: every line is an event, a dead letter
  or a quarantined event, with a reason.

The pipeline is the real one (``phiwatch.replay``, ``phiwatch.runner.Runner`` driven step
by step in-process, so that hundreds of cases fit in seconds), on real files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runkit import hospital_lines

from alerting.sqlite_store import SQLiteAlertStore
from alerting.store import AlertQuery, alert_user
from phiwatch.config import BUILTIN_PACKS, Config, load_config
from phiwatch.replay import replay
from phiwatch.runner import Runner
from rules.loader import load_rules

RULES = load_rules([BUILTIN_PACKS / "his"])
LINES = hospital_lines(700, seed=5)
TIMES = [orjson.loads(line)["@timestamp"] for line in LINES]
CASES = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="phiwatch-prop-") as tmp:
        yield Path(tmp)


def config(tmp: Path) -> Config:
    return load_config(None, {
        "state_dir": str(tmp / "state"),
        "sources": [{"name": "his", "paths": [str(tmp / "logs" / "access.log*")],
                     "rotate_wait_seconds": 0, "idle_timeout_seconds": 0.001}],
        "pipeline": {"batch_size": 97},  # many small batches: more cut points
    })


def replay_alerts(files: list[Path], tmp: Path) -> dict[str, Any]:
    cfg = config(tmp)
    store = SQLiteAlertStore(cfg.sqlite_path)
    report = replay(cfg, files, store, ruleset=RULES)
    found = {a.id: a for a in store.query(AlertQuery(limit=10_000))}
    store.close()
    found["_report"] = report
    return found


def write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    return path


with tempfile.TemporaryDirectory() as _tmp:
    _clean = replay_alerts([write(Path(_tmp) / "logs" / "access.log", LINES)], Path(_tmp))
    CLEAN_REPORT = _clean.pop("_report")
    CLEAN = _clean
assert len(CLEAN) >= 4, "the sample log must raise alerts for these properties to mean much"


# -- one inserted line ---------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from(["admin[/]", "\x1b[2J", "a\u202eb", "%s%n", "{user.id}",
                                "' OR 1=1 --", "*:*", "x" * 5000, ""])


@st.composite
def inserted_line(draw: st.DrawFn) -> tuple[int, bytes, str | None, str | None]:
    """(position, the line, its user, its workstation address)."""
    at = draw(st.integers(0, len(LINES)))
    near = datetime.fromisoformat(TIMES[min(at, len(TIMES) - 1)])
    shift = draw(st.sampled_from([
        timedelta(0), timedelta(seconds=5), timedelta(seconds=-5), timedelta(minutes=-30),
        timedelta(minutes=10), timedelta(hours=-6), timedelta(days=1), timedelta(days=-400),
        datetime(2030, 1, 1, tzinfo=UTC) - near, datetime(2001, 1, 1, tzinfo=UTC) - near]))
    user = draw(st.one_of(st.sampled_from(["nv00066", "nv00099", "nv00007", "nv00088"]),
                          st.from_regex(r"\Anv9[0-9]{4}\Z"), HOSTILE_TEXT))
    kind = draw(st.sampled_from(["event", "event", "event", "garbage", "nested", "number"]))
    if kind == "garbage":
        return at, draw(st.binary(max_size=300)).replace(b"\n", b" ") + b"\n", None, None
    if kind == "nested":
        return at, b"[" * 2000 + b"]" * 2000 + b"\n", None, None
    ip = f"10.99.{draw(st.integers(0, 255))}.{draw(st.integers(1, 254))}"
    doc: dict[str, Any] = {
        "@timestamp": (near + shift).isoformat(),
        "event": {"action": draw(st.sampled_from(
            ["view", "search", "export", "login", "login_failed", "print", "update"])),
            "outcome": "success"},
        "user": {"id": user, "name": draw(HOSTILE_TEXT)},
        "source": {"ip": ip}, "host": {"name": draw(HOSTILE_TEXT) or "WS-X"},
        "patient": {"id": f"BN{draw(st.integers(0, 10**9))}"},
        "his": {"record_count": draw(st.integers(0, 10**6))},
    }
    if kind == "number":
        doc["his"]["record_count"] = draw(st.sampled_from([2**70, -1, 1.5, "9" * 400]))
    return at, json.dumps(doc).encode() + b"\n", user, ip


def about(alert: Any, user: str | None, ip: str | None) -> bool:
    return user is not None and (alert_user(alert) == user or
                                 alert.context.get("source.ip") == ip)


@CASES
@given(inserted_line())
def test_one_inserted_line_removes_no_alert_but_its_own(case: tuple[int, bytes, str | None,
                                                                     str | None]) -> None:
    at, line, user, ip = case
    with folder() as tmp:
        path = write(tmp / "logs" / "access.log", [*LINES[:at], line, *LINES[at:]])
        found = replay_alerts([path], tmp)
    report = found.pop("_report")
    lost = [a for aid, a in CLEAN.items() if aid not in found and not about(a, user, ip)]
    assert not lost, [(a.rule_id, a.group) for a in lost]
    assert report.events + sum(report.dead_letters.values()) >= CLEAN_REPORT.events


# -- the same log cut differently ----------------------------------------------------------

@CASES
@given(st.lists(st.integers(1, len(LINES) - 1), min_size=1, max_size=4, unique=True),
       st.booleans())
def test_splitting_a_log_into_files_gives_the_same_alerts(cuts: list[int],
                                                          interleave: bool) -> None:
    with folder() as tmp:
        files = []
        if interleave:  # several HIS nodes writing in turn
            n = len(cuts) + 1
            files = [write(tmp / "logs" / f"access.log.{k}", LINES[k::n]) for k in range(n)]
        else:  # consecutive pieces (daily files)
            bounds = [0, *sorted(cuts), len(LINES)]
            files = [write(tmp / "logs" / f"access.log.{k}", LINES[a:b])
                     for k, (a, b) in enumerate(pairwise(bounds))]
        found = replay_alerts(files, tmp)
    found.pop("_report")
    assert set(found) == set(CLEAN)


def run_in_steps(tmp: Path, events: list[tuple[str, int]]) -> set[str]:
    """``run`` driven in-process: ``events`` is a list of ("write", n) (append the next
    n lines), ("rotate", 0) and ("restart", 0) (snapshot, stop, start from the snapshot)."""
    cfg = config(tmp)
    (tmp / "logs").mkdir(parents=True, exist_ok=True)
    log = tmp / "logs" / "access.log"
    log.touch()
    store = SQLiteAlertStore(cfg.sqlite_path)
    runner = Runner(cfg, store, ruleset=RULES)
    written = 0

    def pump() -> None:
        runner.inputs.scan()
        for _ in range(200):
            got = runner._step(cfg.pipeline.batch_size)
            if not got and not runner.inputs.merge.pending():
                break
            time.sleep(0.002)  # past the idle timeout: the last event is released

    for what, n in events:
        if what == "write":
            with open(log, "ab") as f:
                f.write(b"".join(LINES[written:written + n]))
            written += n
        elif what == "rotate":
            rotated = tmp / "logs" / f"access.log.{len(list((tmp / 'logs').iterdir()))}"
            os.rename(log, rotated)
            log.touch()
        else:
            runner.save_snapshot()
            runner.pipeline.close()
            runner.snapshots.close()
            runner = Runner(cfg, store, ruleset=RULES)
        pump()
    with open(log, "ab") as f:
        f.write(b"".join(LINES[written:]))
    pump()
    runner.processor.commit(runner.engine.flush())
    runner.save_snapshot()
    runner.pipeline.close()
    runner.snapshots.close()
    ids = {a.id for a in store.query(AlertQuery(limit=10_000))}
    store.close()
    return ids


@CASES
@given(st.lists(st.tuples(st.sampled_from(["write", "write", "rotate", "restart"]),
                          st.integers(1, 250)), min_size=1, max_size=6))
def test_rotating_and_restarting_run_anywhere_gives_the_same_alerts(
        steps: list[tuple[str, int]]) -> None:
    with folder() as tmp:
        assert run_in_steps(tmp, steps) == set(CLEAN)


# -- hostile values ------------------------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    HOSTILE_TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3), st.text(max_size=50),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2030-01-01T00:00:00",
                     "1e308", "NaN", "2026-02-30T00:00:00Z", "-1"]))
FIELDS = ["@timestamp", "event.action", "user.id", "patient.id", "his.record_count",
          "source.ip", "host.name", "user.roles", "organization.id"]


@CASES
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), HOSTILE_VALUES, max_size=6),
                min_size=1, max_size=20))
def test_hostile_field_values_never_crash_and_are_accounted_for(docs: list[dict[str, Any]]
                                                                ) -> None:
    lines = []
    for d in docs:
        try:
            lines.append(orjson.dumps(d) + b"\n")
        except (TypeError, orjson.JSONEncodeError):
            lines.append(repr(d).encode("utf-8", "backslashreplace") + b"\n")
    with folder() as tmp:
        path = write(tmp / "logs" / "access.log", [*LINES[:50], *lines, *LINES[50:100]])
        found = replay_alerts([path], tmp)
        report = found.pop("_report")
        dead = report.dead_letter_path
        entries = [orjson.loads(x) for x in dead.read_bytes().splitlines()] if dead else []
    assert report.events + sum(report.dead_letters.values()) == 100 + len(lines)
    assert all(e["reason"] for e in entries)
