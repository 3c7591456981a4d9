"""Loading Sigma rule files into a ``RuleSet``, and reporting the broken ones.

Every ``.yml``/``.yaml`` file under the given folders is parsed with pySigma (several rules
per file allowed). A broken rule — bad YAML, invalid Sigma, an unsupported modifier, a
correlation whose reference cannot be resolved — becomes a ``RuleError`` naming the file,
the rule and the reason, and the other rules load as usual: one typo in one rule must not
switch the whole monitor off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from rules import strict_yaml
from rules.build import (
    BuildError,
    Pending,
    build_correlation,
    build_detection,
    rule_id,
    rule_label,
    sigma_message,
)
from rules.chain import stand_in
from rules.model import CorrelationRule, DetectionRule
from rules.taxonomy import to_phiwatch_fields

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem with one rule file or rule. ``rule`` is the title (or id), if known."""

    path: str
    rule: str | None
    message: str
    level: Literal["error", "warning"] = "error"

    @property
    def is_error(self) -> bool:
        """Errors fail ``phiwatch rules validate``; warnings (rule not evaluated) do not."""
        return self.level == "error"

    def __str__(self) -> str:
        who = f" rule '{self.rule}':" if self.rule else ""
        return f"{self.path}: {self.level}:{who} {self.message}"


@dataclass
class RuleSet:
    """The rules that compiled, and what went wrong with the others."""

    detections: list[DetectionRule] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    @property
    def rules(self) -> list[DetectionRule | CorrelationRule]:
        return [*self.detections, *self.correlations]

    def __len__(self) -> int:
        return len(self.detections) + len(self.correlations)


_Parsed = tuple[str, SigmaRule | SigmaCorrelationRule]


def rule_files(paths: Iterable[str | Path], errors: list[RuleError]) -> list[Path]:
    """Rule files under ``paths`` (files are taken as given), sorted for a stable order."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*")
                                if f.suffix.lower() in RULE_SUFFIXES and f.is_file()))
        elif p.is_file():
            found.append(p)
        else:
            errors.append(RuleError(str(p), None, "no such file or folder"))
    return found


def parse_file(path: Path, errors: list[RuleError]) -> list[_Parsed]:
    """The valid Sigma rules of one file; the invalid ones are reported to ``errors``."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        errors.append(RuleError(name, None, f"cannot read: {e}"))
        return []
    try:
        strict_yaml.check_all(text)  # pySigma's safe_load keeps the last of two equal keys
        collection = SigmaCollection.from_yaml(
            text, collect_errors=True, source=SigmaRuleLocation(path), resolve_references=False
        )
    except yaml.YAMLError as e:
        errors.append(RuleError(name, None, f"invalid YAML: {_yaml_message(e)}"))
        return []
    except (SigmaError, TypeError, ValueError, AttributeError) as e:
        errors.append(RuleError(name, None, f"invalid Sigma: {sigma_message(e)}"))
        return []
    attached = {id(err) for r in collection.rules for err in r.errors}
    for err in collection.errors:  # errors of the file, not of one rule (e.g. bad action)
        if id(err) not in attached:
            errors.append(RuleError(name, None, sigma_message(err)))
    good: list[_Parsed] = []
    for rule in collection.rules:
        if rule.errors:
            reasons = "; ".join(dict.fromkeys(sigma_message(err) for err in rule.errors))
            errors.append(RuleError(name, rule_label(rule), reasons))
        else:
            good.append((name, rule))
    return good


