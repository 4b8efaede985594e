"""How the simulator decides each claim (pure): outcome from the patient control number, and
the 835 claim payment that follows from the payer's [simulator] parameters.

The outcome is a deterministic function of CLM01, so a test can predict every claim's end:

    bucket = sha256(CLM01) mod 100, taken against the shares in this order:
    reject | pend | deny | patient_share | reverse | partial | paid (the rest)

Amounts: allowed = charge x allowed_percent (per line, to the cent); CO-45 takes the rest.
On a COB claim, what the earlier payers settled (loop 2320: all but the patient's remaining
liability, else what they paid) comes off the allowed amount as OA-23, line by line. With a
patient share, PR-1 (deductible) comes off the allowed amount first, line by line,
then PR-2 (coinsurance) is coinsurance_percent of what remains. Denials adjust the whole
charge under the payer's denial CARC with its RARC on each line; a partial payment denies
every line but the first that way.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from edi.claim import Adjustment, Claim, Procedure, ServiceLine
from edi.remittance import ClaimPayment, ServicePayment
from payers.profile import Simulation

Outcome = Literal["rejected", "pended", "denied", "patient_share", "reversed", "partial", "paid"]
CENT = Decimal("0.01")

# CLP06 claim filing indicator from the 837's SBR09 (the codes differ for a few plan types).
_FILING = {"CI": "12", "BL": "12", "HM": "HM", "MA": "MA", "MB": "MB", "MC": "MC", "WC": "WC"}


def bucket(patient_control_number: str) -> int:
    return int(hashlib.sha256(patient_control_number.encode()).hexdigest()[:8], 16) % 100


def outcome_for(patient_control_number: str, sim: Simulation) -> Outcome:
    b = bucket(patient_control_number)
    for outcome, share in (
        ("rejected", sim.reject_percent),
        ("pended", sim.pend_percent),
        ("denied", sim.deny_percent),
        ("patient_share", sim.patient_share_percent),
        ("reversed", sim.reverse_percent),
        ("partial", sim.partial_percent),
    ):
        if b < share:
            return outcome  # type: ignore[return-value]
        b -= share
    return "paid"


def payer_claim_number(payer_id: str, patient_control_number: str, control_number: int) -> str:
    """REF*1K / CLP07: the payer's own number for the claim, stable for the same submission."""
    digest = hashlib.sha256(f"{patient_control_number}|{control_number}".encode()).hexdigest()
    return f"{payer_id[:3]}{int(digest[:12], 16) % 10**12:012d}"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _procedure(line: ServiceLine) -> Procedure:
    if line.procedure is not None:
        return line.procedure
    # Institutional lines without HCPCS are paid by revenue code (SVC01 NU).
    return Procedure(code=line.revenue_code or "0001", qualifier="NU")


