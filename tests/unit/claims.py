"""Synthetic claims for tests: a base professional and institutional claim and their variants.

Every name, id and number here is invented.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from edi.claim import (
    Accident,
    Address,
    Adjustment,
    Admission,
    BillingProvider,
    Claim,
    Contact,
    Diagnosis,
    LineAdjudication,
    OtherPayer,
    OtherSubscriber,
    Patient,
    Payer,
    Procedure,
    Provider,
    Receiver,
    ServiceLine,
    Submitter,
    Subscriber,
)

D = Decimal
SUBMITTER = Submitter("SYNTHETIC BILLING", "SUB0001", Contact(name="EDI DESK", phone="5555550100"))
ADDRESS = Address("1 TEST WAY", "TESTVILLE", "IL", "627010001")
BILLING = BillingProvider(
    npi="1234567893",
    tax_id="111223333",
    address=ADDRESS,
    organization_name="SYNTHETIC CLINIC",
    taxonomy="207Q00000X",
)
SUBSCRIBER = Subscriber(
    member_id="MEM0001",
    last_name="TESTPERSON",
    first_name="ALEX",
    birth_date=date(1980, 4, 12),
    gender="F",
    address=Address("2 SAMPLE ST", "TESTVILLE", "IL", "62704"),
    group_number="GRP1",
)
PAYER = Payer(payer_id="PAYER01", name="SYNTHETIC PLAN", claim_filing_indicator="CI")
PATIENT = Patient(
    last_name="TESTPERSON",
    first_name="SAM",
    birth_date=date(2015, 6, 1),
    gender="M",
    address=Address("2 SAMPLE ST", "TESTVILLE", "IL", "62704"),
    relationship_to_subscriber="19",
)
OTHER_PAYER = OtherPayer(
    payer_id="PAYER00",
    name="FIRST SYNTHETIC PLAN",
    responsibility="P",
    relationship_to_subscriber="18",
    claim_filing_indicator="CI",
    subscriber=OtherSubscriber("OTHER0001", "TESTPERSON", "ALEX"),
    paid_amount=D("80.00"),
    remaining_patient_liability=D("30.00"),
    adjudication_date=date(2026, 11, 10),
    group_number="OGRP",
    adjustments=(
        Adjustment("CO", "45", D("40.00")),
        Adjustment("PR", "1", D("20.00")),
        Adjustment("PR", "2", D("10.00"), D("1")),
    ),
)
LINE_ADJUDICATION = LineAdjudication(
    payer_id="PAYER00",
    paid_amount=D("80.00"),
    paid_units=D("1"),
    adjudication_date=date(2026, 11, 10),
    adjustments=(Adjustment("CO", "45", D("40.00")), Adjustment("PR", "2", D("30.00"))),
)


def professional(**changes: Any) -> Claim:
    claim = Claim(
        claim_type="professional",
        submitter=SUBMITTER,
        billing_provider=BILLING,
        subscriber=SUBSCRIBER,
        payer=PAYER,
        patient_control_number="PCN-0001",
        total_charge=D("150.00"),
        diagnoses=(Diagnosis("J20.9"),),
        service_lines=(
            ServiceLine(
                charge=D("150.00"),
                units=D("1"),
                service_date=date(2026, 11, 2),
                procedure=Procedure("99213"),
                diagnosis_pointers=(1,),
                line_control_number="PCN-0001-1",
            ),
        ),
        place_of_service="11",
    )
    return replace(claim, **changes)


def institutional(**changes: Any) -> Claim:
    claim = Claim(
        claim_type="institutional",
        submitter=SUBMITTER,
        billing_provider=BILLING,
        subscriber=SUBSCRIBER,
        payer=replace(PAYER, claim_filing_indicator="MA"),
        patient_control_number="HOSP-0001",
        total_charge=D("1140.50"),
        diagnoses=(Diagnosis("R07.9"), Diagnosis("I10")),
        service_lines=(
            ServiceLine(
                charge=D("980.00"),
                units=D("1"),
                service_date=date(2026, 10, 20),
                revenue_code="0450",
                procedure=Procedure("99284"),
                line_control_number="HOSP-0001-1",
            ),
            ServiceLine(
                charge=D("160.50"),
                units=D("2"),
                service_date=date(2026, 10, 20),
                revenue_code="0300",
            ),
        ),
        facility_type="13",
        statement_from=date(2026, 10, 20),
        statement_to=date(2026, 10, 21),
        patient_status="01",
    )
    return replace(claim, **changes)


def _lines(n: int, **changes: Any) -> tuple[ServiceLine, ...]:
    return tuple(
        replace(
            ServiceLine(
                charge=D("10.00"),
                units=D("1"),
                service_date=date(2026, 11, 2),
                procedure=Procedure("99213", modifiers=("25", "59", "GT", "XU")),
                diagnosis_pointers=(1, 2, 3, 4),
                line_control_number=f"L{i}",
            ),
            **changes,
        )
        for i in range(1, n + 1)
    )


TWELVE_DIAGNOSES = tuple(
    Diagnosis(c)
    for c in (
        "J20.9",
        "I10",
        "E11.9",
        "R07.9",
        "M54.5",
        "Z00.00",
        "K21.9",
        "F41.1",
        "J45.909",
        "N39.0",
        "R51.9",
        "L30.9",
    )
)

PROFESSIONAL_SHAPES: dict[str, Claim] = {
    "minimal": professional(),
    "dependent-patient": professional(patient=PATIENT, subscriber=replace(SUBSCRIBER)),
    "person-billing-provider-pay-to": professional(
        billing_provider=BillingProvider(
            npi="1234567893",
            tax_id="123456789",
            tax_id_type="SY",
            address=ADDRESS,
            last_name="SOLO",
            first_name="PAT",
            middle_name="Q",
            suffix="JR",
            contact=Contact(
                name="FRONT DESK", phone="5555550101", email="a@b.example", fax="5555550102"
            ),
        ),
        pay_to_address=Address("PO BOX 1", "TESTVILLE", "IL", "627010002", line2="SUITE 2"),
    ),
    "providers-and-references": professional(
        receiver=Receiver("SYNTHETIC CLEARINGHOUSE", "CH0001"),
        referring_provider=Provider(
            npi="1987654328", last_name="REFER", first_name="ROBIN", secondary_id="REF123"
        ),
        rendering_provider=Provider(
            npi="1987654328",
            organization_name="GROUP PRACTICE",
            taxonomy="207Q00000X",
            secondary_id="G2ID",
        ),
        service_facility=Provider(
            npi="1456789019",
            organization_name="SYNTHETIC ANNEX",
            address=Address("3 ANNEX RD", "TESTVILLE", "IL", "627010003"),
            secondary_id="FAC1",
        ),
        prior_authorization="AUTH123",
        referral_number="RFR456",
        accident=Accident(("AA", "OA"), accident_date=date(2026, 10, 30), state="IL"),
        onset_date=date(2026, 10, 30),
        provider_signature_on_file=False,
        assignment_participation="C",
        benefits_assigned=False,
        release_of_information="I",
        payer=replace(PAYER, address=Address("PO BOX 9", "PAYERTOWN", "NY", "10001")),
    ),
    "replacement": professional(frequency_code="7", payer_claim_number="PAYERCLM123"),
    "void": professional(frequency_code="8", payer_claim_number="PAYERCLM124"),
    "twelve-diagnoses-fifty-lines": professional(
        diagnoses=TWELVE_DIAGNOSES,
        total_charge=D("500.00"),
        service_lines=_lines(50, place_of_service="22", service_date_end=date(2026, 11, 3)),
    ),
    "anesthesia-minutes-description": professional(
        service_lines=(
            ServiceLine(
                charge=D("150.00"),
                units=D("45"),
                unit_type="MJ",
                service_date=date(2026, 11, 2),
                procedure=Procedure("01999", modifiers=("AA",), description="UNLISTED ANESTHESIA"),
                diagnosis_pointers=(1,),
            ),
        ),
    ),
    "secondary-with-line-adjudication": professional(
        patient=PATIENT,
        payer=replace(PAYER, responsibility="S"),
        other_payers=(
            OTHER_PAYER,
            replace(
                OTHER_PAYER,
                payer_id="PAYER02",
                responsibility="T",
                adjustments=(),
                paid_amount=None,
                remaining_patient_liability=None,
                adjudication_date=None,
                group_number=None,
            ),
        ),
        service_lines=(
            replace(
                _lines(1)[0],
                charge=D("150.00"),
                adjudications=(
                    LINE_ADJUDICATION,
                    replace(
                        LINE_ADJUDICATION,
                        payer_id="PAYER02",
                        procedure=Procedure("99212", modifiers=("25",)),
                        adjustments=(),
                    ),
                ),
            ),
        ),
        diagnoses=TWELVE_DIAGNOSES[:4],
    ),
}

INSTITUTIONAL_SHAPES: dict[str, Claim] = {
    "minimal": institutional(),
    "admission-with-hour": institutional(
        admission=Admission(date(2026, 10, 20), type_code="1", source_code="7", hour="0815"),
        diagnoses=(Diagnosis("R07.9", "Y"), Diagnosis("I10", "N"), Diagnosis("E11.9", "W")),
        admitting_diagnosis="R07.89",
    ),
    "admission-without-hour-dependent": institutional(
        admission=Admission(date(2026, 10, 20), type_code="3"),
        patient=PATIENT,
        pay_to_address=Address("PO BOX 1", "TESTVILLE", "IL", "627010002"),
    ),
    "providers-and-references": institutional(
        attending_provider=Provider(
            npi="1765432103",
            last_name="ATTEND",
            first_name="CASEY",
            taxonomy="207R00000X",
            secondary_id="ATT1",
        ),
        rendering_provider=Provider(npi="1765432103", last_name="RENDER", first_name="DREW"),
        service_facility=Provider(
            organization_name="SYNTHETIC CAMPUS",
            address=Address("4 CAMPUS DR", "TESTVILLE", "IL", "627010004"),
        ),
        referring_provider=Provider(npi="1987654328", last_name="REFER", first_name="ROBIN"),
        prior_authorization="AUTH9",
        referral_number="RFR9",
        frequency_code="7",
        payer_claim_number="PAYERCLM9",
        billing_provider=replace(BILLING, contact=Contact(email="billing@hospital.example")),
    ),
    "secondary-with-line-adjudication": institutional(
        payer=replace(PAYER, responsibility="S"),
        other_payers=(OTHER_PAYER,),
        service_lines=(
            replace(
                institutional().service_lines[0],
                adjudications=(LINE_ADJUDICATION, replace(LINE_ADJUDICATION, revenue_code="0451")),
            ),
            replace(
                institutional().service_lines[1],
                adjudications=(replace(LINE_ADJUDICATION, procedure=None),),
                unit_type="DA",
                service_date_end=date(2026, 10, 21),
            ),
        ),
    ),
    "many-lines": institutional(
        service_lines=tuple(
            ServiceLine(
                charge=D("1.00"),
                units=D("1"),
                service_date=date(2026, 10, 20),
                revenue_code="0300",
                line_control_number=f"L{i}",
            )
            for i in range(300)
        ),
        total_charge=D("300.00"),
    ),
}
