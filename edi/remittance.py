"""The remittance model: one 835 (005010X221A1) transaction set as frozen dataclasses.

    ST 835
      BPR TRN DTM*405                     payment, trace, production date
      1000A N1*PR N3 N4 PER*BL            payer
      1000B N1*PE N3 N4 REF*TJ            payee
      2000 LX                             header number (claims are grouped under it)
        2100 CLP CAS NM1*QC MOA DTM*232/233/050 AMT
          2110 SVC DTM*472/150/151 CAS REF*6R AMT*B6 LQ*HE
      PLB                                 provider-level adjustments
    SE

Amounts are Decimal and dates are date. Balancing problems are findings on the value, never
exceptions: a payer's arithmetic is reported, not refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from edi.claim import Address, Adjustment, Contact, Procedure
from edi.codes import describe
from edi.read_envelope import Envelope

REMITTANCE_VERSION = "005010X221A1"


def group_meaning(group: str) -> str:
    """CAS01 claim adjustment group code (CO, OA, PI, PR) -> description."""
    return describe("adjustment_group", group)


def adjustment_meaning(reason: str) -> str:
    """CARC (CAS02 ...) -> description."""
    return describe("carc", reason)


def remark_meaning(code: str) -> str:
    """RARC (LQ02, MOA03 ...) -> description."""
    return describe("rarc", code)


@dataclass(frozen=True, slots=True)
class BankAccount:
    """BPR06-09 (the payer's bank) or BPR12-15 (the payee's bank), for ACH payments."""

    dfi_qualifier: str  # BPR06 / BPR12: 01 ABA routing number, 04 Canadian bank
    dfi_number: str  # BPR07 / BPR13
    account_qualifier: str  # BPR08 / BPR14: DA demand deposit, SG savings
    account_number: str  # BPR09 / BPR15


@dataclass(frozen=True, slots=True)
class Payment:
    """BPR: how much is paid, how and when."""

    handling: str  # BPR01: C payment with advice, H advice only, I remittance info only, P, U, X
    amount: Decimal  # BPR02: total actual provider payment
    credit_debit: str  # BPR03: C credit, D debit
    method: str  # BPR04: ACH, BOP, CHK, FWT, NON
    date: date | None  # BPR16: check or EFT date (required; None when a payer leaves it out)
    format: str | None = None  # BPR05: CCP, CTX (ACH only)
    sender_account: BankAccount | None = None  # BPR06-09
    originating_company_id: str | None = None  # BPR10
    receiver_account: BankAccount | None = None  # BPR12-15


@dataclass(frozen=True, slots=True)
class Payer:
    """Loop 1000A: who pays."""

    name: str  # N102
    address: Address | None = None  # N3/N4 (required by the guide; None when absent)
    identifier: str | None = None  # N104 with N103 XV (CMS plan id), or REF*2U payer id
    contact: Contact | None = None  # PER*BL technical contact


@dataclass(frozen=True, slots=True)
class Payee:
    """Loop 1000B: who is paid."""

    name: str  # N102
    npi: str | None = None  # N104 when N103 is XX
    tax_id: str | None = None  # N104 when N103 is FI, else REF*TJ
    other_id: str | None = None  # N104 under another qualifier (XV, PI ...)
    other_id_qualifier: str | None = None  # N103 of other_id
    address: Address | None = None  # N3/N4


@dataclass(frozen=True, slots=True)
class ServicePayment:
    """Loop 2110: how one service line was paid."""

    procedure: Procedure  # SVC01: qualifier (HC, NU, ...), code, modifiers, description
    charge: Decimal  # SVC02: line item charge
    paid: Decimal  # SVC03: line item provider payment
    revenue_code: str | None = None  # SVC04 (NUBC revenue code, institutional)
    units: Decimal | None = None  # SVC05: units of service paid
    submitted_procedure: Procedure | None = None  # SVC06 when the payer changed the code
    submitted_units: Decimal | None = None  # SVC07
    service_date: date | None = None  # DTM*472, or DTM*150 (period start)
    service_end_date: date | None = None  # DTM*151 (period end), only with a period
    adjustments: tuple[Adjustment, ...] = ()  # CAS, one triplet each
    line_control_number: str | None = None  # REF*6R: our line item control number
    allowed_amount: Decimal | None = None  # AMT*B6
    remark_codes: tuple[str, ...] = ()  # LQ*HE: RARC

    @property
    def adjustment_total(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), Decimal(0))


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    """Loop 2100: how one claim was adjudicated."""

    patient_control_number: str  # CLP01: our CLM01
    status: str  # CLP02: 1-3 processed, 4 denied, 19-21 forwarded, 22 reversal, 23, 25
    total_charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    filing_indicator: str  # CLP06: 12 PPO, 13 POS, 15 indemnity, MA, MB, MC, CI, HM ...
    patient_responsibility: Decimal | None = None  # CLP05
    payer_claim_control_number: str | None = None  # CLP07
    facility_type: str | None = None  # CLP08 (place of service or type of bill)
    frequency_code: str | None = None  # CLP09
    drg_code: str | None = None  # CLP11
    patient_last_name: str | None = None  # NM1*QC NM103
    patient_first_name: str | None = None  # NM1*QC NM104
    patient_id: str | None = None  # NM1*QC NM109 (member id)
    statement_start: date | None = None  # DTM*232
    statement_end: date | None = None  # DTM*233
    received_date: date | None = None  # DTM*050
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS, one triplet each
    remark_codes: tuple[str, ...] = ()  # MOA03-07 (outpatient remarks)
    lines: tuple[ServicePayment, ...] = ()  # loop 2110

    @property
    def status_meaning(self) -> str:
        return describe("claim_payment_status", self.status)

    @property
    def is_reversal(self) -> bool:
        """CLP02 22: the payer takes back an earlier payment (amounts are negated)."""
        return self.status == "22"

    @property
    def is_denied(self) -> bool:
        return self.status == "4"

    @property
    def adjustment_total(self) -> Decimal:
        """Claim-level and line-level CAS amounts together."""
        total = sum((a.amount for a in self.adjustments), Decimal(0))
        return total + sum((line.adjustment_total for line in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB adjustment pair: money taken (positive) or given (negative) outside any claim."""

    provider_id: str  # PLB01: provider identifier (NPI or tax id)
    fiscal_period_date: date | None  # PLB02: last day of the provider's fiscal year
    reason: str  # PLB03-1 (or 05-1 ...): WO overpayment recovery, FB forwarding balance, L6 ...
    amount: Decimal  # PLB04 (or 06 ...): positive reduces the payment
    reference: str | None = None  # PLB03-2: e.g. the claim or invoice the adjustment concerns


