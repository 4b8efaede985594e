"""payers/ imports only the standard library, edi (model types), itself and simple_icd_10_cm."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PAYERS = Path(__file__).resolve().parents[2] / "payers"
ALLOWED = {"edi", "payers", "simple_icd_10_cm"} | set(sys.stdlib_module_names)
# The payer simulator (an aiohttp app) will live in payers/ too; it is the one exception.
SIMULATOR = {"simulator"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_payers_rules_import_nothing_forbidden() -> None:
    checked = 0
    for path in PAYERS.rglob("*.py"):
        if SIMULATOR & set(path.relative_to(PAYERS).with_suffix("").parts):
            continue
        forbidden = _imports(path) - ALLOWED
        assert not forbidden, f"{path.name} imports {sorted(forbidden)}"
        checked += 1
    assert checked > 5