def _yaml_message(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    return f"{problem} at line {mark.line + 1}" if mark is not None else problem


def load_rules(paths: Iterable[str | Path]) -> RuleSet:
    """Load, validate and compile every rule under ``paths``."""
    errors: list[RuleError] = []
    parsed = [r for f in rule_files(paths, errors) for r in parse_file(f, errors)]
    parsed = _drop_duplicates(parsed, errors)
    collection = SigmaCollection([r for _, r in parsed], resolve_references=False)

    def report(path: str, rule: SigmaRule | SigmaCorrelationRule, message: str,
               warning: bool = False) -> None:
        errors.append(RuleError(path, rule_label(rule), message,
                                "warning" if warning else "error"))

    # Building blocks referenced by a correlation do not alert alone unless it says
    # `generate: true`; decided from the rules as written, even if the correlation is broken.
    referenced: dict[str, bool] = {}
    for _, rule in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            for ref in rule.rules or []:
                referenced[ref.reference] = referenced.get(ref.reference, False) or rule.generate
    ruleset = RuleSet(errors=errors)
    compiled: dict[int, DetectionRule] = {}
    for path, rule in parsed:
        if not isinstance(rule, SigmaRule):
            continue
        keys = [k for k in (str(rule.id) if rule.id else None, rule.name) if k]
        alerts = all(referenced.get(k, True) for k in keys)
        try:
            to_phiwatch_fields(rule)  # community (Sigma taxonomy) field names → ECS
            det, warnings = build_detection(rule, path, alerts)
        except BuildError as e:
            report(path, rule, str(e), e.warning)
            continue
        for w in warnings:
            report(path, rule, w, warning=True)
        compiled[id(rule)] = det
        ruleset.detections.append(det)
    pending: list[_Parsed] = []
    for path, rule in parsed:
        if not isinstance(rule, SigmaCorrelationRule):
            continue
        try:
            rule.resolve_rule_references(collection)
        except SigmaError as e:
            report(path, rule, f"{sigma_message(e)} (the referenced rule is missing, "
                               "or was not loaded because of an error)")
            continue
        try:
            to_phiwatch_fields(rule)  # its group-by, now that its logsources are known
        except BuildError as e:
            report(path, rule, str(e), e.warning)
            continue
        pending.append((path, rule))
    # A correlation referencing correlations is built after them; rounds until none
    # progresses, so their order in the files does not matter.
    chained: dict[int, DetectionRule] = {}
    while pending:
        waiting: list[tuple[_Parsed, Pending]] = []
        for path, rule in pending:
            assert isinstance(rule, SigmaCorrelationRule)
            keys = [k for k in (str(rule.id) if rule.id else None, rule.name) if k]
            alerts = all(referenced.get(k, True) for k in keys)
            try:
                corr, warnings = build_correlation(rule, path, compiled, chained,
                                                   alerts=alerts)
            except Pending as wait:
                waiting.append(((path, rule), wait))
                continue
            except BuildError as e:
                report(path, rule, str(e), e.warning)
                continue
            for w in warnings:
                report(path, rule, w, warning=True)
            for base in corr.bases:
                base.correlations.append(corr)
            ruleset.correlations.append(corr)
            chained[id(rule)] = stand_in(corr)
        if len(waiting) == len(pending):  # nothing built this round: missing or a cycle
            for (path, rule), why in waiting:
                report(path, rule, f"{why} or is part of a reference cycle", warning=True)
            break
        pending = [p for p, _ in waiting]
    return ruleset


def _drop_duplicates(parsed: list[_Parsed], errors: list[RuleError]) -> list[_Parsed]:
    """A second rule with an id or name already taken is refused: alert ids would collide."""
    seen: dict[str, str] = {}
    kept: list[_Parsed] = []
    for path, rule in parsed:
        keys = {k for k in (str(rule.id) if rule.id else None, rule.name) if k}
        clash = next((k for k in sorted(keys) if k in seen), None)
        if clash is not None:
            errors.append(RuleError(path, rule_label(rule),
                                    f"id or name '{clash}' is already used in {seen[clash]}"))
            continue
        for k in keys:
            seen[k] = path
        kept.append((path, rule))
    return kept






__all__ = [
    "RuleError",
    "RuleSet",
    "load_rules",
    "rule_id",
]
