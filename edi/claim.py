"""The claim model: one professional (837P) or institutional (837I) claim as frozen dataclasses.

Mirrors schemas/claim.schema.json field for field; the X12 home of each field is in its comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

ClaimType = Literal["professional", "institutional"]


@dataclass(frozen=True, slots=True)
class Address:
    line1: str  # N301
    city: str  # N401
    state: str  # N402
    postal_code: str  # N403
    line2: str | None = None  # N302
    country_code: str | None = None  # N404


@dataclass(frozen=True, slots=True)
class Contact:
    name: str | None = None  # PER02
    phone: str | None = None  # PER04 with TE
    email: str | None = None  # PER0x with EM
    fax: str | None = None  # PER0x with FX


@dataclass(frozen=True, slots=True)
class Submitter:
    """Loop 1000A: who sends the interchange (the billing system or its vendor)."""

    name: str  # NM103
    identifier: str  # NM109 (ETIN assigned by the receiver)
    contact: Contact  # PER
    is_person: bool = False  # NM102 1 person / 2 organization
    first_name: str | None = None  # NM104


@dataclass(frozen=True, slots=True)
class Receiver:
    """Loop 1000B: who receives the interchange (payer or next clearinghouse)."""

    name: str  # NM103
    identifier: str  # NM109


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider named in an NM1: a person (last/first name) or an organization."""

    npi: str | None = None  # NM109 with NM108 XX
    organization_name: str | None = None  # NM103 when NM102 = 2
    last_name: str | None = None  # NM103 when NM102 = 1
    first_name: str | None = None  # NM104
    middle_name: str | None = None  # NM105
    suffix: str | None = None  # NM107
    taxonomy: str | None = None  # PRV03 (PXC)
    address: Address | None = None  # N3/N4 (service facility only)
    secondary_id: str | None = None  # REF*G2 / REF*0B

    @property
    def is_organization(self) -> bool:
        return self.organization_name is not None


@dataclass(frozen=True, slots=True)
class BillingProvider:
    """Loop 2000A/2010AA: the provider that bills and is paid."""

    npi: str  # NM109 with XX
    tax_id: str  # REF02 (REF01 EI or SY)
    address: Address  # N3/N4, a street address
    organization_name: str | None = None  # NM103 when NM102 = 2
    last_name: str | None = None  # NM103 when NM102 = 1
    first_name: str | None = None  # NM104
    middle_name: str | None = None  # NM105
    suffix: str | None = None  # NM107
    tax_id_type: Literal["EI", "SY"] = "EI"  # REF01: employer id or social security number
    taxonomy: str | None = None  # PRV03 with PRV01 BI
    contact: Contact | None = None  # PER

    @property
    def is_organization(self) -> bool:
        return self.organization_name is not None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Loop 2000B/2010BA: the insured member."""

    member_id: str  # NM109 with MI
    last_name: str  # NM103
    first_name: str | None = None  # NM104
    middle_name: str | None = None  # NM105
    suffix: str | None = None  # NM107
    birth_date: date | None = None  # DMG02
    gender: Literal["M", "F", "U"] | None = None  # DMG03
    address: Address | None = None  # N3/N4
    group_number: str | None = None  # SBR03
    group_name: str | None = None  # SBR04


@dataclass(frozen=True, slots=True)
class Patient:
    """Loop 2000C/2010CA: the patient, present only when not the subscriber."""

    last_name: str  # NM103
    first_name: str  # NM104
    birth_date: date  # DMG02
    gender: Literal["M", "F", "U"]  # DMG03
    address: Address  # N3/N4
    relationship_to_subscriber: str  # PAT01 (01 spouse, 19 child, 20 employee, 21 unknown, ...)
    middle_name: str | None = None  # NM105
    suffix: str | None = None  # NM107


@dataclass(frozen=True, slots=True)
class Payer:
    """Loop 2000B SBR + 2010BB: the payer this claim is sent to."""

    payer_id: str  # 2010BB NM109 with PI
    name: str  # 2010BB NM103
    responsibility: str = "P"  # SBR01: P primary, S secondary, T tertiary, A-H, U
    claim_filing_indicator: str = "CI"  # SBR09: MB Medicare B, MC Medicaid, CI commercial, WC ...
    address: Address | None = None  # 2010BB N3/N4


@dataclass(frozen=True, slots=True)
class Accident:
    related_causes: tuple[str, ...]  # CLM11-1..2: AA auto, EM employment, OA other accident
    accident_date: date | None = None  # DTP*439
    state: str | None = None  # CLM11-4 (auto accidents)


@dataclass(frozen=True, slots=True)
class Admission:
    """Institutional admission data (loop 2300 DTP*435 and CL1)."""

    admission_date: date  # DTP*435
    type_code: str  # CL101
    source_code: str | None = None  # CL102
    hour: str | None = None  # DTP*435 with DT qualifier: HHMM


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str  # HI0x-2, ICD-10-CM as written (the dot is dropped in X12)
    present_on_admission: Literal["Y", "N", "U", "W"] | None = None  # HI0x-9 (institutional)


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str  # SV101-2 / SV202-2
    qualifier: str = "HC"  # SV101-1: HC (CPT/HCPCS), ER, IV, WK
    modifiers: tuple[str, ...] = ()  # SV101-3..6
    description: str | None = None  # SV101-7 (required for unlisted codes)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A claim adjustment (CAS): group, reason (CARC), amount, quantity."""

    group: str  # CAS01: CO, CR, OA, PI, PR
    reason: str  # CAS02: claim adjustment reason code
    amount: Decimal  # CAS03
    quantity: Decimal | None = None  # CAS04


