"""Reading simulator output back, and the per-user measures the normal-traffic bounds use."""

from __future__ import annotations

import csv
import struct
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sensors.flows.pcapfile import Capture


@dataclass(frozen=True, slots=True)
class Line:
    """One log line, flattened to what the tests look at."""

    file: str
    t: float
    stamp: str
    action: str
    outcome: str
    user: str
    role: str
    department: str
    ip: str
    host: str
    patient: str | None
    module: str
    count: int


def read_log(path: Path) -> Iterator[Line]:
    with open(path, "rb") as f:
        for raw in f:
            e = orjson.loads(raw)
            yield Line(
                path.name, datetime.fromisoformat(e["@timestamp"]).timestamp(), e["@timestamp"],
                e["event"]["action"], e["event"]["outcome"], e["user"]["id"],
                e["user"]["roles"][0], e["user"]["department"], e["source"]["ip"],
                e["host"]["name"], e.get("patient", {}).get("id"), e["his"]["module"],
                e["his"]["record_count"],
            )


def read_all(out: Path) -> list[Line]:
    return [x for p in sorted((out / "his").glob("access-*.log")) for x in read_log(p)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def ground_truth(out: Path) -> list[dict[str, Any]]:
    doc = orjson.loads((out / "ground_truth.json").read_bytes())
    incidents: list[dict[str, Any]] = doc["incidents"]
    return incidents


def incident_window(inc: dict[str, Any]) -> tuple[float, float]:
    return (datetime.fromisoformat(inc["start"]).timestamp(),
            datetime.fromisoformat(inc["end"]).timestamp())


def normal_lines(lines: Iterable[Line], incidents: list[dict[str, Any]]) -> list[Line]:
    """Lines outside every incident: the incident user's events within its window go."""
    windows: dict[str, list[tuple[float, float]]] = {}
    for inc in incidents:
        a, b = incident_window(inc)
        windows.setdefault(inc["user.id"], []).append((a - 60, b + 60))
    return [x for x in lines
            if not any(a <= x.t <= b for a, b in windows.get(x.user, ()))]


def by_user(lines: Iterable[Line]) -> dict[str, list[Line]]:
    out: dict[str, list[Line]] = {}
    for x in lines:
        out.setdefault(x.user, []).append(x)
    return out


def max_distinct(points: list[tuple[float, str]], span: float) -> int:
    """Most distinct values in any window of ``span`` seconds (points in time order)."""
    best, window, counts = 0, deque[tuple[float, str]](), Counter[str]()
    for t, v in points:
        window.append((t, v))
        counts[v] += 1
        while window[0][0] <= t - span:
            _, old = window.popleft()
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
        best = max(best, len(counts))
    return best


def max_in_window(times: list[float], span: float) -> int:
    """Most events in any window of ``span`` seconds (times in order)."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - span:
            j += 1
        best = max(best, i - j + 1)
    return best


def patient_points(lines: list[Line]) -> list[tuple[float, str]]:
    """The (time, patient) pairs the bulk-lookup rule counts."""
    return [(x.t, x.patient) for x in lines
            if x.patient and x.action in ("view", "print", "export")]


#: The normal-traffic bounds the fixed-threshold rules rest on (``simulator`` docstring).
DISTINCT_PATIENTS_PER_HOUR = 80
VIEWS_PER_MINUTE = 12
NORMAL_EXPORT = 200
FAILED_LOGINS_PER_5_MIN = 3


def check_bounds(lines: list[Line]) -> dict[str, int]:
    """Assert the bounds on every user of ``lines`` (normal traffic); returns each role's
    peak of distinct patients in an hour."""
    peaks: dict[str, int] = defaultdict(int)
    for user, mine in by_user(lines).items():
        distinct = max_distinct(patient_points(mine), 3600)
        views = max_in_window([x.t for x in mine if x.action == "view"], 60)
        failed = max_in_window([x.t for x in mine if x.action == "login_failed"], 300)
        assert distinct < DISTINCT_PATIENTS_PER_HOUR, (user, distinct)
        assert views < VIEWS_PER_MINUTE, (user, views)
        assert failed <= FAILED_LOGINS_PER_5_MIN, (user, failed)
        role = mine[0].role
        peaks[role] = max(peaks[role], distinct)
    for x in lines:
        if x.action in ("export", "print"):
            assert x.count <= NORMAL_EXPORT, x
        if x.action == "search":
            assert x.count <= 50, x
    return peaks


def frames(path: Path) -> list[tuple[float, str, str, int, int, int]]:
    """(time, source, destination, protocol, wire length, captured length) per frame."""
    out = []
    with Capture(path) as cap:
        buf = cap.buf
        for ts, _, off, caplen, wirelen in cap.records():
            proto, src, dst = struct.unpack_from("!9xB2x4s4s", buf, off + 14)
            out.append((ts, ".".join(map(str, src)), ".".join(map(str, dst)), proto, wirelen,
                        caplen))
    return out
