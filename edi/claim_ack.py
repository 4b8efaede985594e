"""The claim acknowledgment model: one 277CA (005010X214) information source as frozen dataclasses.

    ST BHT
      2000A HL*20 source     2100A NM1*PR   2200A TRN*1 DTP*050 DTP*009
        2000B HL*21 receiver   2100B NM1*41  2200B TRN*2 STC QTY*90/AA AMT*YU/YY
          2000C HL*19 provider   2100C NM1*85  2200C TRN*1 STC QTY*QA/QC AMT*YU/YY
            2000D HL*PT patient    2100D NM1*QC  2200D TRN*2 STC REF*1K REF*D9 REF*BLT DTP*472
              2220D line  SVC STC REF*FJ DTP*472
    SE

A claim is with the payer once its status category is A2 (ideally with REF*1K); A3-A8 are
rejections the biller must fix and resend. A date the sender wrote wrongly is read as None and
reported as a finding (the 835's Finding, rule "unreadable"), so one bad date does not hide
the other claims of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from edi.claim import Procedure
from edi.codes import describe
from edi.read_envelope import Envelope
from edi.remittance import Finding

CLAIM_ACK_VERSION = "005010X214"

# Categories that send the claim back to the biller (it never entered adjudication).
REJECTED_CATEGORIES = frozenset(("A3", "A4", "A6", "A7", "A8", "E0", "E3"))


@dataclass(frozen=True, slots=True)
class StatusCode:
    """One status composite: STC01 (or STC10, STC11)."""

    category: str  # -1: claim status category (A1 received, A2 accepted, A7 invalid ...)
    code: str  # -2: claim status code (code source 508), why
    entity: str | None = None  # -3: entity identifier the status concerns (85 billing, QC ...)

    @property
    def category_meaning(self) -> str:
        return describe("claim_status_category", self.category)

    @property
    def code_meaning(self) -> str:
        return describe("claim_status", self.code)

    @property
    def entity_meaning(self) -> str:
        return describe("entity_identifier", self.entity)

    @property
    def rejected(self) -> bool:
        return self.category in REJECTED_CATEGORIES


@dataclass(frozen=True, slots=True)
class Status:
    """STC: a status with its date, action and amount, and up to two more composites."""

    status: StatusCode  # STC01
    date: date | None = None  # STC02: status effective date (not used at provider level)
    action: str | None = None  # STC03: WQ accepted, U rejected
    charge: Decimal | None = None  # STC04: total claim (or batch) charge
    additional: tuple[StatusCode, ...] = ()  # STC10, STC11
    message: str | None = None  # STC12: free-form message (claim level only)

    @property
    def codes(self) -> tuple[StatusCode, ...]:
        return (self.status, *self.additional)


@dataclass(frozen=True, slots=True)
class Party:
    """An NM1: a person (name = last name) or an organization."""

    name: str  # NM103: organization or last name
    identifier: str  # NM109
    identifier_qualifier: str  # NM108: PI payer id, 46 ETIN, XX NPI, FI tax id, MI member id
    first_name: str | None = None  # NM104
    middle_name: str | None = None  # NM105
    is_person: bool = False  # NM102: 1 person, 2 organization


@dataclass(frozen=True, slots=True)
class LineStatus:
    """Loop 2220D: the status of one service line."""

    procedure: Procedure  # SVC01
    charge: Decimal  # SVC02
    statuses: tuple[Status, ...]  # STC
    revenue_code: str | None = None  # SVC04
    units: Decimal | None = None  # SVC07
    line_control_number: str | None = None  # REF*FJ: our line item control number (REF*6R)
    service_date: date | None = None  # DTP*472 (D8, or the start of RD8)
    service_end_date: date | None = None  # DTP*472 RD8 end


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """Loops 2000D/2200D: the payer's (or clearinghouse's) verdict on one claim."""

    patient: Party  # 2100D NM1*QC
    patient_control_number: str  # TRN02: our CLM01
    statuses: tuple[Status, ...]  # STC, first is the main one
    payer_claim_control_number: str | None = None  # REF*1K
    clearinghouse_trace: str | None = None  # REF*D9
    bill_type: str | None = None  # REF*BLT (institutional)
    service_date: date | None = None  # DTP*472 (D8, or the start of RD8)
    service_end_date: date | None = None  # DTP*472 RD8 end
    lines: tuple[LineStatus, ...] = ()  # loop 2220D

    @property
    def category(self) -> str:
        """STC01-1 of the first STC."""
        return self.statuses[0].status.category if self.statuses else ""

    @property
    def rejected(self) -> bool:
        return any(code.rejected for s in self.statuses for code in s.codes)

    @property
    def total_charge(self) -> Decimal | None:
        """STC04 of the first STC."""
        return self.statuses[0].charge if self.statuses else None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """Loops 2000C/2200C: one billing provider and its claims."""

    provider: Party  # 2100C NM1*85
    trace_number: str  # 2200C TRN02
    statuses: tuple[Status, ...]  # STC
    claims: tuple[ClaimStatus, ...] = ()  # loops 2000D
    accepted_quantity: int | None = None  # QTY*QA
    rejected_quantity: int | None = None  # QTY*QC
    accepted_amount: Decimal | None = None  # AMT*YU
    rejected_amount: Decimal | None = None  # AMT*YY


@dataclass(frozen=True, slots=True)
class ClaimAcknowledgment:
    """One 277CA information source (2000A) with its receiver's batch (2000B)."""

    reference: str  # BHT03: originator's reference
    created: date  # BHT04
    source: Party  # 2100A NM1*PR or NM1*AY: who acknowledges (payer or clearinghouse)
    source_trace: str  # 2200A TRN02
    received_date: date | None  # 2200A DTP*050 (required; None when a sender leaves it out)
    processed_date: date | None  # 2200A DTP*009 (required; None when left out)
    receiver: Party  # 2100B NM1*41: who sent the claims
    receiver_trace: str  # 2200B TRN02: the batch reference
    receiver_statuses: tuple[Status, ...]  # 2200B STC
    providers: tuple[ProviderStatus, ...] = ()  # loops 2000C
    accepted_quantity: int | None = None  # 2200B QTY*90
    rejected_quantity: int | None = None  # 2200B QTY*AA
    accepted_amount: Decimal | None = None  # 2200B AMT*YU
    rejected_amount: Decimal | None = None  # 2200B AMT*YY
    envelope: Envelope | None = field(default=None, compare=False)  # where this set came from
    source_is_clearinghouse: bool = False  # 2100A NM101 AY (a clearinghouse), else PR (payer)
    findings: tuple[Finding, ...] = ()  # filled by the reader: dates it could not read

    def claims(self) -> Iterator[tuple[ProviderStatus, ClaimStatus]]:
        """Every claim with its billing provider, in file order."""
        for provider in self.providers:
            for claim in provider.claims:
                yield provider, claim
