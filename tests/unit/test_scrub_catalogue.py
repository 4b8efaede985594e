"""docs/rules.md is the generated catalogue, word for word."""

from __future__ import annotations

from pathlib import Path

from payers.catalogue import render_catalogue
from payers.registry import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_md_matches_the_registry() -> None:
    assert DOC.read_text(encoding="utf-8") == render_catalogue(), (
        "docs/rules.md is stale: run python -m payers.catalogue > docs/rules.md"
    )


def test_every_rule_is_documented() -> None:
    text = render_catalogue()
    for code, rule in RULES.items():
        assert f"`{code}`" in text
        assert rule.description and rule.failing_example
        assert 1 <= rule.snip_type <= 7
