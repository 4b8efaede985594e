"""The README opens with exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_two_commands_at_the_top() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("```sh") < text.index("\n## ")
    run, test = readme_commands()
    assert run.endswith("clearway serve")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci
