"""Balancing edits (SNIP 3): claim total against its lines, and coordination-of-benefits amounts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from edi.claim import Adjustment, Claim
from payers.registry import ScrubContext, Violation, rule

_ZERO = Decimal(0)


def _adjusted(adjustments: tuple[Adjustment, ...]) -> Decimal:
    return sum((a.amount for a in adjustments), _ZERO)


@rule(
    "TOTAL_CHARGE_BALANCE",
    snip_type=3,
    severity="error",
    description="The claim total charge (CLM02) equals the sum of the line charges.",
    failing_example="total_charge 200.00 with lines of 150.00 and 75.00",
)
def total_charge_balance(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    lines = sum((line.charge for line in claim.service_lines), _ZERO)
    if lines != claim.total_charge:
        yield (
            "/total_charge",
            f"total_charge {claim.total_charge} does not equal the sum of the line charges "
            f"{lines}; correct the total or the line charges.",
        )


@rule(
    "COB_CLAIM_BALANCE",
    snip_type=3,
    severity="error",
    description=(
        "For each other payer that reports adjustments, the claim total charge less all its "
        "adjustments, claim level (loop 2320 CAS) and line level (its 2430 CAS), equals what "
        "it paid (2320 AMT*D). An adjustment reported at both levels counts twice."
    ),
    failing_example="other payer paid 90.00 with adjustments of 70.00 on a 150.00 claim",
)
def cob_claim_balance(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for i, other in enumerate(claim.other_payers):
        lines = _adjusted(
            tuple(
                a
                for line in claim.service_lines
                for adjudication in line.adjudications
                if adjudication.payer_id == other.payer_id
                for a in adjudication.adjustments
            )
        )
        if other.paid_amount is None or (not other.adjustments and not lines):
            continue
        adjusted = _adjusted(other.adjustments) + lines
        if other.paid_amount + adjusted != claim.total_charge:
            yield (
                f"/other_payers/{i}/paid_amount",
                f"other payer {other.payer_id}: paid {other.paid_amount} plus adjustments "
                f"{adjusted} (claim level {_adjusted(other.adjustments)}, line level {lines}) "
                f"is {other.paid_amount + adjusted}, not the claim total {claim.total_charge}; "
                "report each adjustment once, as that payer's remittance does.",
            )


@rule(
    "COB_LINE_BALANCE",
    snip_type=3,
    severity="error",
    description=(
        "For each other-payer line adjudication (loop 2430), the paid amount plus the line "
        "adjustments equals the line charge (SVD02 + CAS = SV102/SV203)."
    ),
    failing_example="line charge 150.00, other payer paid 80.00, adjustments 60.00",
)
def cob_line_balance(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for i, line in enumerate(claim.service_lines):
        for j, adjudication in enumerate(line.adjudications):
            accounted = adjudication.paid_amount + _adjusted(adjudication.adjustments)
            if accounted != line.charge:
                yield (
                    f"/service_lines/{i}/adjudications/{j}/paid_amount",
                    f"payer {adjudication.payer_id} paid {adjudication.paid_amount} plus line "
                    f"adjustments is {accounted}, not the line charge {line.charge}; copy the "
                    "line's amounts from that payer's remittance.",
                )


@rule(
    "COB_LINE_PAYER_UNKNOWN",
    snip_type=4,
    severity="error",
    description="A line adjudication's payer_id (SVD01) names one of the claim's other_payers.",
    failing_example='line adjudication payer_id "SIMCOM09" with other_payers [SIMCOM01]',
)
def cob_line_payer_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    known = {other.payer_id for other in claim.other_payers}
    for i, line in enumerate(claim.service_lines):
        for j, adjudication in enumerate(line.adjudications):
            if adjudication.payer_id not in known:
                yield (
                    f"/service_lines/{i}/adjudications/{j}/payer_id",
                    f"line adjudication payer {adjudication.payer_id} is not among the claim's "
                    "other_payers; add that payer to other_payers or correct the payer_id.",
                )
