"""Micro-benchmark of the record parsers: lines per second on one core.

Generates typical canonical HIS access-log lines (about 350 bytes, varied users, patients
and times) in memory and times ``EcsJsonParser.parse`` over them, beside the floor that no
JSON-lines parser can beat (``orjson.loads`` alone, in the same run) and the CSV and FHIR
parsers for comparison. The target for JSON is 150,000 lines/s.

    .venv/bin/python bench/parse_micro.py [--lines 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sensors.parsers import (
    CsvParserConfig,
    FhirParserConfig,
    JsonParserConfig,
    parser_for,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ACTIONS = ["view"] * 14 + ["search"] * 4 + ["print", "update", "login", "logout", "export"]
ROLES = ["nurse", "doctor", "midwife", "pharmacist", "receptionist"]
DEPTS = ["san-a", "san-b", "so-sinh", "kham-benh", "hiem-muon", "cap-cuu"]
NAMES = ["Nguyễn Thị Lan", "Trần Văn Bình", "Lê Thị Hồng Nhung", "Phạm Minh Tuấn"]


def json_lines(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    t = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        t += timedelta(milliseconds=rng.randint(1, 900))
        user = rng.randint(1, 2000)
        doc = {
            "@timestamp": t.astimezone(HCM).isoformat(timespec="milliseconds"),
            "event": {"action": rng.choice(ACTIONS), "outcome": "success"},
            "user": {"id": f"nv{user:05d}", "name": rng.choice(NAMES),
                     "roles": [ROLES[user % 5]], "department": DEPTS[user % 6]},
            "source": {"ip": f"10.20.{user % 40}.{user % 250}"},
            "host": {"name": f"WS-{DEPTS[user % 6].upper()}-{user % 30:02d}"},
            "patient": {"id": f"BN2026{rng.randint(0, 999_999):06d}"},
            "his": {"module": "emr", "record_count": 1},
            "organization": {"id": "tu-du"},
        }
        if i % 3 == 0:  # some producers write dotted keys
            doc["event.id"] = f"his-{i:012d}"
        out.append(orjson.dumps(doc))
    return out


def csv_lines(lines: list[bytes]) -> list[bytes]:
    out = [b"THOI_GIAN,MA_NV,THAO_TAC,MA_BN,IP,SO_HS"]
    for line in lines:
        d = orjson.loads(line)
        out.append(",".join([d["@timestamp"], d["user"]["id"], d["event"]["action"].upper(),
                             d["patient"]["id"], d["source"]["ip"], "1"]).encode())
    return out


def fhir_lines(lines: list[bytes]) -> list[bytes]:
    out = []
    for line in lines:
        d = orjson.loads(line)
        out.append(orjson.dumps({
            "resourceType": "AuditEvent",
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                     "code": "rest"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
            "action": "R", "recorded": d["@timestamp"], "outcome": "0",
            "agent": [{"who": {"reference": f"Practitioner/{d['user']['id']}"},
                       "requestor": True, "network": {"address": d["source"]["ip"],
                                                      "type": "2"}}],
            "source": {"observer": {"display": "HIS"}},
            "entity": [{"what": {"reference": f"Patient/{d['patient']['id']}"}}],
        }))
    return out


def rate(label: str, fn: Callable[[bytes, str], object], lines: list[bytes], repeat: int) -> float:
    """Lines per second of CPU time (one core; robust to a busy machine), best of ``repeat``.

    Wall-clock rate is printed beside it: on an idle machine the two agree.
    """
    cpu = wall = float("inf")
    for _ in range(repeat):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        for line in lines:
            fn(line, "bench.log:1")
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    per_s = len(lines) / cpu
    print(f"{label:<38} {per_s:>12,.0f} lines/s CPU {len(lines) / wall:>12,.0f} lines/s wall")
    return per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    lines = json_lines(args.lines)
    avg = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} lines, {avg:.0f} bytes on average; best of {args.repeat}")
    floor = rate("orjson.loads only (the floor)", lambda b, r: orjson.loads(b), lines, args.repeat)
    json_parser = parser_for(JsonParserConfig(), Path("bench.log"))
    ours = rate("phiwatch json", json_parser.parse, lines, args.repeat)
    print(f"{'':<38} {ours / floor:>12.0%} of the floor; target 150,000 lines/s: "
          f"{'met' if ours >= 150_000 else 'NOT met'}")
    csv_cfg = CsvParserConfig(
        format="csv",
        columns={"THOI_GIAN": "@timestamp", "MA_NV": "user.id", "THAO_TAC": "event.action",
                 "MA_BN": "patient.id", "IP": "source.ip", "SO_HS": "his.record_count"},
        values={"event.action": {a.upper(): a for a in set(ACTIONS)}},
    )
    csv_parser = parser_for(csv_cfg, Path("bench.csv"))
    csv_in = csv_lines(lines)
    csv_parser.parse(csv_in[0], "bench.csv:1")
    rate("phiwatch csv", csv_parser.parse, csv_in[1:], args.repeat)
    rate("phiwatch fhir (AuditEvent per line)", parser_for(FhirParserConfig(format="fhir")).parse,
         fhir_lines(lines), args.repeat)


if __name__ == "__main__":
    main()
