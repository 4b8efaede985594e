"""External code set edits (SNIP 5): ICD-10-CM, CPT/HCPCS and modifier format, place of service,
revenue codes, and the gender and relationship code lists."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterator
from datetime import date
from importlib import resources

from edi.claim import Claim
from payers import icd10
from payers.claim_parts import claim_places_of_service, procedures
from payers.registry import ScrubContext, Violation, rule

# CPT: five digits, or four digits and F (category II), T (category III) or U (PLA codes).
# HCPCS Level II: a letter A-V and four digits. Only the format: CPT content is licensed.
_PROCEDURE_CODE = re.compile(r"[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4}")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_REVENUE_CODE = re.compile(r"[0-9]{4}")

GENDER_CODES = frozenset({"M", "F", "U"})  # DMG03
# PAT01 (patient to subscriber) and 2320 SBR02 (subscriber to other insured); 18 = self.
PATIENT_RELATIONSHIP_CODES = frozenset({"01", "19", "20", "21", "39", "40", "53", "G8"})
OTHER_PAYER_RELATIONSHIP_CODES = PATIENT_RELATIONSHIP_CODES | {"18"}


@functools.cache
def places_of_service() -> dict[str, str]:
    """The CMS place of service codes shipped in payers/data/place_of_service.csv."""
    text = (resources.files("payers") / "data" / "place_of_service.csv").read_text("utf-8")
    data = "".join(row for row in text.splitlines(keepends=True) if not row.startswith("#"))
    return {row["code"]: row["name"] for row in csv.DictReader(io.StringIO(data))}


def diagnosis_date(claim: Claim) -> date | None:
    """The date whose code set applies: the through date of an institutional statement
    (inpatient coding follows the discharge), else the earliest date of service."""
    if claim.claim_type == "institutional" and claim.statement_to is not None:
        return claim.statement_to
    if not claim.service_lines:
        return None
    return min(line.service_date for line in claim.service_lines)


def _diagnosis_codes(claim: Claim) -> Iterator[tuple[str, str]]:
    for i, diagnosis in enumerate(claim.diagnoses):
        yield f"/diagnoses/{i}/code", diagnosis.code
    if claim.admitting_diagnosis is not None:
        yield "/admitting_diagnosis", claim.admitting_diagnosis


def _classify(status: icd10.CodeStatus, coverage: str) -> str | None:
    """Which ICD rule a code's status raises, given where the date of service falls."""
    if status == "billable":
        return None
    # Outside the data's year we cannot be sure: a later year may add a code, and an earlier
    # year may have billed a code that has since been split into subcodes. A header code stays
    # a header in later years (codes are split, not merged), so that is still an error.
    unknown_outside = status == "unknown" and coverage != "within"
    if unknown_outside or (status == "header" and coverage == "before"):
        return "ICD10_UNVERIFIED"
    return "ICD10_UNKNOWN" if status == "unknown" else "ICD10_NOT_BILLABLE"


def _icd_problems(claim: Claim, wanted: str) -> Iterator[tuple[str, str, date | None]]:
    """(pointer, code, date of service) of each diagnosis that raises the wanted rule."""
    when = diagnosis_date(claim)
    coverage = icd10.vintage_covers(when) if when is not None else "within"
    for where, code in _diagnosis_codes(claim):
        if _classify(icd10.code_status(code), coverage) == wanted:
            yield where, code, when


@rule(
    "ICD10_UNKNOWN",
    snip_type=5,
    severity="error",
    description=(
        "Each diagnosis (and admitting_diagnosis) is an ICD-10-CM code in the code set for the "
        f"date of service. Code set: {icd10.DATA_VINTAGE}, governing dates of service "
        f"{icd10.VINTAGE_START}..{icd10.VINTAGE_END}; outside those dates see ICD10_UNVERIFIED. "
        "The date is the statement through date on institutional claims, else the earliest "
        "line date of service."
    ),
    failing_example='diagnosis code "J99.99" for a date of service in FY2026',
)
def icd10_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, code, when in _icd_problems(claim, "ICD10_UNKNOWN"):
        yield (
            where,
            f"{code} is not an ICD-10-CM code for the date of service {when}; correct the "
            "diagnosis code.",
        )


