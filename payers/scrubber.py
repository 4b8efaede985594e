"""The scrub entry point: run every baseline edit and the payer's edits over one claim."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from edi.claim import Claim

# Imported for their side effect: each module registers its rules in the registry.
from payers import (  # noqa: F401
    addresses,
    balancing,
    codesets,
    dates,
    duplicates,
    identifiers,
    limits,
    payer_rules,
    routing,
    situational,
)
from payers.findings import BASELINE, Finding
from payers.prior_claims import PriorClaim
from payers.profile import PayerProfile
from payers.registry import RULES, Rule, ScrubContext

BASELINE_RULES: tuple[Rule, ...] = tuple(r for r in RULES.values() if r.scope == "baseline")
PAYER_RULES: tuple[Rule, ...] = tuple(r for r in RULES.values() if r.scope == "payer")


def scrub(
    claim: Claim,
    profile: PayerProfile | None,
    *,
    today: date,
    prior_claims: Iterable[PriorClaim] = (),
    originals: Iterable[PriorClaim] | None = None,
    duplicate_key: str | None = None,
    payer_known: bool | None = None,
) -> tuple[Finding, ...]:
    """All findings for a claim: baseline edits, then the profile's payer edits.

    today is the scrub date (no clock is read here). prior_claims are the submitter's earlier
    claims; originals, for a replacement or void, are the submitter's claims to this payer
    that the payer knows by its payer_claim_number (None: not looked up); duplicate_key is the
    stored form of duplicate_fingerprint(claim) (e.g. its keyed
    hash) to compare with theirs, and defaults to the fingerprint itself. Without a profile
    only the baseline edits run; payer_known=False says the caller has no profile for the
    claim's payer id at all, which is itself an error (the claim cannot be routed).
    """
    ctx = ScrubContext(
        today=today,
        profile=profile,
        prior_claims=tuple(prior_claims),
        originals=None if originals is None else tuple(originals),
        duplicate_key=duplicate_key,
        payer_known=payer_known,
    )
    findings: list[Finding] = []
    for rule in BASELINE_RULES:
        for where, message in rule.check(claim, ctx):
            findings.append(
                Finding(rule.code, rule.severity, rule.snip_type, where, message, BASELINE)
            )
    if profile is not None:
        source = profile.payer_id
        for rule in PAYER_RULES:
            for where, message in rule.check(claim, ctx):
                findings.append(
                    Finding(rule.code, rule.severity, rule.snip_type, where, message, source)
                )
    return tuple(findings)
