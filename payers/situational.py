"""Situational edits (SNIP 2 and 4): fields one part of the claim makes required or forbidden.

A finding about a missing field points at the object the field belongs in (the root "" for a
claim-level field), because the missing field itself has no place in the submitted JSON yet.
"""

from __future__ import annotations

from collections.abc import Iterator

from edi.claim import Claim
from payers.registry import ScrubContext, Violation, rule


def _name(last: str, first: str | None) -> tuple[str, str]:
    return last.strip().upper(), (first or "").strip().upper()


@rule(
    "PATIENT_IS_SUBSCRIBER",
    snip_type=4,
    severity="error",
    description=(
        "The patient loop (2000C) is sent only when the patient is not the subscriber. A patient "
        "with the subscriber's last name, first name and birth date is taken to be the "
        "subscriber: an error, because the 837 forbids the loop then and the payer's member "
        "match would resolve the patient to the subscriber anyway."
    ),
    failing_example="patient and subscriber both SAMPLE, ALEX, born 1980-04-12",
)
def patient_is_subscriber(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    patient, subscriber = claim.patient, claim.subscriber
    if patient is None or subscriber.birth_date != patient.birth_date:
        return
    if _name(patient.last_name, patient.first_name) == _name(
        subscriber.last_name, subscriber.first_name
    ):
        yield (
            "/patient",
            "the patient has the subscriber's name and birth date; when the subscriber is the "
            "patient, leave out patient and give the subscriber's birth_date and gender.",
        )


@rule(
    "SUBSCRIBER_DEMOGRAPHICS_MISSING",
    snip_type=4,
    severity="error",
    description=(
        "When there is no patient loop the subscriber is the patient, so the subscriber needs "
        "birth_date, gender and address (2010BA DMG, N3/N4)."
    ),
    failing_example="no patient and a subscriber without birth_date",
)
def subscriber_demographics(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.patient is not None:
        return
    subscriber = claim.subscriber
    missing = [
        name
        for name, value in (
            ("birth_date", subscriber.birth_date),
            ("gender", subscriber.gender),
            ("address", subscriber.address),
        )
        if value is None
    ]
    if missing:
        yield (
            "/subscriber",
            f"the subscriber is the patient, so subscriber needs {', '.join(missing)}.",
        )


@rule(
    "CORRECTION_WITHOUT_PAYER_CLAIM_NUMBER",
    snip_type=4,
    severity="error",
    description=(
        "A replacement (frequency_code 7) or void (8) names the payer's claim number of the "
        "claim it corrects (REF*F8)."
    ),
    failing_example='frequency_code "7" without payer_claim_number',
)
def correction_without_payer_claim_number(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.frequency_code in ("7", "8") and not claim.payer_claim_number:
        kind = "replacement" if claim.frequency_code == "7" else "void"
        yield (
            "",
            f"a {kind} (frequency_code {claim.frequency_code}) needs payer_claim_number, the "
            "payer's number for the original claim (from its 277CA or 835); without one, send "
            "the claim as an original (frequency_code 1).",
        )


@rule(
    "CORRECTION_ORIGINAL_UNKNOWN",
    snip_type=7,
    severity="error",
    description=(
        "A replacement (frequency_code 7) or void (8) names, in payer_claim_number, the payer's "
        "number of one of the submitter's own claims to the same payer (as its 277CA or 835 "
        "gave it). Any other number would change a claim that is not the submitter's. SNIP has "
        "no type for cross-claim edits; filed under 7 as the submitter's agreement with the "
        "clearinghouse."
    ),
    failing_example='frequency_code "8" naming another practice\'s payer claim number',
)
def correction_original_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.frequency_code not in ("7", "8") or not claim.payer_claim_number:
        return
    if ctx.originals is not None and not ctx.originals:
        kind = "replacement" if claim.frequency_code == "7" else "void"
        yield (
            "/payer_claim_number",
            f"no claim of yours sent to {claim.payer.payer_id} has the payer claim number "
            f"{claim.payer_claim_number}; a {kind} names the number the payer gave one of your "
            "own claims (GET /v1/claims/{id} shows it as payer_claim_number).",
        )


@rule(
    "STATEMENT_DATES_MISSING",
    snip_type=2,
    severity="error",
    description="An institutional claim gives statement_from and statement_to (DTP*434).",
    failing_example="institutional claim without statement_to",
)
def statement_dates_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.claim_type != "institutional":
        return
    dates = {"statement_from": claim.statement_from, "statement_to": claim.statement_to}
    missing = [name for name, value in dates.items() if value is None]
    if missing:
        yield ("", f"an institutional claim needs {' and '.join(missing)} (the statement period).")


@rule(
    "SERVICE_LINES_MISSING",
    snip_type=2,
    severity="error",
    description="Every claim has at least one service line (loop 2400).",
    failing_example="service_lines []",
)
def service_lines_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if not claim.service_lines:
        yield ("", "the claim needs at least one service line.")


@rule(
    "LINE_UNITS_ZERO",
    snip_type=2,
    severity="error",
    description="Every service line bills some units (SV104 / SV205 above zero).",
    failing_example="units 0 on a line",
)
def line_units_zero(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for n, line in enumerate(claim.service_lines):
        if line.units <= 0:
            yield (
                f"/service_lines/{n}/units",
                f"line {n + 1} bills {line.units} units; give the units (or minutes) rendered.",
            )


@rule(
    "PRINCIPAL_DIAGNOSIS_MISSING",
    snip_type=2,
    severity="error",
    description="Every claim has at least one diagnosis; the first is the principal (HI*ABK).",
    failing_example="diagnoses []",
)
def principal_diagnosis_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if not claim.diagnoses:
        yield ("", "the claim needs diagnoses, the first being the principal diagnosis.")


@rule(
    "CLAIM_TYPE_FIELD_MISSING",
    snip_type=2,
    severity="error",
    description=(
        "Fields the claim type requires: professional claims need place_of_service and a "
        "procedure on every line (SV101); institutional claims need facility_type and a "
        "revenue_code on every line (SV201)."
    ),
    failing_example="professional claim without place_of_service",
)
def claim_type_field_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    professional = claim.claim_type == "professional"
    if professional and claim.place_of_service is None:
        yield ("", "a professional claim needs place_of_service (CMS place of service code).")
    if not professional and claim.facility_type is None:
        yield ("", "an institutional claim needs facility_type (the bill type's first two digits).")
    for i, line in enumerate(claim.service_lines):
        if professional and line.procedure is None:
            yield (f"/service_lines/{i}", "a professional service line needs a procedure.")
        if not professional and line.revenue_code is None:
            yield (f"/service_lines/{i}", "an institutional service line needs a revenue_code.")


@rule(
    "DIAGNOSIS_POINTER_INVALID",
    snip_type=4,
    severity="error",
    description=(
        "Each diagnosis pointer (SV107, 1-based) points at one of the claim's diagnoses, and no "
        "pointer repeats on a line."
    ),
    failing_example="diagnosis_pointers [2] on a claim with one diagnosis",
)
def diagnosis_pointer_invalid(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    count = len(claim.diagnoses)
    for i, line in enumerate(claim.service_lines):
        seen: set[int] = set()
        for k, target in enumerate(line.diagnosis_pointers):
            where = f"/service_lines/{i}/diagnosis_pointers/{k}"
            if not 1 <= target <= count:
                yield (
                    where,
                    f"diagnosis pointer {target} does not point at a diagnosis; the claim has "
                    f"{count} (pointers are 1-based positions in diagnoses).",
                )
            elif target in seen:
                yield (where, f"diagnosis pointer {target} repeats on this line; list it once.")
            seen.add(target)


@rule(
    "DIAGNOSIS_POINTER_MISSING",
    snip_type=2,
    severity="error",
    description="Every professional service line points at 1 to 4 diagnoses (SV107).",
    failing_example="professional line with diagnosis_pointers []",
)
def diagnosis_pointer_missing(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.claim_type != "professional":
        return
    for i, line in enumerate(claim.service_lines):
        if not line.diagnosis_pointers:
            yield (
                f"/service_lines/{i}",
                "a professional service line needs diagnosis_pointers (1 to 4 positions in "
                "diagnoses, the most relevant first).",
            )


@rule(
    "SECONDARY_WITHOUT_OTHER_PAYER",
    snip_type=4,
    severity="error",
    description=(
        "A claim to a secondary payer (responsibility S) names at least one other payer, and one "
        "to a tertiary payer (T) at least two, with what they paid (loops 2320/2330)."
    ),
    failing_example='payer responsibility "S" with no other_payers',
)
def secondary_without_other_payer(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    needed = {"S": 1, "T": 2}.get(claim.payer.responsibility, 0)
    if len(claim.other_payers) < needed:
        role = "secondary" if needed == 1 else "tertiary"
        pointer = "" if not claim.other_payers else "/other_payers"
        yield (
            pointer,
            f"a claim to a {role} payer needs {needed} other payer(s) in other_payers, with "
            "their payments and adjustments.",
        )
