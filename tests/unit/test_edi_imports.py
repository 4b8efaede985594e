"""edi/ is a pure library: stdlib, pyx12 and itself only; only edi/validate.py imports pyx12."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

EDI = Path(__file__).resolve().parents[2] / "edi"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("edi")
            elif node.module:
                names.add(node.module.split(".")[0])
    return names


def test_edi_imports_only_stdlib_pyx12_and_itself() -> None:
    files = sorted(EDI.glob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            allowed = name in sys.stdlib_module_names or name in ("edi", "__future__")
            allowed = allowed or (name == "pyx12" and path.name == "validate.py")
            assert allowed, f"{path.name} imports {name}"
    assert "pyx12" in _imports(EDI / "validate.py")
