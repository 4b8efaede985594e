"""Payer-specific edits (SNIP 7): the checks a payer profile switches on with its parameters.

Each check reads its parameter from ScrubContext.profile and is silent when it is unset.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from edi.claim import Claim
from payers.claim_parts import claim_places_of_service
from payers.profile import PayerProfile
from payers.registry import ScrubContext, Violation, rule


def _profile(ctx: ScrubContext) -> PayerProfile:
    # The scrubber runs payer rules only with a profile.
    assert ctx.profile is not None
    return ctx.profile


def _coded_lines(claim: Claim, codes: frozenset[str]) -> Iterator[tuple[int, str]]:
    if not codes:
        return
    for i, line in enumerate(claim.service_lines):
        if line.procedure is not None and line.procedure.code in codes:
            yield i, line.procedure.code


@rule(
    "PAYER_ID_MISMATCH",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The claim's payer id is the profile's payer id or one of its aliases.",
    failing_example='payer_id "SIMCOM02" scrubbed with the SIMCOM01 profile',
)
def payer_id_mismatch(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    profile = _profile(ctx)
    if claim.payer.payer_id not in (profile.payer_id, *profile.aliases):
        yield (
            "/payer/payer_id",
            f"payer id {claim.payer.payer_id} does not belong to {profile.name} "
            f"({profile.payer_id}); correct the payer id.",
        )


@rule(
    "PAYER_CLAIM_TYPE",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The payer accepts this claim type (profile claim_types).",
    failing_example="an institutional claim to a payer taking professional claims only",
)
def payer_claim_type(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    profile = _profile(ctx)
    if claim.claim_type not in profile.claim_types:
        yield (
            "/claim_type",
            f"{profile.name} does not accept {claim.claim_type} claims "
            f"(accepts: {', '.join(profile.claim_types)}).",
        )


@rule(
    "PAYER_FILING_INDICATOR",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The claim filing indicator (SBR09) is one the payer accepts "
    "(rules.claim_filing_indicators).",
    failing_example='claim_filing_indicator "CI" to a Medicare contractor (MA/MB)',
)
def payer_filing_indicator(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    accepted = _profile(ctx).rules.claim_filing_indicators
    if accepted and claim.payer.claim_filing_indicator not in accepted:
        yield (
            "/payer/claim_filing_indicator",
            f"claim filing indicator {claim.payer.claim_filing_indicator} is not accepted by "
            f"this payer; use {' or '.join(accepted)}.",
        )


@rule(
    "PAYER_MEMBER_ID_FORMAT",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The subscriber's member id matches the payer's pattern (rules.member_id_pattern).",
    failing_example='member_id "12345" where an MBI-like id is expected',
)
def payer_member_id_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    pattern = _profile(ctx).rules.member_id_pattern
    if pattern is not None and not pattern.fullmatch(claim.subscriber.member_id):
        # The member id itself is not repeated: findings are shown and logged.
        yield (
            "/subscriber/member_id",
            f"the member id does not have this payer's format ({pattern.pattern}); copy it from "
            "the member's card.",
        )


@rule(
    "PAYER_GROUP_NUMBER_REQUIRED",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The subscriber's group number (SBR03) is given (rules.group_number_required).",
    failing_example="subscriber without group_number",
)
def payer_group_number_required(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if _profile(ctx).rules.group_number_required and not claim.subscriber.group_number:
        yield "/subscriber", "this payer needs the subscriber's group_number from the member card."


@rule(
    "PAYER_MAX_LINES",
    snip_type=7,
    severity="error",
    scope="payer",
    description="No more service lines than the payer takes on one claim (rules.max_lines).",
    failing_example="5 lines where the payer takes 4",
)
def payer_max_lines(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    limit = _profile(ctx).rules.max_lines
    if limit is not None and len(claim.service_lines) > limit:
        yield (
            f"/service_lines/{limit}",
            f"this payer takes at most {limit} service lines per claim; split the services "
            "over more claims.",
        )


@rule(
    "PAYER_PLACE_OF_SERVICE",
    snip_type=7,
    severity="error",
    scope="payer",
    description="Places of service are among those the payer allows (rules.places_of_service).",
    failing_example='place_of_service "12" (home) where only 11, 22, 23 are allowed',
)
def payer_place_of_service(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    allowed = _profile(ctx).rules.places_of_service
    if not allowed:
        return
    for where, code in claim_places_of_service(claim):
        if code not in allowed:
            yield (
                where,
                f"this payer does not accept place of service {code} (allowed: "
                f"{', '.join(sorted(allowed))}).",
            )


@rule(
    "PAYER_PRIOR_AUTHORIZATION",
    snip_type=7,
    severity="error",
    scope="payer",
    description="Procedures the payer lists (rules.prior_authorization_codes) come with a "
    "prior_authorization number (REF*G1). Points at the procedure code that needs it.",
    failing_example="procedure 70551 without prior_authorization",
)
def payer_prior_authorization(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.prior_authorization:
        return
    for i, code in _coded_lines(claim, _profile(ctx).rules.prior_authorization_codes):
        yield (
            f"/service_lines/{i}/procedure/code",
            f"this payer requires prior authorization for {code}; add prior_authorization "
            "(the payer's authorization number) to the claim.",
        )


@rule(
    "PAYER_REFERRING_PROVIDER",
    snip_type=7,
    severity="error",
    scope="payer",
    description="Procedures the payer lists (rules.referring_provider_codes) come with a "
    "referring_provider. Points at the procedure code that needs it.",
    failing_example="procedure 97110 without referring_provider",
)
def payer_referring_provider(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.referring_provider is not None:
        return
    for i, code in _coded_lines(claim, _profile(ctx).rules.referring_provider_codes):
        yield (
            f"/service_lines/{i}/procedure/code",
            f"this payer requires a referring provider for {code}; add referring_provider "
            "with the referring clinician's name and NPI.",
        )


@rule(
    "PAYER_RENDERING_TAXONOMY",
    snip_type=7,
    severity="error",
    scope="payer",
    description="Professional claims carry the rendering provider's taxonomy (PRV03), or the "
    "billing provider's when it renders (rules.rendering_taxonomy_required).",
    failing_example="rendering_provider without taxonomy",
)
def payer_rendering_taxonomy(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if not _profile(ctx).rules.rendering_taxonomy_required or claim.claim_type != "professional":
        return
    if claim.rendering_provider is not None:
        if claim.rendering_provider.taxonomy is None:
            yield "/rendering_provider", "this payer needs the rendering provider's taxonomy."
    elif claim.billing_provider.taxonomy is None:
        yield (
            "/billing_provider",
            "this payer needs a taxonomy for the provider who rendered the service: give the "
            "billing provider's taxonomy or a rendering_provider with one.",
        )


@rule(
    "PAYER_NOT_COVERED",
    snip_type=7,
    severity="warning",
    scope="payer",
    description="Procedures the plan does not cover (rules.not_covered_codes). A warning: the "
    "payer will deny the line, but the claim may still be sent (e.g. for a denial on record).",
    failing_example="procedure 97810 (acupuncture) to a plan that excludes it",
)
def payer_not_covered(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for i, code in _coded_lines(claim, _profile(ctx).rules.not_covered_codes):
        yield (
            f"/service_lines/{i}/procedure/code",
            f"{code} is not covered by this plan; the line will be denied. Bill the patient or "
            "another payer if the plan excludes it.",
        )


@rule(
    "PAYER_ACCIDENT_CAUSE",
    snip_type=7,
    severity="error",
    scope="payer",
    description="The claim states a related cause the payer requires (rules."
    "accident_causes_required), e.g. EM employment for workers' compensation (CLM11).",
    failing_example="workers' compensation claim without accident.related_causes [EM]",
)
def payer_accident_cause(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    required = _profile(ctx).rules.accident_causes_required
    if not required:
        return
    causes = ", ".join(required)
    if claim.accident is None:
        yield "", f"this payer needs accident with related_causes including {causes}."
    elif not set(required) & set(claim.accident.related_causes):
        yield (
            "/accident/related_causes",
            f"this payer needs related_causes to include {causes}.",
        )


@rule(
    "PAYER_TIMELY_FILING",
    snip_type=7,
    severity="warning",
    scope="payer",
    description="Services are billed within the payer's timely filing limit (timely_filing_days "
    "from the date of service: the line's last date, or statement_to on institutional claims). "
    "A warning: the payer denies late claims (CARC 29) but exceptions exist.",
    failing_example="a 2025-01-10 service scrubbed on 2026-03-01 for a 365-day payer",
)
def payer_timely_filing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    days = _profile(ctx).timely_filing_days
    cutoff = ctx.today - timedelta(days=days)
    if claim.claim_type == "institutional" and claim.statement_to is not None:
        if claim.statement_to < cutoff:
            yield (
                "/statement_to",
                f"the statement ended {claim.statement_to}, more than {days} days ago: past "
                "this payer's timely filing limit, so the claim will be denied unless an "
                "exception applies.",
            )
        return
    for i, line in enumerate(claim.service_lines):
        last = line.service_date_end or line.service_date
        if last < cutoff:
            yield (
                f"/service_lines/{i}/service_date",
                f"the service on {last} is more than {days} days old: past this payer's "
                "timely filing limit, so it will be denied unless an exception applies.",
            )
