"""Code lists: sources named, the codes the simulator uses are described, unknown codes kept."""

from __future__ import annotations

import ast
import sys
from importlib import resources
from pathlib import Path

import pytest

from edi.codes import UNKNOWN, describe, table

EDI = Path(__file__).resolve().parents[2] / "edi"


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("carc", "1 2 3 16 18 22 23 27 29 45 50 96 97 109 197 204 242 253"),
        ("rarc", "M15 M20 M51 MA04 MA130 N4 N20 N30 N95 N130 N362 N382 N519"),
        ("claim_status", "0 3 19 20 21 33 116 145 164 187 249 447 454 562"),
        ("claim_status_category", "A0 A1 A2 A3 A4 A5 A6 A7 A8 P0 P1 P2 P3 P4 F0 F1 F2 F4"),
        ("claim_payment_status", "1 2 3 4 19 20 21 22 23 25"),
        ("adjustment_group", "CO OA PI PR"),
        ("ik304", "1 2 3 4 5 6 7 8 I4 I6 I7 I8 I9"),
        ("ik403", "1 2 3 4 5 6 7 8 9 10 12 13 I6 I9 I10 I11 I12 I13"),
        ("ik501", "A E M R W X"),
        ("ak901", "A E M P R W X"),
        ("ta104", "A E R"),
        ("ta105", "000 001 002 005 006 024 025"),
    ],
)
def test_needed_codes_are_described(name: str, codes: str) -> None:
    known = table(name)
    for code in codes.split():
        assert known.get(code, "").strip(), f"{name} {code}"
        assert describe(name, code) == known[code]


def test_unknown_codes_read_as_unknown() -> None:
    assert describe("carc", "ZZZ") == UNKNOWN == describe("rarc", None)
    with pytest.raises(KeyError):
        table("no such table")


def test_every_code_file_names_its_source_and_is_well_formed() -> None:
    folder = resources.files("edi.codes")
    files = [f for f in folder.iterdir() if f.name.endswith(".tsv")]
    assert len(files) >= 8
    for f in files:
        lines = f.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# ")
        assert any("Source" in line for line in lines if line.startswith("#")), f.name
        for line in lines:
            if line and not line.startswith("#"):
                cells = line.split("\t")
                assert len(cells) in (2, 3) and all(c.strip() for c in cells), (f.name, line)


RESPONSE_MODULES = [
    "ack.py", "read_ack.py", "write_ack.py", "claim_ack.py", "read_277ca.py", "write_277ca.py",
    "remittance.py", "read_835.py", "write_835.py", "read_envelope.py", "x12_values.py",
    "codes/__init__.py",
]  # fmt: skip


@pytest.mark.parametrize("name", RESPONSE_MODULES)
def test_response_modules_are_pure_and_documented(name: str) -> None:
    tree = ast.parse((EDI / name).read_text())
    doc = ast.get_docstring(tree)
    assert doc and 1 <= len(doc.split("\n\n")[0].splitlines()) <= 3
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for module in names:
                top = (module or "").split(".")[0]
                assert top == "edi" or top in sys.stdlib_module_names, (name, module)
