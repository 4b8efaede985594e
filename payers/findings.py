"""Scrub findings: one problem with a claim, where it sits in the claim JSON, how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# WEDI SNIP edit types 1-7 (see the rule catalogue for what each covers).
SnipType = Literal[1, 2, 3, 4, 5, 6, 7]

BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class Finding:
    """One scrub result. An error blocks the claim; a warning is reported and the claim goes on."""

    code: str  # stable identifier, e.g. NPI_CHECK_DIGIT; listed in docs/rules.md
    severity: Severity
    snip_type: SnipType
    pointer: str  # RFC 6901 JSON pointer into the submitted claim JSON
    # What is wrong and how to fix it. Names no patient name, member id or birth date, but may
    # quote dates of service and codes: log the code, not the message.
    message: str
    source: str  # "baseline" or the id of the payer profile that owns the rule

    @property
    def blocks_claim(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "snip_type": self.snip_type,
            "pointer": self.pointer,
            "message": self.message,
            "source": self.source,
        }


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding blocks the claim."""
    return any(f.severity == "error" for f in findings)
