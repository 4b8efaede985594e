"""Duplicate edits: a reused patient control number, and likely duplicates of earlier claims.

The caller supplies the facts about earlier claims (PriorClaim). The fingerprint below is a
canonical string with PHI in it: the caller stores only a keyed hash of it, and passes that
hash back as ScrubContext.duplicate_key and PriorClaim.duplicate_key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from edi.claim import Claim, ServiceLine
from payers.registry import ScrubContext, Violation, rule

DEFAULT_LOOKBACK_DAYS = 90
_CENTS = Decimal("0.01")
FINGERPRINT_VERSION = "v1"  # bump when the fields below change: stored keys stop matching


def _money(amount: Decimal) -> str:
    return str(amount.quantize(_CENTS))


def _clean(text: str | None) -> str:
    return " ".join((text or "").upper().split())


def _line_fingerprint(line: ServiceLine) -> str:
    procedure = line.procedure
    code = ""
    if procedure is not None:
        code = _clean(procedure.code) + "".join("+" + m for m in procedure.modifiers)
    end = line.service_date_end or line.service_date
    revenue = line.revenue_code or ""
    return f"{revenue}/{code}@{line.service_date}..{end}={_money(line.charge)}"


def duplicate_fingerprint(claim: Claim) -> str:
    """A stable canonical string for likely-duplicate detection: the same patient, payer,
    dates of service, procedures (with modifiers) and charges give the same string, whatever
    the patient control number, line order, letter case or spacing."""
    person = claim.patient or claim.subscriber
    born = person.birth_date.isoformat() if person.birth_date else ""
    lines = sorted(_line_fingerprint(line) for line in claim.service_lines)
    parts = (
        FINGERPRINT_VERSION,
        claim.claim_type,
        _clean(claim.payer.payer_id),
        _clean(claim.subscriber.member_id),
        _clean(person.last_name),
        _clean(person.first_name),
        born,
        claim.statement_from.isoformat() if claim.statement_from else "",
        claim.statement_to.isoformat() if claim.statement_to else "",
        _money(claim.total_charge),
        ";".join(lines),
    )
    return "|".join(parts)


@rule(
    "DUPLICATE_CONTROL_NUMBER",
    snip_type=7,
    severity="error",
    description=(
        "The patient control number (CLM01) is not already used by an earlier claim of the same "
        "submitter, unless that claim was rejected (SCRUB_REJECTED, X12_REJECTED, "
        "PAYER_REJECTED) or FAILED. Corrections (frequency 7/8) need a new number too: "
        "responses are matched back to claims by it. SNIP has no type for cross-claim edits; "
        "filed under 7 as the submitter's agreement with the clearinghouse."
    ),
    failing_example='patient_control_number "PCN-2026-0004" already accepted',
)
def duplicate_control_number(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for prior in ctx.prior_claims:
        if prior.patient_control_number == claim.patient_control_number and not prior.was_rejected:
            yield (
                "/patient_control_number",
                f"patient_control_number is already used by claim {prior.claim_id} "
                f"({prior.status}); give each claim its own number.",
            )
            return


@rule(
    "LIKELY_DUPLICATE",
    snip_type=7,
    severity="warning",
    description=(
        "No earlier, not rejected claim received within the payer's look-back window "
        f"(duplicate_lookback_days, default {DEFAULT_LOOKBACK_DAYS}) has the same patient, "
        "payer, dates of service, procedures and charges under another patient control "
        "number. Replacements and voids are not checked."
    ),
    failing_example="the same office visit sent again as PCN-2026-0004B",
)
def likely_duplicate(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if not ctx.prior_claims or claim.frequency_code in ("7", "8"):
        return
    key = ctx.duplicate_key if ctx.duplicate_key is not None else duplicate_fingerprint(claim)
    days = ctx.profile.rules.duplicate_lookback_days if ctx.profile else DEFAULT_LOOKBACK_DAYS
    since = ctx.today - timedelta(days=days)
    matches = [
        prior
        for prior in ctx.prior_claims
        if prior.duplicate_key == key
        and prior.patient_control_number != claim.patient_control_number
        and not prior.was_rejected
        and prior.received_on >= since
    ]
    if not matches:
        return
    # One warning naming the latest match: a service billed thirty times gave thirty findings.
    latest = max(matches, key=lambda prior: prior.received_on)
    others = f" and {len(matches) - 1} earlier one(s)" if len(matches) > 1 else ""
    yield (
        "",
        f"this claim looks like a duplicate of claim {latest.claim_id} ({latest.status}, "
        f"received {latest.received_on}){others}: same patient, payer, dates, procedures and "
        "charges. Send it only if it is a separate service; to change that claim, send "
        "a replacement (frequency_code 7).",
    )
