"""``phiwatch context check``: what the hospital's files and logs say that phiwatch does
not understand, and what each gap switches off.

A new installation meets the hospital's own words — roles, departments, shift and status
words — and its logs may name people the roster does not. None of that stops phiwatch (an
unknown word costs one field, never a file), but each gap silences some rule for some
people, and the IT engineer should see which, and the line of configuration that closes
it. The check reads the configured context files and, optionally, some log files through
the same pipeline as ``replay``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from phiwatch.config import Config
from sensors.context import Context
from sensors.context.vocabulary import DEPARTMENT_CLASSES, ROLE_CLASSES

#: At most this many log events are read per file (enough to see its vocabulary).
SAMPLE_EVENTS = 200_000


@dataclass(frozen=True, slots=True)
class Gap:
    """One thing phiwatch did not understand: where, the value, how often, what it costs
    and the configuration that closes it."""

    where: str
    value: str
    count: int
    costs: str
    fix: str


@dataclass
class ContextReport:
    files: dict[str, str] = field(default_factory=dict)  # kind → one-line status
    gaps: list[Gap] = field(default_factory=list)
    events_read: int = 0
    users_in_logs: int = 0

    @property
    def ok(self) -> bool:
        return not self.gaps and all(s.startswith("loaded") for s in self.files.values())


_SHIFT_COST = ("no off-shift check for them (phiwatch-his-off-shift-access)")
_STATUS_COST = ("their account is judged by its end date alone: a disabled account without "
                "one is not seen (phiwatch-his-terminated-account)")
_DATE_COST = "no end date: activity after they left is not seen (terminated-account)"
_ROLE_COST = ("no role class: maternity records in bulk (non-clinical roles) and the peer "
              "groups of the volume rules do not include them")
_DEPARTMENT_COST = ("no department class: if it serves every ward (laboratory, imaging, "
                    "pharmacy, cashier, registration), its staff's routine work counts as "
                    "access without a care relationship")


def check_context(config: Config, logs: Sequence[Path] = ()) -> ContextReport:
    """Load the context files and read ``logs``; every gap with its cost and fix."""
    report = ContextReport()
    context = Context(config.context, config.timezone) if config.context.files() else None
    if context is not None:
        context.load_all()
        for kind, st in context.status.items():
            if st.last_error:
                report.files[kind] = f"REJECTED: {st.last_error}"
            else:
                report.files[kind] = (f"loaded: {st.used} of {st.rows} rows used"
                                      + (f", {st.bad_rows} skipped" if st.bad_rows else ""))
        roster_status = context.status.get("roster")
        if roster_status is not None:
            _roster_gaps(report, str(roster_status.path), roster_status.unknown)
        _vocabulary_gaps(report, context)
    if logs:
        _log_gaps(report, config, context, logs)
    return report


def _roster_gaps(report: ContextReport, path: str, unknown: dict[str, dict[str, int]]) -> None:
    fixes = {"shift": ("shift", _SHIFT_COST, "context.shifts: {{{v!r}: \"HH:MM-HH:MM\"}} "
                       "(or a rotating schedule: leave it; rotating words are known)"),
             "status": ("status", _STATUS_COST, "use one of active, on_leave, disabled, "
                        "terminated, suspended, locked, inactive, left, resigned, retired"),
             "end_date": ("end date", _DATE_COST, "write it as YYYY-MM-DD")}
    for column, values in unknown.items():
        what, cost, fix = fixes.get(column, (column, "that field is left out", "correct it"))
        for value, rows in sorted(values.items(), key=lambda kv: -kv[1]):
            report.gaps.append(Gap(f"{path}: {what}", value, rows, cost,
                                   fix.format(v=value)))


def _vocabulary_gaps(report: ContextReport, context: Context) -> None:
    vocab = context.vocabulary
    roles: Counter[str] = Counter()
    departments: Counter[str] = Counter()
    for staff in context.roster.staff.values():
        if staff.roles and vocab.roles_class(staff.roles) is None:
            roles.update(staff.roles)
        if staff.department and vocab.department_class(staff.department) is None:
            departments[staff.department] += 1
    where = str(context.status["roster"].path) if "roster" in context.status else "roster"
    _word_gaps(report, f"{where}: role", roles, _ROLE_COST, "roles", ROLE_CLASSES)
    _word_gaps(report, f"{where}: department", departments, _DEPARTMENT_COST, "departments",
               DEPARTMENT_CLASSES, names=True)


def _word_gaps(report: ContextReport, where: str, words: Counter[str], cost: str, key: str,
               classes: Sequence[str], *, names: bool = False) -> None:
    for word, n in words.most_common():
        fix = f"context.vocabulary.{key}: {{{word!r}: <{' | '.join(classes)}>}}"
        if names:
            fix += (f", or give its full name: context.vocabulary.department_names: "
                    f"{{{word!r}: \"Khoa …\"}}")
        report.gaps.append(Gap(where, word, n, cost, fix))


def _log_gaps(report: ContextReport, config: Config, context: Context | None,
              logs: Sequence[Path]) -> None:
    from phiwatch.replay import replay_events

    with tempfile.TemporaryDirectory(prefix="phiwatch-context-check-") as tmp:
        events, _ = replay_events(config, list(logs), Path(tmp) / "dead.ndjson")
    events = events[:SAMPLE_EVENTS * max(1, len(logs))]
    report.events_read = len(events)
    users: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    departments: Counter[str] = Counter()
    roster = context.roster if context is not None else None
    vocab = context.vocabulary if context is not None else None
    for e in events:
        f = e.fields
        uid = f.get("user.id")
        if not isinstance(uid, str) or not f.get("event.dataset", "").startswith("his."):
            continue
        users[uid] += 1
        if roster is not None and roster.loaded and uid not in roster.staff:
            missing[uid] += 1
        if vocab is not None and "phiwatch.user.role_class" not in f and f.get("user.roles"):
            role_words = f["user.roles"]
            roles.update(role_words if isinstance(role_words, list) else [str(role_words)])
        if vocab is not None and "phiwatch.user.department_class" not in f \
                and isinstance(f.get("user.department"), str):
            departments[f["user.department"]] += 1
    report.users_in_logs = len(users)
    for uid, n in missing.most_common(50):
        report.gaps.append(Gap("logs: user not in the roster", uid, n,
                               "no role, department, shift or status for their events: "
                               "terminated-account, off-shift, vendor and care-relationship "
                               "rules cannot judge them",
                               "add them to the roster (a shared or service account too)"))
    _word_gaps(report, "logs: role", roles, _ROLE_COST, "roles", ROLE_CLASSES)
    _word_gaps(report, "logs: department", departments, _DEPARTMENT_COST, "departments",
               DEPARTMENT_CLASSES, names=True)