Rule = Literal["claim", "line", "transaction", "unreadable"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong in an 835 (or a 277CA) that did not stop it being read.

    Balancing rules: claim CLP03 - claim CAS - line CAS = CLP04; line SVC02 - line CAS = SVC03;
    transaction BPR02 = sum(CLP04) - sum(PLB). `expected` is what the identity gives, `actual`
    the amount sent. Rule "unreadable": a date the payer wrote wrongly, read as None (`detail`
    holds the element and text), so one bad date does not hide a payment (or, in a 277CA, the
    other claims' statuses).
    """

    rule: Rule
    expected: Decimal | None = None
    actual: Decimal | None = None
    patient_control_number: str | None = None  # CLP01 (277CA: 2200D TRN02) of the claim
    line_number: int | None = None  # 1-based service line within the claim
    segment_number: int | None = None  # CLP, SVC, BPR (or bad segment) position in the file
    detail: str | None = None  # for "unreadable": which element held what

    @property
    def message(self) -> str:
        where = ""
        if self.patient_control_number is not None:
            where = f" for claim {self.patient_control_number}"
        if self.line_number is not None:
            where += f" line {self.line_number}"
        if self.rule == "unreadable":
            return f"unreadable value {self.detail}{where}, read as empty"
        what = {"claim": "CLP04", "line": "SVC03", "transaction": "BPR02"}[self.rule]
        return f"{what} is {self.actual} but the adjustments give {self.expected}{where}"


@dataclass(frozen=True, slots=True)
class Remittance:
    """One 835 transaction set: one payment (or advice) from one payer to one payee."""

    payment: Payment  # BPR
    trace_number: str  # TRN02: check or EFT trace number
    payer: Payer  # loop 1000A
    payee: Payee  # loop 1000B
    originator_id: str | None = None  # TRN03: payer's company id (1 + tax id)
    production_date: date | None = None  # DTM*405
    claims: tuple[ClaimPayment, ...] = ()  # loops 2000/2100
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()  # PLB, one pair each
    findings: tuple[Finding, ...] = ()  # filled by the reader (see check_balance)
    envelope: Envelope | None = field(default=None, compare=False)  # where this set came from

    @property
    def paid_total(self) -> Decimal:
        return sum((c.paid for c in self.claims), Decimal(0))

    @property
    def provider_adjustment_total(self) -> Decimal:
        return sum((p.amount for p in self.provider_adjustments), Decimal(0))


def claim_finding(claim: ClaimPayment, segment_number: int | None = None) -> Finding | None:
    expected = claim.total_charge - claim.adjustment_total
    if expected == claim.paid:
        return None
    return Finding(
        "claim", expected, claim.paid, claim.patient_control_number, None, segment_number
    )


def line_finding(
    line: ServicePayment,
    claim_pcn: str,
    line_number: int,
    segment_number: int | None = None,
) -> Finding | None:
    expected = line.charge - line.adjustment_total
    if expected == line.paid:
        return None
    return Finding("line", expected, line.paid, claim_pcn, line_number, segment_number)


def transaction_finding(
    remittance: Remittance, segment_number: int | None = None
) -> Finding | None:
    expected = remittance.paid_total - remittance.provider_adjustment_total
    if expected == remittance.payment.amount:
        return None
    return Finding("transaction", expected, remittance.payment.amount, None, None, segment_number)


def check_balance(remittance: Remittance) -> tuple[Finding, ...]:
    """The balancing findings of a remittance value (without file positions): per line, per
    claim, then the transaction. Empty when everything balances."""
    out: list[Finding] = []
    for claim in remittance.claims:
        for i, line in enumerate(claim.lines, 1):
            f = line_finding(line, claim.patient_control_number, i)
            if f is not None:
                out.append(f)
        f = claim_finding(claim)
        if f is not None:
            out.append(f)
    f = transaction_finding(remittance)
    if f is not None:
        out.append(f)
    return tuple(out)
