"""Rules an admin switched off, kept in ``<state_dir>/rules-state.json``.

The API writes the file (``PUT /rules/{rule_id}/enabled``); the engine reads it when it
loads or reloads the rules and evaluates no rule listed under ``disabled``. A rule stays
in its pack untouched: switching it back on is removing it from the list. Who switched it
off, when and why are kept beside it::

    {"version": 1,
     "disabled": {"phiwatch-his-off-shift-access":
                    {"at": "2026-11-22T02:00:00+00:00", "by": "admin-lan",
                     "comment": "roster not loaded yet"}}}

Writers take an exclusive lock on ``rules-state.json.lock`` and replace the file
atomically (write a temporary file, fsync, rename), so a reader sees the old or the new
state, never half of one. A missing file means every rule is on.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sensors.errors import PhiwatchError

VERSION = 1


class RulesStateError(PhiwatchError):
    """The rules-state file cannot be read (not JSON, wrong shape)."""


@dataclass(frozen=True, slots=True)
class Disabled:
    at: datetime
    by: str
    comment: str

    def to_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "by": self.by, "comment": self.comment}


@dataclass(frozen=True, slots=True)
class RulesState:
    disabled: dict[str, Disabled] = field(default_factory=dict)

    def enabled(self, rule_id: str) -> bool:
        return rule_id not in self.disabled

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION,
                "disabled": {k: v.to_dict() for k, v in sorted(self.disabled.items())}}


def load_rules_state(path: Path) -> RulesState:
    """The state in ``path`` (every rule on when there is no file)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return RulesState()
    except OSError as e:
        raise RulesStateError(f"cannot read the rules state: {e.strerror}",
                              file=str(path)) from e
    try:
        data = orjson.loads(raw)
        disabled = {
            str(rule_id): Disabled(datetime.fromisoformat(v["at"]), str(v["by"]),
                                   str(v.get("comment", "")))
            for rule_id, v in data["disabled"].items()
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise RulesStateError("the rules state is not what phiwatch writes; remove the "
                              "file to switch every rule on", file=str(path)) from e
    return RulesState(disabled)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


def set_enabled(path: Path, rule_id: str, enabled: bool, by: str, comment: str,
                at: datetime | None = None) -> RulesState:
    """Switch one rule on or off and return the new state (idempotent)."""
    with _locked(path):
        state = load_rules_state(path)
        disabled = dict(state.disabled)
        if enabled:
            disabled.pop(rule_id, None)
        elif rule_id not in disabled:
            disabled[rule_id] = Disabled((at or datetime.now(UTC)).astimezone(UTC), by,
                                         comment)
        new = RulesState(disabled)
        fd, tmp = tempfile.mkstemp(prefix=".rules-state.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(new.to_dict(), option=orjson.OPT_INDENT_2))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return new
