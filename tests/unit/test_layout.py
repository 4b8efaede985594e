"""Import direction and style gates: edi/ and payers/ stay pure, and ruff is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)
ALLOWED = {
    "edi": {"edi", "pyx12"},
    "payers": {"edi", "payers", "simple_icd_10_cm"},
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# The payer simulator's HTTP shell is the one impure module of payers/ (see DESIGN).
SHELLS = {"payers/simulator/app.py": {"aiohttp"}}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_pure_packages_import_only_what_they_may(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        shell = SHELLS.get(path.relative_to(ROOT).as_posix(), set())
        forbidden = imports_of(path) - STDLIB - ALLOWED[package] - shell
        assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


@pytest.mark.parametrize(
    ("library", "owner"), [("pyx12", "edi/validate.py"), ("cryptography", "gateway/crypto.py")]
)
def test_one_module_owns_each_library(library: str, owner: str) -> None:
    users = {
        path.relative_to(ROOT).as_posix()
        for folder in ("gateway", "edi", "payers")
        for path in (ROOT / folder).rglob("*.py")
        if library in imports_of(path)
    }
    assert users <= {owner}


def test_every_module_opens_with_a_docstring() -> None:
    for folder in ("gateway", "edi", "payers", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            assert ast.get_docstring(ast.parse(path.read_text())), path.relative_to(ROOT)


@pytest.mark.skipif(
    shutil.which("ruff") is None and not Path(sys.executable).with_name("ruff").exists(),
    reason="ruff is not installed",
)
@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args: list[str]) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff) if ruff.exists() else "ruff", *args, "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
