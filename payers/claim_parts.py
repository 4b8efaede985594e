"""Where things sit in a claim: iterators that yield (JSON pointer, part) for rules to check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from edi.claim import Address, BillingProvider, Claim, Procedure, Provider

# Optional provider loops, by claim field name (2310x).
OTHER_PROVIDER_FIELDS = (
    "rendering_provider",
    "referring_provider",
    "attending_provider",
    "service_facility",
)


def providers(claim: Claim) -> Iterator[tuple[str, BillingProvider | Provider]]:
    """The billing provider and every other provider the claim names."""
    yield "/billing_provider", claim.billing_provider
    for name in OTHER_PROVIDER_FIELDS:
        provider = getattr(claim, name)
        if provider is not None:
            yield "/" + name, provider


def addresses(claim: Claim) -> Iterator[tuple[str, Address]]:
    """Every address on the claim."""
    yield "/billing_provider/address", claim.billing_provider.address
    if claim.pay_to_address is not None:
        yield "/pay_to_address", claim.pay_to_address
    if claim.subscriber.address is not None:
        yield "/subscriber/address", claim.subscriber.address
    if claim.patient is not None:
        yield "/patient/address", claim.patient.address
    if claim.payer.address is not None:
        yield "/payer/address", claim.payer.address
    for name in OTHER_PROVIDER_FIELDS:
        provider = getattr(claim, name)
        if provider is not None and provider.address is not None:
            yield f"/{name}/address", provider.address


def procedures(claim: Claim) -> Iterator[tuple[str, Procedure]]:
    """Every procedure: on each line and in each line's other-payer adjudications."""
    for i, line in enumerate(claim.service_lines):
        if line.procedure is not None:
            yield f"/service_lines/{i}/procedure", line.procedure
        for j, adjudication in enumerate(line.adjudications):
            if adjudication.procedure is not None:
                yield f"/service_lines/{i}/adjudications/{j}/procedure", adjudication.procedure


def patient_birth_date(claim: Claim) -> tuple[str, date | None]:
    """The patient's birth date and its pointer: the patient loop, else the subscriber."""
    if claim.patient is not None:
        return "/patient/birth_date", claim.patient.birth_date
    return "/subscriber/birth_date", claim.subscriber.birth_date


def claim_places_of_service(claim: Claim) -> Iterator[tuple[str, str]]:
    """The claim's place of service and every line's own one."""
    if claim.place_of_service is not None:
        yield "/place_of_service", claim.place_of_service
    for i, line in enumerate(claim.service_lines):
        if line.place_of_service is not None:
            yield f"/service_lines/{i}/place_of_service", line.place_of_service
