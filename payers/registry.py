"""The rule registry: every edit with its code, SNIP type, severity and documentation.

Rule modules register their checks here at import; the scrubber runs them and the catalogue
(docs/rules.md) is generated from the same entries, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from edi.claim import Claim
from payers.findings import Severity, SnipType
from payers.prior_claims import PriorClaim
from payers.profile import PayerProfile

Scope = Literal["baseline", "payer"]

# What a check yields: (JSON pointer, message). The scrubber adds code, severity and source.
Violation = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ScrubContext:
    """Everything a rule may look at besides the claim; all of it supplied by the caller."""

    today: date
    profile: PayerProfile | None = None
    prior_claims: tuple[PriorClaim, ...] = ()
    # For a replacement or void: the submitter's own claims to this payer that the payer knows
    # by its payer_claim_number (REF*F8); None when the caller did not look them up.
    originals: tuple[PriorClaim, ...] | None = None
    duplicate_key: str | None = None  # the stored form of this claim's duplicate fingerprint
    # False when the caller looked the claim's payer id up and found no profile (so the claim
    # cannot be routed); None when the caller did not look.
    payer_known: bool | None = None
    # Work one scrub shares between rules (e.g. the walk over the claim's strings), keyed by
    # name with the claim it was computed from. Lives and dies with the scrub.
    memo: dict[str, tuple[Claim, Any]] = field(default_factory=dict, compare=False, repr=False)


Check = Callable[[Claim, ScrubContext], Iterable[Violation]]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    snip_type: SnipType
    severity: Severity
    scope: Scope  # baseline: every claim; payer: parameterised by the payer profile
    description: str
    failing_example: str  # a value that makes the rule fire, for the catalogue
    check: Check


RULES: dict[str, Rule] = {}


def rule(
    code: str,
    *,
    snip_type: SnipType,
    severity: Severity,
    description: str,
    failing_example: str,
    scope: Scope = "baseline",
) -> Callable[[Check], Check]:
    """Register a check under a stable code; the code must be new."""

    def register(check: Check) -> Check:
        if code in RULES:
            raise ValueError(f"rule code {code} registered twice")
        RULES[code] = Rule(code, snip_type, severity, scope, description, failing_example, check)
        return check

    return register
