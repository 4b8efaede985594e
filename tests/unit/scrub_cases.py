"""Clean synthetic claims per shipped payer, and for every scrub rule a way to break one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from edi.claim import Accident, Claim, Diagnosis, Payer
from edi.claim_json import claim_from_json
from payers.duplicates import duplicate_fingerprint
from payers.prior_claims import PriorClaim

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = date(2026, 12, 1)  # after every example's dates of service and adjudications


def example(name: str) -> Claim:
    return claim_from_json(json.loads((EXAMPLES / f"{name}.json").read_text()))


def _medicaid(office: Claim) -> Claim:
    return replace(
        office,
        payer=Payer(
            payer_id="SIMMCD01", name="SIMULATED MEDICAID PLAN", claim_filing_indicator="MC"
        ),
        subscriber=replace(office.subscriber, member_id="MCD20260042", group_number=None),
        receiver=None,
    )


def _workers_comp(office: Claim) -> Claim:
    return replace(
        office,
        payer=Payer(
            payer_id="SIMWC01", name="SIMULATED WORKERS COMP CARRIER", claim_filing_indicator="WC"
        ),
        subscriber=replace(office.subscriber, member_id="WC20260117"),
        accident=Accident(related_causes=("EM",), accident_date=date(2026, 10, 30), state="IL"),
        receiver=None,
    )


def clean_claims() -> dict[str, Claim]:
    """One clean claim per base name; the three examples plus two built from the office visit."""
    office = example("professional-office-visit")
    return {
        "office": office,
        "secondary": example("professional-secondary"),
        "institutional": example("institutional-outpatient"),
        "medicaid": _medicaid(office),
        "workers_comp": _workers_comp(office),
    }


def payer_of(claim: Claim) -> str:
    return claim.payer.payer_id


# --- small mutation helpers -------------------------------------------------------------------


def line(claim: Claim, i: int = 0, **changes: object) -> Claim:
    lines = list(claim.service_lines)
    lines[i] = replace(lines[i], **changes)
    return replace(claim, service_lines=tuple(lines))


def procedure(claim: Claim, i: int = 0, **changes: object) -> Claim:
    current = claim.service_lines[i].procedure
    assert current is not None
    return line(claim, i, procedure=replace(current, **changes))


def adjudication(claim: Claim, **changes: object) -> Claim:
    first = claim.service_lines[0].adjudications[0]
    return line(claim, 0, adjudications=(replace(first, **changes),))


def subscriber(claim: Claim, **changes: object) -> Claim:
    return replace(claim, subscriber=replace(claim.subscriber, **changes))


def patient(claim: Claim, **changes: object) -> Claim:
    assert claim.patient is not None
    return replace(claim, patient=replace(claim.patient, **changes))


def rendering(claim: Claim, **changes: object) -> Claim:
    assert claim.rendering_provider is not None
    return replace(claim, rendering_provider=replace(claim.rendering_provider, **changes))


def billing(claim: Claim, **changes: object) -> Claim:
    return replace(claim, billing_provider=replace(claim.billing_provider, **changes))


def billing_address(claim: Claim, **changes: object) -> Claim:
    return billing(claim, address=replace(claim.billing_provider.address, **changes))


def subscriber_address(claim: Claim, **changes: object) -> Claim:
    assert claim.subscriber.address is not None
    return subscriber(claim, address=replace(claim.subscriber.address, **changes))


def payer(claim: Claim, **changes: object) -> Claim:
    return replace(claim, payer=replace(claim.payer, **changes))


def other_payer(claim: Claim, **changes: object) -> Claim:
    return replace(claim, other_payers=(replace(claim.other_payers[0], **changes),))


def many_lines(claim: Claim, count: int) -> Claim:
    lines = tuple(replace(claim.service_lines[0], charge=Decimal("1.00")) for _ in range(count))
    return replace(claim, service_lines=lines, total_charge=Decimal(count))


def in_fy2026(claim: Claim) -> Claim:
    """Move the office visit's dates of service into the bundled ICD-10-CM year."""
    return line(line(claim, 0, service_date=date(2026, 3, 2)), 1, service_date=date(2026, 3, 2))


THIRTEEN_DIAGNOSES = tuple(
    Diagnosis(code)
    for code in (
        "J20.9", "I10", "E11.9", "R07.9", "J02.9", "Z00.00", "M54.50",
        "K21.9", "E78.5", "F41.1", "N39.0", "R51.9", "J45.909",
    )
)  # fmt: skip


