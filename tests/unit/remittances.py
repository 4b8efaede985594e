"""Synthetic remittances for tests and benchmarks: every name, id and amount here is invented."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from edi.claim import Address, Adjustment, Contact, Procedure
from edi.remittance import (
    BankAccount,
    ClaimPayment,
    Payee,
    Payer,
    Payment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

D = Decimal
PAYER = Payer(
    name="SYNTHETIC PLAN",
    address=Address("PO BOX 100", "TESTVILLE", "IL", "62701"),
    identifier="PAYER01",
    contact=Contact(name="EDI HELP", phone="5555550199", email="edi@plan.example"),
)
PAYEE = Payee(
    name="SYNTHETIC CLINIC",
    npi="1234567893",
    tax_id="111223333",
    address=Address("1 TEST WAY", "TESTVILLE", "IL", "627010001"),
)


def line(
    code: str = "99213",
    charge: str = "100.00",
    allowed: str = "80.00",
    deductible: str = "0",
    number: int = 1,
) -> ServicePayment:
    """A paid line: the contractual write-off brings the charge to the allowed amount."""
    adjustments = [Adjustment("CO", "45", D(charge) - D(allowed))]
    if D(deductible):
        adjustments.append(Adjustment("PR", "1", D(deductible)))
    return ServicePayment(
        procedure=Procedure(code, "HC", ("25",) if number == 2 else ()),
        charge=D(charge),
        paid=D(allowed) - D(deductible),
        units=D(1),
        service_date=date(2026, 10, 1),
        adjustments=tuple(adjustments),
        line_control_number=f"L{number}",
        allowed_amount=D(allowed),
        remark_codes=("N130",) if D(deductible) else (),
    )


def claim(pcn: str = "PCN1", lines: int = 2, status: str = "1") -> ClaimPayment:
    items = tuple(line(number=i + 1, deductible="20.00" if i == 0 else "0") for i in range(lines))
    charge = sum((x.charge for x in items), D(0))
    paid = sum((x.paid for x in items), D(0))
    responsibility = sum((a.amount for x in items for a in x.adjustments if a.group == "PR"), D(0))
    return ClaimPayment(
        patient_control_number=pcn,
        status=status,
        total_charge=charge,
        paid=paid,
        filing_indicator="12",
        patient_responsibility=responsibility,
        payer_claim_control_number=f"PAYERCCN{pcn}",
        facility_type="11",
        frequency_code="1",
        patient_last_name="TESTPERSON",
        patient_first_name="ALEX",
        patient_id="MEM0001",
        statement_start=date(2026, 10, 1),
        statement_end=date(2026, 10, 1),
        lines=items,
    )


def denied(pcn: str = "PCN2") -> ClaimPayment:
    return ClaimPayment(
        patient_control_number=pcn,
        status="4",
        total_charge=D("250.00"),
        paid=D(0),
        filing_indicator="12",
        payer_claim_control_number=f"PAYERCCN{pcn}",
        patient_last_name="TESTPERSON",
        patient_first_name="SAM",
        patient_id="MEM0002",
        adjustments=(Adjustment("CO", "29", D("250.00")),),
        remark_codes=("MA130",),
    )


def reversal(original: ClaimPayment) -> ClaimPayment:
    """CLP02 22: the same claim with every amount negated."""

    def neg(a: Adjustment) -> Adjustment:
        return replace(a, amount=-a.amount)

    return replace(
        original,
        status="22",
        total_charge=-original.total_charge,
        paid=-original.paid,
        patient_responsibility=(
            -original.patient_responsibility if original.patient_responsibility else None
        ),
        adjustments=tuple(neg(a) for a in original.adjustments),
        lines=tuple(
            replace(
                x,
                charge=-x.charge,
                paid=-x.paid,
                adjustments=tuple(neg(a) for a in x.adjustments),
                allowed_amount=None,
            )
            for x in original.lines
        ),
    )


def remittance(claims: tuple[ClaimPayment, ...] | None = None, plb: str = "0") -> Remittance:
    claims = claims if claims is not None else (claim("PCN1"), denied("PCN2"))
    adjustments = (
        (ProviderAdjustment("1234567893", date(2026, 12, 31), "WO", D(plb), "PCN9"),)
        if D(plb)
        else ()
    )
    total = sum((c.paid for c in claims), D(0)) - sum((a.amount for a in adjustments), D(0))
    return Remittance(
        payment=Payment(
            handling="C" if total else "H",
            amount=total,
            credit_debit="C",
            method="ACH" if total else "NON",
            date=date(2026, 11, 10),
            format="CCP" if total else None,
            sender_account=BankAccount("01", "999999992", "DA", "123456") if total else None,
            originating_company_id="1999999999" if total else None,
            receiver_account=BankAccount("01", "888888885", "DA", "98765") if total else None,
        ),
        trace_number="EFT0001",
        originator_id="1999999999",
        production_date=date(2026, 11, 9),
        payer=PAYER,
        payee=PAYEE,
        claims=claims,
        provider_adjustments=adjustments,
    )
