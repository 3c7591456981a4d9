"""Hot reload: a new rule set replaces the old one without a restart, keeping what it can.

Editing one rule must not cost the windows, episodes and baselines of all the others, nor
let a typo switch a rule off. ``merge`` builds the rule set the engine runs after a
reload:

- every rule of the new set that loaded;
- for each file with an error in the new set, the rules of the previous set from that file
  that the new set lacks keep their last good version ("held"), so a broken edit leaves
  the monitor as it was until the file is fixed.

The engine then keeps the state of the rules whose id and digest (the rule as written, and
for a correlation its base rules too) are unchanged, starts afresh for changed and new
ones, and drops the state of removed ones. ``ReloadReport`` says which is which.

A held correlation counts the matches of its base rules as they load now: if a base rule
was edited in the same reload, the held correlation keeps its windows but counts with the
edited base. ``merge`` rewires ``DetectionRule.correlations`` of the new rule set in place:
the engine owns the rule set it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.loader import RuleError, RuleSet


@dataclass
class ReloadReport:
    """What a reload did, by rule id (each list sorted)."""

    #: Unchanged: windows, episodes, baselines and realert memory kept.
    kept: list[str] = field(default_factory=list)
    #: Definition changed: state started afresh.
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    #: No longer in the rule files: state dropped.
    removed: list[str] = field(default_factory=list)
    #: Broken in the new files: the last good version still runs.
    held: list[str] = field(default_factory=list)
    #: The new rule set's errors and warnings.
    errors: list[RuleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No rule is broken in the new files."""
        return not any(e.is_error for e in self.errors)

    def __str__(self) -> str:
        parts = [f"{len(v)} {k}" + (f" ({', '.join(v)})" if v and k != "kept" else "")
                 for k, v in (("kept", self.kept), ("changed", self.changed),
                              ("added", self.added), ("removed", self.removed),
                              ("held", self.held))]
        text = "rules reloaded: " + ", ".join(parts)
        return "\n".join([text, *(str(e) for e in self.errors if e.is_error)])


def merge(old: RuleSet, new: RuleSet) -> tuple[RuleSet, ReloadReport]:
    """The rule set to run: ``new``, plus the last good version of rules broken in it."""
    broken = {e.path for e in new.errors if e.is_error}
    have = {r.id for r in new.rules}
    held_det = [d for d in old.detections if d.path in broken and d.id not in have]
    held_corr = [c for c in old.correlations if c.path in broken and c.id not in have]
    merged = RuleSet([*new.detections, *held_det], [*new.correlations, *held_corr],
                     list(new.errors))
    by_id = {d.id: d for d in merged.detections}
    for d in merged.detections:
        d.correlations = []
    for c in merged.correlations:
        for b in c.bases:
            target = by_id.get(b.id)
            if target is not None and c not in target.correlations:
                target.correlations.append(c)
    # A building block of a held correlation looks unreferenced in the new files (its
    # correlation failed to parse): it stays silent as it was.
    was_silent = {d.id for d in old.detections if not d.alerts}
    for c in held_corr:
        for b in c.bases:
            target = by_id.get(b.id)
            if target is not None and target.id in was_silent:
                target.alerts = False
    held = [d.id for d in held_det] + [c.id for c in held_corr]
    report = ReloadReport(held=sorted(held),
                          errors=list(new.errors))
    return merged, report


def finish(report: ReloadReport, old_digests: dict[str, str], merged: RuleSet) -> ReloadReport:
    """Fill in kept/changed/added/removed from the digests before and after."""
    now = {r.id: r.digest for r in merged.rules}
    held = set(report.held)
    report.kept = sorted(i for i, d in now.items() if old_digests.get(i) == d and i not in held)
    report.changed = sorted(i for i, d in now.items()
                            if i in old_digests and old_digests[i] != d)
    report.added = sorted(i for i in now if i not in old_digests)
    report.removed = sorted(i for i in old_digests if i not in now)
    return report
