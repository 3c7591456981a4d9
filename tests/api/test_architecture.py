"""The API's door: ``api/`` reaches ``alerting`` and ``rules`` only through
``phiwatch.service`` (docs/architecture.md), and ``sensors`` only for the error root."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).parents[2] / "api"
ALLOWED_FIRST_PARTY = ("api", "phiwatch")
ALLOWED_MODULES = {"sensors.errors"}
FIRST_PARTY = ("api", "phiwatch", "sensors", "rules", "alerting", "simulator")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_api_imports_alerting_and_rules_only_through_the_service() -> None:
    wrong: list[str] = []
    for path in sorted(API.rglob("*.py")):
        for module in imports(path):
            root = module.split(".")[0]
            if root not in FIRST_PARTY or root in ALLOWED_FIRST_PARTY:
                continue
            if module not in ALLOWED_MODULES:
                wrong.append(f"{path.relative_to(API.parent)}: {module}")
    assert not wrong, wrong


def test_no_api_module_is_overlong() -> None:
    long = {p.name: n for p in API.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
