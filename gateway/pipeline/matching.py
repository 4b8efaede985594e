"""Which sent claim a payer's 277CA or 835 speaks of (pure): the claims sent to that payer under
the answer's CLM01, narrowed by everything else the answer says, and never a guess.

CLM01 is unique only within one submitter, so two practices can send the same one to one
payer. The answer is matched to the one claim that fits all it says: the payer's claim number
(REF*1K, CLP07), the batch reference its 277CA echoes (2200B TRN02 = the BHT03 of our 837,
which is that 837's ISA13), the charge (STC04, CLP03), the service dates, and the billing
provider it names (277CA 2100C, 835 N1*PE). An answer that fits no claim, or more than one,
is held for a person (the inbound interchange is kept `unmatched`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from gateway.storage.claims import ClaimRecord


@dataclass(frozen=True)
class Sent:
    """A claim sent to the payer, with what the answer may be compared against."""

    record: ClaimRecord
    control_numbers: frozenset[int]  # ISA13 (= BHT03) of each 837 that carried it
    billing_npi: str | None = None  # 2010AA NM109, read only when CLM01 is shared
    billing_tax_id: str | None = None  # 2010AA REF*EI


@dataclass(frozen=True)
class Evidence:
    """What an answer says of the claim it is about, besides its CLM01."""

    patient_control_number: str  # 277CA 2200D TRN02, 835 CLP01
    payer_claim_number: str | None = None  # REF*1K, CLP07
    batch_reference: str | None = None  # 277CA 2200B TRN02
    total_charge: Decimal | None = None  # STC04, CLP03 (negated in a reversal)
    service_start: date | None = None  # DTP*472, DTM*232, the first line's date
    service_end: date | None = None
    provider_npi: str | None = None  # 277CA 2100C NM109 (XX), 835 N1*PE (XX)
    provider_tax_id: str | None = None  # 277CA 2100C NM109 (FI), 835 N1*PE (FI) or REF*TJ


@dataclass(frozen=True)
class Match:
    record: ClaimRecord | None
    why_not: str = ""  # when None: why, without PHI (counts and our claim ids, no CLM01)


def group_sent(rows: Iterable[tuple[ClaimRecord, int | None]]) -> list[Sent]:
    """(claim, ISA13) rows, one per 837 that carried the claim -> one Sent per claim, in the
    order first seen."""
    by_id: dict[str, tuple[ClaimRecord, set[int]]] = {}
    for record, control in rows:
        _, controls = by_id.setdefault(record.id, (record, set()))
        if control is not None:
            controls.add(control)
    return [Sent(record, frozenset(controls)) for record, controls in by_id.values()]


def match(candidates: list[Sent], evidence: Evidence, payer_numbers: Mapping[str, str]) -> Match:
    """The one candidate the evidence fits. `payer_numbers` holds payer claim numbers this
    answer file has already given claims (they count as known)."""
    if not candidates:
        return Match(None, "no claim was sent to this payer under its CLM01")

    def known_number(sent: Sent) -> str | None:
        return payer_numbers.get(sent.record.id, sent.record.payer_claim_number)

    number = evidence.payer_claim_number
    # An identifier that says "not this claim" rules a candidate out, even the only one.
    fitting = [s for s in candidates if not number or known_number(s) in (None, number)]
    if number:
        # The payer's number on the claim already is the strongest sign there is.
        named = [s for s in fitting if known_number(s) == number]
        if len(named) == 1:
            return Match(named[0].record)
    if len(candidates) == 1:
        if fitting:
            return Match(fitting[0].record)
        return Match(None, "the payer's claim number differs from the one it gave the claim")
    for fits in _description_checks(evidence):
        fitting = [s for s in fitting if fits(s)]
    reference = evidence.batch_reference
    if len(fitting) > 1 and reference and reference.isdigit():
        # Last, as a payer that does not echo our reference may put a number of its own here.
        same_batch = [s for s in fitting if int(reference) in s.control_numbers]
        fitting = same_batch or fitting
    if len(fitting) == 1:
        return Match(fitting[0].record)
    sent_by = len({s.record.submitter_id for s in candidates})
    if not fitting:
        ids = ", ".join(sorted(s.record.id for s in candidates))
        return Match(
            None,
            f"{len(candidates)} claims were sent under its CLM01 (by {sent_by} submitters: "
            f"{ids}) and it fits none of them",
        )
    ids = ", ".join(sorted(s.record.id for s in fitting))
    return Match(None, f"it fits {len(fitting)} claims equally: {ids}")


def _description_checks(evidence: Evidence) -> list[Callable[[Sent], bool]]:
    """A check per thing the answer says of the claim; a candidate must pass all of them."""
    checks: list[Callable[[Sent], bool]] = []
    charge = evidence.total_charge
    if charge is not None:
        checks.append(lambda s: s.record.total_charge == abs(charge))
    start, end = evidence.service_start, evidence.service_end
    if start is not None:
        # The answer's dates lie within the claim's (a line's date, or the whole period).
        checks.append(
            lambda s: (
                s.record.service_date_start <= start <= s.record.service_date_end
                and (end is None or s.record.service_date_start <= end <= s.record.service_date_end)
            )
        )
    npi, tax_id = evidence.provider_npi, evidence.provider_tax_id
    if npi:
        checks.append(lambda s: s.billing_npi is None or s.billing_npi == npi)
    if tax_id:
        checks.append(lambda s: s.billing_tax_id is None or s.billing_tax_id == tax_id)
    return checks