def adjudicate(
    claim: Claim,
    sim: Simulation,
    outcome: Outcome,
    *,
    payer_claim_control_number: str,
) -> ClaimPayment:
    """The 835 claim payment for a claim the payer accepted (any outcome but rejected)."""
    denied = outcome == "denied"
    patient_share = outcome == "patient_share"
    deductible_left = Decimal(sim.deductible) if patient_share else Decimal(0)
    paying = [
        not (denied or (outcome == "partial" and number > 0))
        for number in range(len(claim.service_lines))
    ]
    allowed_amounts = [
        _cents(line.charge * sim.allowed_percent / 100) if pays else Decimal(0)
        for line, pays in zip(claim.service_lines, paying, strict=True)
    ]
    prior_left = _settled_before(claim, sum(allowed_amounts, Decimal(0)))
    lines = []
    for line, pays, allowed in zip(claim.service_lines, paying, allowed_amounts, strict=True):
        adjustments: list[Adjustment] = []
        remarks: tuple[str, ...] = ()
        if not pays:
            adjustments.append(Adjustment("CO", sim.deny_carc, line.charge))
            remarks = (sim.deny_rarc,)
            paid = Decimal(0)
        else:
            if line.charge > allowed:
                adjustments.append(Adjustment("CO", "45", line.charge - allowed))
            # A secondary payer owes only what the earlier payers left of the allowed amount.
            prior = min(prior_left, allowed)
            prior_left -= prior
            if prior:
                adjustments.append(Adjustment("OA", "23", prior))
            owed = allowed - prior
            deductible = min(deductible_left, owed)
            deductible_left -= deductible
            coinsurance = (
                _cents((owed - deductible) * sim.coinsurance_percent / 100)
                if patient_share
                else Decimal(0)
            )
            if deductible:
                adjustments.append(Adjustment("PR", "1", deductible))
            if coinsurance:
                adjustments.append(Adjustment("PR", "2", coinsurance))
            paid = owed - deductible - coinsurance
        lines.append(
            ServicePayment(
                procedure=_procedure(line),
                charge=line.charge,
                paid=paid,
                revenue_code=line.revenue_code if line.procedure is not None else None,
                units=line.units,
                service_date=line.service_date,
                service_end_date=line.service_date_end,
                adjustments=tuple(adjustments),
                line_control_number=line.line_control_number,
                allowed_amount=None if denied else allowed,
                remark_codes=remarks,
            )
        )
    paid_total = sum((line.paid for line in lines), Decimal(0))
    patient_total = sum(
        (a.amount for line in lines for a in line.adjustments if a.group == "PR"), Decimal(0)
    )
    return ClaimPayment(
        patient_control_number=claim.patient_control_number,
        status="4" if denied else _processed_as(claim),
        total_charge=claim.total_charge,
        paid=paid_total,
        filing_indicator=_FILING.get(claim.payer.claim_filing_indicator, "12"),
        patient_responsibility=patient_total,
        payer_claim_control_number=payer_claim_control_number,
        facility_type=claim.place_of_service or claim.facility_type,
        frequency_code=claim.frequency_code,
        statement_start=claim.statement_from,
        statement_end=claim.statement_to,
        lines=tuple(lines),
    )


def _settled_before(claim: Claim, allowed: Decimal) -> Decimal:
    """What the earlier payers of a COB claim (loop 2320) settled of this payer's allowed
    amount: all of it but the patient's remaining liability (AMT*EAF) when they say it, else
    what they paid (AMT*D). Adjusted as OA-23, the impact of prior payers' adjudication."""
    if not claim.other_payers:
        return Decimal(0)
    remaining = [o.remaining_patient_liability for o in claim.other_payers]
    if all(r is not None for r in remaining):
        left = min((r for r in remaining if r is not None), default=Decimal(0))
        return max(Decimal(0), allowed - left)
    paid = sum((o.paid_amount or Decimal(0) for o in claim.other_payers), Decimal(0))
    return min(allowed, paid)


def _processed_as(claim: Claim) -> str:
    """CLP02 1, 2 or 3: processed as primary, secondary or tertiary."""
    return {"S": "2", "T": "3"}.get(claim.payer.responsibility, "1")


def reversal_of(payment: ClaimPayment) -> ClaimPayment:
    """CLP02 22: the same payment taken back, every amount negated."""

    def negate(adjustments: tuple[Adjustment, ...]) -> tuple[Adjustment, ...]:
        return tuple(Adjustment(a.group, a.reason, -a.amount, a.quantity) for a in adjustments)

    return ClaimPayment(
        patient_control_number=payment.patient_control_number,
        status="22",
        total_charge=-payment.total_charge,
        paid=-payment.paid,
        filing_indicator=payment.filing_indicator,
        patient_responsibility=-(payment.patient_responsibility or Decimal(0)),
        payer_claim_control_number=payment.payer_claim_control_number,
        facility_type=payment.facility_type,
        frequency_code=payment.frequency_code,
        statement_start=payment.statement_start,
        statement_end=payment.statement_end,
        adjustments=negate(payment.adjustments),
        lines=tuple(
            ServicePayment(
                procedure=line.procedure,
                charge=-line.charge,
                paid=-line.paid,
                revenue_code=line.revenue_code,
                units=line.units,
                service_date=line.service_date,
                service_end_date=line.service_end_date,
                adjustments=negate(line.adjustments),
                line_control_number=line.line_control_number,
            )
            for line in payment.lines
        ),
    )