@rule(
    "ICD10_NOT_BILLABLE",
    snip_type=5,
    severity="error",
    description=(
        "Each diagnosis is billable: a full code, not a category or subcategory header that "
        f"has subcodes ({icd10.DATA_VINTAGE}). Applies to dates of service from "
        f"{icd10.VINTAGE_START} on, since codes are split over the years, not merged."
    ),
    failing_example='diagnosis code "E11" (category; E11.9 is billable)',
)
def icd10_not_billable(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, code, _ in _icd_problems(claim, "ICD10_NOT_BILLABLE"):
        yield (
            where,
            f"{code} is a header with subcodes, not a billable code; code it to the highest "
            "specificity (add the missing characters).",
        )


@rule(
    "ICD10_UNVERIFIED",
    snip_type=5,
    severity="warning",
    description=(
        f"The date of service is outside the bundled code set's year ({icd10.DATA_VINTAGE}) "
        "and a diagnosis could not be confirmed: not in that code set (a later year may have "
        "added it), or a header there with the date before that year (it may have been "
        "billable then). A warning: the payer's own edit decides."
    ),
    failing_example='diagnosis code "J99.99" for a date of service in FY2027',
)
def icd10_unverified(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, code, when in _icd_problems(claim, "ICD10_UNVERIFIED"):
        yield (
            where,
            f"{code} could not be confirmed: the bundled ICD-10-CM data is {icd10.DATA_VINTAGE} "
            f"and the date of service {when} is outside it; check the code against the code "
            "set in force on that date.",
        )


@rule(
    "PROCEDURE_CODE_FORMAT",
    snip_type=5,
    severity="error",
    description=(
        "A procedure with qualifier HC is a CPT code (5 digits, or 4 digits and F, T or U) or a "
        "HCPCS Level II code (a letter A-V and 4 digits). Only the format is checked: CPT is "
        "licensed and HCPCS is not bundled."
    ),
    failing_example='procedure code "9921" or "W1234"',
)
def procedure_code_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, procedure in procedures(claim):
        if procedure.qualifier == "HC" and not _PROCEDURE_CODE.fullmatch(procedure.code):
            yield (
                where + "/code",
                f"{procedure.code} is not a CPT or HCPCS code: use 5 digits (CPT), 4 digits and "
                "F/T/U (CPT category II, III, PLA), or a letter A-V and 4 digits (HCPCS).",
            )


@rule(
    "MODIFIER_FORMAT",
    snip_type=5,
    severity="error",
    description="Each procedure modifier is two upper-case letters or digits (SV101-3..6).",
    failing_example='modifier "2" or "lt"',
)
def modifier_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, procedure in procedures(claim):
        for k, modifier in enumerate(procedure.modifiers):
            if not _MODIFIER.fullmatch(modifier):
                yield (
                    f"{where}/modifiers/{k}",
                    f"modifier {modifier!r} must be two upper-case letters or digits, e.g. 25.",
                )


@rule(
    "PLACE_OF_SERVICE_UNKNOWN",
    snip_type=5,
    severity="error",
    description=(
        "place_of_service (claim and line) is an assigned code of the CMS Place of Service "
        "Code Set (shipped as payers/data/place_of_service.csv)."
    ),
    failing_example='place_of_service "30" (unassigned)',
)
def place_of_service_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    known = places_of_service()
    for where, code in claim_places_of_service(claim):
        if code not in known:
            yield (
                where,
                f"{code} is not an assigned CMS place of service code; use one such as 11 "
                "(office) or 22 (on campus outpatient hospital).",
            )


@rule(
    "REVENUE_CODE_FORMAT",
    snip_type=5,
    severity="error",
    description="A revenue code (SV201, SVD04) is four digits, with the leading zero.",
    failing_example='revenue_code "450"',
)
def revenue_code_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for i, line in enumerate(claim.service_lines):
        if line.revenue_code is not None and not _REVENUE_CODE.fullmatch(line.revenue_code):
            yield (
                f"/service_lines/{i}/revenue_code",
                f"revenue code {line.revenue_code!r} must be four digits, e.g. 0450.",
            )
        for j, adjudication in enumerate(line.adjudications):
            code = adjudication.revenue_code
            if code is not None and not _REVENUE_CODE.fullmatch(code):
                yield (
                    f"/service_lines/{i}/adjudications/{j}/revenue_code",
                    f"revenue code {code!r} must be four digits, e.g. 0450.",
                )


@rule(
    "GENDER_CODE",
    snip_type=5,
    severity="error",
    description="Subscriber and patient gender is M, F or U (DMG03).",
    failing_example='gender "X"',
)
def gender_code(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    people = [("/subscriber/gender", claim.subscriber.gender)]
    if claim.patient is not None:
        people.append(("/patient/gender", claim.patient.gender))
    for where, gender in people:
        if gender is not None and gender not in GENDER_CODES:
            yield where, f"gender {gender!r} must be M, F or U (unknown)."


@rule(
    "RELATIONSHIP_CODE",
    snip_type=5,
    severity="error",
    description=(
        "The patient's relationship to the subscriber (PAT01) is 01, 19, 20, 21, 39, 40, 53 or "
        "G8 (18 self is expressed by leaving out the patient); an other payer's (2320 SBR02) "
        "may also be 18."
    ),
    failing_example='patient relationship_to_subscriber "18"',
)
def relationship_code(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if claim.patient is not None:
        code = claim.patient.relationship_to_subscriber
        if code not in PATIENT_RELATIONSHIP_CODES:
            yield (
                "/patient/relationship_to_subscriber",
                f"relationship {code!r} is not allowed for a patient: use 01 spouse, 19 child, "
                "20 employee, 21 unknown, 39/40 donor, 53 life partner or G8 other; when the "
                "patient is the subscriber, leave out patient.",
            )
    for i, other in enumerate(claim.other_payers):
        if other.relationship_to_subscriber not in OTHER_PAYER_RELATIONSHIP_CODES:
            yield (
                f"/other_payers/{i}/relationship_to_subscriber",
                f"relationship {other.relationship_to_subscriber!r} is not an X12 individual "
                "relationship code (01, 18, 19, 20, 21, 39, 40, 53, G8).",
            )