@dataclass(frozen=True, slots=True)
class LineAdjudication:
    """Loop 2430: how another payer adjudicated this line (secondary claims)."""

    payer_id: str  # SVD01, matches an other payer's payer_id
    paid_amount: Decimal  # SVD02
    paid_units: Decimal  # SVD05
    adjudication_date: date  # DTP*573
    procedure: Procedure | None = None  # SVD03 (defaults to the line's procedure)
    revenue_code: str | None = None  # SVD04 (institutional)
    adjustments: tuple[Adjustment, ...] = ()  # CAS


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """Loop 2400: one service line (SV1 professional, SV2 institutional)."""

    charge: Decimal  # SV102 / SV203
    units: Decimal  # SV104 / SV205
    service_date: date  # DTP*472 (start when a range)
    procedure: Procedure | None = None  # SV101 (required professional); SV202 (optional)
    revenue_code: str | None = None  # SV201 (required institutional)
    unit_type: str = "UN"  # SV103 / SV204: UN units, MJ minutes (anesthesia), DA days
    service_date_end: date | None = None  # DTP*472 RD8 end
    place_of_service: str | None = None  # SV105, when it differs from CLM05-1
    diagnosis_pointers: tuple[int, ...] = ()  # SV107-1..4, 1-based into the claim's diagnoses
    line_control_number: str | None = None  # REF*6R
    adjudications: tuple[LineAdjudication, ...] = ()  # loop 2430


@dataclass(frozen=True, slots=True)
class OtherSubscriber:
    """Loop 2330A: the insured as known to the other payer."""

    member_id: str  # NM109 with MI
    last_name: str  # NM103
    first_name: str | None = None  # NM104


@dataclass(frozen=True, slots=True)
class OtherPayer:
    """Loops 2320/2330A/2330B: another payer on a COB (secondary or tertiary) claim."""

    payer_id: str  # 2330B NM109 with PI
    name: str  # 2330B NM103
    responsibility: str  # SBR01 of loop 2320
    relationship_to_subscriber: str  # SBR02 (18 self)
    claim_filing_indicator: str  # SBR09
    subscriber: OtherSubscriber  # 2330A
    paid_amount: Decimal | None = None  # AMT*D payer paid amount
    remaining_patient_liability: Decimal | None = None  # AMT*EAF
    adjudication_date: date | None = None  # 2330B DTP*573
    group_number: str | None = None  # SBR03
    adjustments: tuple[Adjustment, ...] = ()  # 2320 CAS, claim-level


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim with everything its 837 needs (loops 1000A-2430)."""

    claim_type: ClaimType
    submitter: Submitter  # 1000A
    billing_provider: BillingProvider  # 2010AA
    subscriber: Subscriber  # 2010BA
    payer: Payer  # SBR + 2010BB
    patient_control_number: str  # CLM01, unique per submitter
    total_charge: Decimal  # CLM02
    diagnoses: tuple[Diagnosis, ...]  # HI: first is principal (ABK), others ABF
    service_lines: tuple[ServiceLine, ...]  # 2400
    receiver: Receiver | None = None  # 1000B; defaults to the payer
    pay_to_address: Address | None = None  # 2010AB
    patient: Patient | None = None  # 2000C/2010CA when not the subscriber
    place_of_service: str | None = None  # CLM05-1 professional (CMS place of service code)
    facility_type: str | None = None  # CLM05-1 institutional (type of bill, first two digits)
    frequency_code: str = "1"  # CLM05-3: 1 original, 7 replacement, 8 void
    provider_signature_on_file: bool = True  # CLM06
    assignment_participation: str = "A"  # CLM07 (professional): A assigned, B lab only, C not
    benefits_assigned: bool = True  # CLM08
    release_of_information: str = "Y"  # CLM09: Y signed, I informed consent
    payer_claim_number: str | None = None  # REF*F8, required for frequency 7 and 8
    prior_authorization: str | None = None  # REF*G1
    referral_number: str | None = None  # REF*9F
    accident: Accident | None = None  # CLM11 + DTP*439
    onset_date: date | None = None  # DTP*431 (professional)
    statement_from: date | None = None  # DTP*434 (institutional)
    statement_to: date | None = None  # DTP*434 (institutional)
    admission: Admission | None = None  # DTP*435 + CL101/CL102 (institutional)
    patient_status: str | None = None  # CL103 discharge status (institutional)
    admitting_diagnosis: str | None = None  # HI*ABJ (institutional)
    rendering_provider: Provider | None = None  # 2310B (professional)
    referring_provider: Provider | None = None  # 2310A (P) / 2310F (I)
    attending_provider: Provider | None = None  # 2310A (institutional)
    service_facility: Provider | None = None  # 2310C (P) / 2310E (I)
    other_payers: tuple[OtherPayer, ...] = ()  # 2320/2330

    @property
    def service_date_start(self) -> date:
        if self.statement_from is not None:
            return self.statement_from
        return min(line.service_date for line in self.service_lines)

    @property
    def service_date_end(self) -> date:
        if self.statement_to is not None:
            return self.statement_to
        return max(line.service_date_end or line.service_date for line in self.service_lines)
