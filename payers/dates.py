"""Date edits (SNIP 4): no future service, nothing before birth, ordered ranges.

"Today" comes from the caller (ScrubContext.today), so these edits stay pure and testable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from edi.claim import Claim
from payers.claim_parts import patient_birth_date
from payers.registry import ScrubContext, Violation, rule


def _service_dates(claim: Claim) -> Iterator[tuple[str, date]]:
    """Every date of service on the claim with its pointer."""
    if claim.statement_from is not None:
        yield "/statement_from", claim.statement_from
    if claim.statement_to is not None:
        yield "/statement_to", claim.statement_to
    for i, line in enumerate(claim.service_lines):
        yield f"/service_lines/{i}/service_date", line.service_date
        if line.service_date_end is not None:
            yield f"/service_lines/{i}/service_date_end", line.service_date_end


@rule(
    "SERVICE_DATE_FUTURE",
    snip_type=4,
    severity="error",
    description="No date of service or statement date is after today (the scrub date).",
    failing_example="service_date tomorrow",
)
def service_date_future(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, when in _service_dates(claim):
        if when > ctx.today:
            yield where, f"{when} is in the future; bill services only once they are given."


@rule(
    "SERVICE_BEFORE_BIRTH",
    snip_type=4,
    severity="error",
    description="No date of service is before the patient's birth date (patient, else subscriber).",
    failing_example="service_date 1979-12-31 for a patient born 1980-04-12",
)
def service_before_birth(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    _, born = patient_birth_date(claim)
    if born is None:
        return
    for where, when in _service_dates(claim):
        if when < born:
            yield (
                where,
                f"{when} is before the patient's birth date; correct the date of service or "
                "the birth date.",
            )


@rule(
    "DATE_RANGE_REVERSED",
    snip_type=4,
    severity="error",
    description="Ranges run forward: service_date <= service_date_end and "
    "statement_from <= statement_to.",
    failing_example="statement_from 2026-10-21, statement_to 2026-10-20",
)
def date_range_reversed(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    start, end = claim.statement_from, claim.statement_to
    if start is not None and end is not None and end < start:
        yield "/statement_to", f"statement_to {end} is before statement_from {start}."
    for i, line in enumerate(claim.service_lines):
        if line.service_date_end is not None and line.service_date_end < line.service_date:
            yield (
                f"/service_lines/{i}/service_date_end",
                f"service_date_end {line.service_date_end} is before service_date "
                f"{line.service_date}.",
            )


@rule(
    "LINE_OUTSIDE_STATEMENT",
    snip_type=4,
    severity="error",
    description="Every line's dates of service fall within the statement period (institutional).",
    failing_example="service_date 2026-10-19 on a statement 2026-10-20..2026-10-20",
)
def line_outside_statement(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    start, end = claim.statement_from, claim.statement_to
    if start is None or end is None:
        return
    for i, line in enumerate(claim.service_lines):
        last = line.service_date_end or line.service_date
        if line.service_date < start or last > end:
            yield (
                f"/service_lines/{i}/service_date",
                f"the line's dates {line.service_date}..{last} fall outside the statement "
                f"period {start}..{end}; correct the line dates or the statement period.",
            )
