"""Writing the simulation out: canonical HIS JSON lines, context CSVs, ground truth.

Lines are assembled from pre-encoded byte fragments (each user, each workstation, each
minute's timestamp prefix is encoded once with orjson, which also does the escaping), so
a million events take seconds rather than minutes. Field order in a line is fixed:
``@timestamp, event, user, source, host, patient, his, organization``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from simulator.clock import Clock
from simulator.departments import Workstation
from simulator.hospital import Account
from simulator.traffic import Row

_SECONDS = [b"%02d" % s for s in range(60)]
_PATIENT_OPEN = b',"patient":{"id":"'
_PATIENT_CLOSE = b'"}'
_CHUNK = 20_000


class LineEncoder:
    """Turns a :data:`Row` into one canonical JSON line (with its newline)."""

    def __init__(self, organization_id: str, clock: Clock) -> None:
        self._zone = clock.zone
        self._minutes: dict[int, tuple[bytes, bytes]] = {}
        self._users: dict[Account, bytes] = {}
        self._hosts: dict[Workstation, bytes] = {}
        self._actions = {
            a: b'","event":' + orjson.dumps(
                {"action": a, "outcome": "failure" if a == "login_failed" else "success"})
            for a in ("login", "login_failed", "logout", "search", "view", "print", "export",
                      "update")
        }
        self._modules: dict[str, bytes] = {}
        self._tail = b'},"organization":' + orjson.dumps({"id": organization_id}) + b"}\n"

    def _minute(self, m: int) -> tuple[bytes, bytes]:
        local = datetime.fromtimestamp(m * 60, self._zone)
        iso = local.isoformat()  # 2026-11-16T08:15:00+07:00
        entry = (b'{"@timestamp":"' + iso[:17].encode(), iso[19:].encode())
        self._minutes[m] = entry
        return entry

    def _user(self, a: Account) -> bytes:
        frag = b',"user":' + orjson.dumps(
            {"id": a.user_id, "name": a.name, "roles": [a.role], "department": a.department})
        self._users[a] = frag
        return frag

    def _host(self, ws: Workstation) -> bytes:
        frag = (b',"source":' + orjson.dumps({"ip": ws.ip})
                + b',"host":' + orjson.dumps({"name": ws.name}))
        self._hosts[ws] = frag
        return frag

    def _module(self, module: str) -> bytes:
        frag = self._modules[module] = b',"his":{"module":' + orjson.dumps(module) + \
            b',"record_count":'
        return frag

    def encode(self, row: Row) -> bytes:
        t, acct, action, pid, module, count, ws = row
        m = t // 60
        pre, suf = self._minutes.get(m) or self._minute(m)
        return b"".join((
            pre, _SECONDS[t - m * 60], suf, self._actions[action],
            self._users.get(acct) or self._user(acct),
            self._hosts.get(ws) or self._host(ws),
            _PATIENT_OPEN + pid.encode() + _PATIENT_CLOSE if pid else b"",
            self._modules.get(module) or self._module(module),
            b"%d" % count, self._tail,
        ))


def write_log(path: Path, rows: Sequence[Row], encoder: LineEncoder,
              progress: Callable[[int], None] | None = None) -> int:
    """Write ``rows`` (already in time order) as JSON lines; returns the number written."""
    encode = encoder.encode
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i:i + _CHUNK]
            f.write(b"".join([encode(r) for r in chunk]))
            if progress is not None:
                progress(len(chunk))
    return len(rows)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_json(path: Path, doc: Any) -> None:
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