def _prior(pcn: str, status: str, received: date, key: str = "unrelated") -> PriorClaim:
    return PriorClaim("clm_prior_1", pcn, status, received, key)


OFFICE_PCN = "PCN-2026-0004"
OFFICE_KEY = duplicate_fingerprint(example("professional-office-visit"))


@dataclass(frozen=True)
class Case:
    """How to make one rule fire: a clean base claim, a mutation, and the scrub context."""

    base: str
    mutate: Callable[[Claim], Claim] = lambda c: c
    profile: str | None = None  # defaults to the claim's own payer
    today: date = TODAY
    prior: tuple[PriorClaim, ...] = ()  # prior claims when firing
    silent_prior: tuple[PriorClaim, ...] = ()  # prior claims for the silent run on the base
    payer_known: bool | None = None  # what the caller found when looking the payer up
    originals: tuple[PriorClaim, ...] | None = None  # a correction's originals when firing


CASES: dict[str, Case] = {
    # routing
    "PAYER_UNKNOWN": Case(
        "office",
        lambda c: replace(c, payer=replace(c.payer, payer_id="SIMXX99")),
        payer_known=False,
    ),
    # balancing
    "TOTAL_CHARGE_BALANCE": Case("office", lambda c: replace(c, total_charge=Decimal("200.00"))),
    "COB_CLAIM_BALANCE": Case("secondary", lambda c: other_payer(c, paid_amount=Decimal("90"))),
    "COB_LINE_BALANCE": Case("secondary", lambda c: adjudication(c, paid_amount=Decimal("70"))),
    "COB_LINE_PAYER_UNKNOWN": Case("secondary", lambda c: adjudication(c, payer_id="SIMCOM09")),
    # situational
    "PATIENT_IS_SUBSCRIBER": Case(
        "secondary",
        lambda c: patient(
            c, first_name=c.subscriber.first_name.lower(), birth_date=c.subscriber.birth_date
        ),
    ),
    "SUBSCRIBER_DEMOGRAPHICS_MISSING": Case("office", lambda c: subscriber(c, birth_date=None)),
    "CORRECTION_WITHOUT_PAYER_CLAIM_NUMBER": Case(
        "office", lambda c: replace(c, frequency_code="7")
    ),
    "STATEMENT_DATES_MISSING": Case("institutional", lambda c: replace(c, statement_to=None)),
    "SERVICE_LINES_MISSING": Case(
        "office", lambda c: replace(c, service_lines=(), total_charge=Decimal(0))
    ),
    "PRINCIPAL_DIAGNOSIS_MISSING": Case("office", lambda c: replace(c, diagnoses=())),
    "CLAIM_TYPE_FIELD_MISSING": Case("office", lambda c: replace(c, place_of_service=None)),
    "DIAGNOSIS_POINTER_INVALID": Case("office", lambda c: line(c, 0, diagnosis_pointers=(1, 2))),
    "DIAGNOSIS_POINTER_MISSING": Case("office", lambda c: line(c, 1, diagnosis_pointers=())),
    "SECONDARY_WITHOUT_OTHER_PAYER": Case("office", lambda c: payer(c, responsibility="S")),
    # code sets
    "ICD10_UNKNOWN": Case(
        "office", lambda c: in_fy2026(replace(c, diagnoses=(Diagnosis("J99.99"),)))
    ),
    "ICD10_NOT_BILLABLE": Case("office", lambda c: replace(c, diagnoses=(Diagnosis("E11"),))),
    "ICD10_UNVERIFIED": Case("office", lambda c: replace(c, diagnoses=(Diagnosis("J99.99"),))),
    "PROCEDURE_CODE_FORMAT": Case("office", lambda c: procedure(c, 1, code="W1234")),
    "MODIFIER_FORMAT": Case("office", lambda c: procedure(c, 0, modifiers=("25", "lt"))),
    "PLACE_OF_SERVICE_UNKNOWN": Case("office", lambda c: line(c, 1, place_of_service="30")),
    "REVENUE_CODE_FORMAT": Case("institutional", lambda c: line(c, 0, revenue_code="450")),
    "GENDER_CODE": Case("office", lambda c: subscriber(c, gender="X")),
    "RELATIONSHIP_CODE": Case("secondary", lambda c: patient(c, relationship_to_subscriber="18")),
    "NPI_FORMAT": Case("office", lambda c: rendering(c, npi="123456789")),
    "NPI_CHECK_DIGIT": Case("office", lambda c: billing(c, npi="1234567890")),
    "TAX_ID_INVALID": Case("office", lambda c: billing(c, tax_id="071234567")),
    "TAXONOMY_FORMAT": Case("office", lambda c: rendering(c, taxonomy="207Q00000")),
    "STATE_CODE_UNKNOWN": Case("office", lambda c: subscriber_address(c, state="XX")),
    "ZIP_FORMAT": Case("office", lambda c: subscriber_address(c, postal_code="6270-1")),
    "BILLING_ZIP_PLUS_FOUR": Case("office", lambda c: billing_address(c, postal_code="62701")),
    "BILLING_ADDRESS_PO_BOX": Case("office", lambda c: billing_address(c, line1="PO BOX 4410")),
    # dates
    "SERVICE_DATE_FUTURE": Case("office", lambda c: line(c, 0, service_date=date(2026, 12, 2))),
    "SERVICE_BEFORE_BIRTH": Case("office", lambda c: subscriber(c, birth_date=date(2026, 11, 3))),
    "DATE_RANGE_REVERSED": Case("office", lambda c: line(c, 0, service_date_end=date(2026, 11, 1))),
    "LINE_OUTSIDE_STATEMENT": Case(
        "institutional", lambda c: line(c, 2, service_date=date(2026, 10, 19))
    ),
    # limits
    "DIAGNOSIS_LIMIT": Case("office", lambda c: replace(c, diagnoses=THIRTEEN_DIAGNOSES)),
    "LINE_LIMIT": Case("office", lambda c: many_lines(c, 51)),
    "FIELD_LENGTH": Case("office", lambda c: replace(c, patient_control_number="P" * 21)),
    "TEXT_CHARACTERS": Case("office", lambda c: billing_address(c, line1="100 MAPLE ST*B")),
    "BLANK_TEXT": Case("office", lambda c: subscriber(c, last_name="   ")),
    "LINE_UNITS_ZERO": Case("office", lambda c: line(c, 1, units=Decimal("0"))),
    # duplicates
    "DUPLICATE_CONTROL_NUMBER": Case(
        "office",
        prior=(_prior(OFFICE_PCN, "ACCEPTED", date(2026, 11, 5)),),
        silent_prior=(_prior(OFFICE_PCN, "PAYER_REJECTED", date(2026, 11, 5)),),
    ),
    "LIKELY_DUPLICATE": Case(
        "office",
        prior=(_prior("PCN-2026-0004B", "PAID", date(2026, 11, 5), OFFICE_KEY),),
        # outside SIMCOM01's 90-day look-back
        silent_prior=(_prior("PCN-2026-0004B", "PAID", date(2026, 8, 1), OFFICE_KEY),),
    ),
    "CORRECTION_ORIGINAL_UNKNOWN": Case(
        "office",
        lambda c: replace(c, frequency_code="8", payer_claim_number="SIM000000000042"),
        originals=(),
    ),
    # payer rules
    "PAYER_ID_MISMATCH": Case("office", lambda c: payer(c, payer_id="SIMCOM09")),
    "PAYER_CLAIM_TYPE": Case("institutional", profile="SIMCOM02"),
    "PAYER_FILING_INDICATOR": Case(
        "institutional", lambda c: payer(c, claim_filing_indicator="CI")
    ),
    "PAYER_MEMBER_ID_FORMAT": Case("institutional", lambda c: subscriber(c, member_id="12345")),
    "PAYER_GROUP_NUMBER_REQUIRED": Case("office", lambda c: subscriber(c, group_number=None)),
    "PAYER_MAX_LINES": Case("medicaid", lambda c: many_lines(c, 41)),
    "PAYER_PLACE_OF_SERVICE": Case("office", lambda c: replace(c, place_of_service="13")),
    "PAYER_PRIOR_AUTHORIZATION": Case("office", lambda c: procedure(c, 1, code="70551")),
    "PAYER_REFERRING_PROVIDER": Case("secondary", lambda c: procedure(c, 0, code="97110")),
    "PAYER_RENDERING_TAXONOMY": Case("office", lambda c: rendering(c, taxonomy=None)),
    "PAYER_NOT_COVERED": Case("office", lambda c: procedure(c, 0, code="97810")),
    "PAYER_ACCIDENT_CAUSE": Case("workers_comp", lambda c: replace(c, accident=None)),
    "PAYER_TIMELY_FILING": Case("institutional", today=date(2027, 10, 21)),
}
