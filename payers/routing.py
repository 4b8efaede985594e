"""Routing edits: the claim names a payer this gateway has a profile for, so it can be sent."""

from __future__ import annotations

from collections.abc import Iterator

from edi.claim import Claim
from payers.registry import ScrubContext, Violation, rule


@rule(
    "PAYER_UNKNOWN",
    snip_type=7,
    severity="error",
    description=(
        "The claim's payer id (or an alias) has a payer profile on this gateway, so the claim "
        "can be routed. GET /v1/payers lists the payers and their ids."
    ),
    failing_example='payer_id "SIMXX99" with no profile',
)
def payer_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if ctx.payer_known is False:
        yield (
            "/payer/payer_id",
            f"no payer with id {claim.payer.payer_id} is configured on this gateway; use a "
            "payer id from GET /v1/payers.",
        )
