"""Hypothesis strategies for claims the schema allows and the 837 can carry, and their
canonical form (what read_837 gives back)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import strategies as st

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

# Printable X12 extended characters other than the default delimiters (* : ^ ~).
_CHARS = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 &'(),-./;?=%@[]_{}|<>#$!\"`"
)


def text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    # No leading/trailing spaces: schema patterns for ids forbid them and they read back the same.
    return (
        st.text(_CHARS, min_size=min_size, max_size=max_size)
        .map(str.strip)
        .filter(lambda s: len(s) >= min_size)
    )


digits = lambda n: st.text("0123456789", min_size=n, max_size=n)  # noqa: E731
dates = st.dates(date(2000, 1, 1), date(2030, 12, 31))
amounts = st.decimals(min_value=0, max_value=99999, places=2)
money = st.decimals(min_value=-9999, max_value=99999, places=2)
quantities = st.decimals(min_value=0, max_value=9999, places=3)
states = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
icd10 = st.from_regex(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", fullmatch=True)
taxonomy = st.from_regex(r"[0-9A-Z]{9}X", fullmatch=True)
npi = digits(10)

addresses = st.builds(
    Address,
    line1=text(55),
    city=text(30, 2),
    state=states,
    postal_code=digits(9),
    line2=st.none() | text(55),
    country_code=st.none(),
)
contacts = st.builds(
    Contact,
    name=st.none() | text(60),
    phone=digits(10),
    email=st.none() | st.just("edi@example.test"),
    fax=st.none() | digits(10),
)
adjustments = st.lists(
    st.builds(
        Adjustment,
        group=st.sampled_from(["CO", "CR", "OA", "PI", "PR"]),
        reason=st.from_regex(r"[A-Z0-9]{1,5}", fullmatch=True),
        amount=money,
        quantity=st.none() | quantities,
    ),
    max_size=4,
).map(tuple)


def _person(**extra) -> st.SearchStrategy[Provider]:  # type: ignore[no-untyped-def]
    return st.builds(
        Provider,
        npi=st.none() | npi,
        last_name=text(60),
        first_name=st.none() | text(35),
        middle_name=st.none() | text(25),
        suffix=st.none() | text(10),
        secondary_id=st.none() | text(50),
        **extra,
    )


def _org(**extra) -> st.SearchStrategy[Provider]:  # type: ignore[no-untyped-def]
    return st.builds(
        Provider, npi=st.none() | npi, organization_name=text(60),
        secondary_id=st.none() | text(50), **extra,
    )  # fmt: skip


@st.composite
def claims(draw: st.DrawFn, claim_type: str | None = None) -> Claim:
    kind = claim_type or draw(st.sampled_from(["professional", "institutional"]))
    professional = kind == "professional"
    n_dx = draw(st.integers(1, 12))
    diagnoses = tuple(
        Diagnosis(
            draw(icd10),
            None if professional else draw(st.none() | st.sampled_from(["Y", "N", "U", "W"])),
        )
        for _ in range(n_dx)
    )
    payer = Payer(
        payer_id=draw(text(20, 2)),
        name=draw(text(60)),
        responsibility=draw(st.sampled_from(["P", "S", "T"])),
        claim_filing_indicator=draw(st.sampled_from(["CI", "MB", "MC", "BL", "HM", "WC"])),
        address=draw(st.none() | addresses),
    )
    others = []
    for i in range(draw(st.integers(0, 2))):
        others.append(
            OtherPayer(
                payer_id=f"OTHER{i}",
                name=draw(text(60)),
                responsibility=draw(st.sampled_from(["P", "S", "T"])),
                relationship_to_subscriber=draw(st.sampled_from(["18", "01", "19"])),
                claim_filing_indicator="CI",
                subscriber=OtherSubscriber(
                    draw(text(20, 2)), draw(text(60)), draw(st.none() | text(35))
                ),
                paid_amount=draw(st.none() | money),
                remaining_patient_liability=draw(st.none() | money),
                adjudication_date=draw(st.none() | dates),
                group_number=draw(st.none() | text(50)),
                adjustments=draw(adjustments),
            )
        )
    procedures = st.builds(
        Procedure,
        code=st.from_regex(r"[A-Z0-9]{5}", fullmatch=True),
        qualifier=st.just("HC"),
        modifiers=st.lists(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True), max_size=4).map(tuple),
        description=st.none() | text(80),
    )
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        adjudications = tuple(
            LineAdjudication(
                payer_id=o.payer_id,
                paid_amount=draw(money),
                paid_units=draw(quantities),
                adjudication_date=draw(dates),
                procedure=draw(st.none() | procedures),
                revenue_code=None if professional else draw(st.none() | digits(4)),
                adjustments=draw(adjustments),
            )
            for o in others[: draw(st.integers(0, len(others)))]
        )
        start = draw(dates)
        lines.append(
            ServiceLine(
                charge=draw(amounts),
                units=draw(quantities),
                service_date=start,
                procedure=draw(procedures) if professional else draw(st.none() | procedures),
                revenue_code=None if professional else draw(digits(4)),
                unit_type=draw(st.sampled_from(["UN", "MJ"] if professional else ["UN", "DA"])),
                service_date_end=draw(st.none() | st.just(start)),
                place_of_service=draw(st.none() | digits(2)) if professional else None,
                diagnosis_pointers=tuple(
                    draw(st.lists(st.integers(1, n_dx), min_size=1, max_size=4))
                )
                if professional
                else (),
                line_control_number=draw(st.none() | text(50)),
                adjudications=adjudications,
            )
        )
    patient = draw(
        st.none()
        | st.builds(
            Patient,
            last_name=text(60),
            first_name=text(35),
            birth_date=dates,
            gender=st.sampled_from(["M", "F", "U"]),
            address=addresses,
            relationship_to_subscriber=st.sampled_from(["01", "19", "20", "21", "53", "G8"]),
            middle_name=st.none() | text(25),
            suffix=st.none() | text(10),
        )
    )
    has_dmg = draw(st.booleans())
    subscriber = Subscriber(
        member_id=draw(text(30, 2)),
        last_name=draw(text(60)),
        first_name=draw(st.none() | text(35)),
        middle_name=draw(st.none() | text(25)),
        suffix=draw(st.none() | text(10)),
        birth_date=draw(dates) if has_dmg else None,
        gender=draw(st.sampled_from(["M", "F", "U"])) if has_dmg else None,
        address=draw(st.none() | addresses),
        group_number=draw(st.none() | text(50)),
        group_name=draw(st.none() | text(60)),
    )
    person_billing = professional and draw(st.booleans())
    billing = BillingProvider(
        npi=draw(npi),
        tax_id=draw(digits(9)),
        address=draw(addresses),
        organization_name=None if person_billing else draw(text(60)),
        last_name=draw(text(60)) if person_billing else None,
        first_name=draw(st.none() | text(35)) if person_billing else None,
        tax_id_type=draw(st.sampled_from(["EI", "SY"])) if professional else "EI",
        taxonomy=draw(st.none() | taxonomy),
        contact=draw(st.none() | contacts),
    )
    frequency = draw(st.sampled_from(["1", "7", "8"]))
    common = dict(
        claim_type=kind,
        submitter=Submitter(draw(text(60)), draw(text(20, 2)), draw(contacts)),
        billing_provider=billing,
        subscriber=subscriber,
        payer=payer,
        patient_control_number=draw(text(20)),
        total_charge=draw(amounts),
        diagnoses=diagnoses,
        service_lines=tuple(lines),
        receiver=draw(st.none() | st.builds(Receiver, text(60), text(20, 2))),
        pay_to_address=draw(st.none() | addresses),
        patient=patient,
        frequency_code=frequency,
        assignment_participation=draw(st.sampled_from(["A", "B", "C"])),
        benefits_assigned=draw(st.booleans()),
        release_of_information=draw(st.sampled_from(["Y", "I"])),
        payer_claim_number=draw(text(50)) if frequency != "1" else draw(st.none() | text(50)),
        prior_authorization=draw(st.none() | text(50)),
        referral_number=draw(st.none() | text(50)),
        referring_provider=draw(st.none() | _person()),
        service_facility=draw(st.none() | _org(address=addresses)),
        other_payers=tuple(others),
    )
    if professional:
        return Claim(
            **common,  # type: ignore[arg-type]
            place_of_service=draw(digits(2)),
            provider_signature_on_file=draw(st.booleans()),
            accident=draw(
                st.none()
                | st.builds(
                    Accident,
                    related_causes=st.lists(
                        st.sampled_from(["AA", "EM", "OA"]), min_size=1, max_size=2
                    ).map(tuple),
                    accident_date=st.none() | dates,
                    state=st.none() | states,
                )
            ),
            onset_date=draw(st.none() | dates),
            rendering_provider=draw(
                st.none()
                | _person(taxonomy=st.none() | taxonomy)
                | _org(taxonomy=st.none() | taxonomy)
            ),
        )
    start = draw(dates)
    return Claim(
        **common,  # type: ignore[arg-type]
        facility_type=draw(digits(2)),
        statement_from=start,
        statement_to=draw(st.sampled_from([start, date(2031, 1, 1)])),
        admission=draw(
            st.none()
            | st.builds(
                Admission,
                admission_date=dates,
                type_code=st.sampled_from("123459"),
                source_code=st.none() | st.sampled_from("1245789ABCDEF"),
                hour=st.none() | st.from_regex(r"([01][0-9]|2[0-3])[0-5][0-9]", fullmatch=True),
            )
        ),
        patient_status=draw(digits(2)),
        admitting_diagnosis=draw(st.none() | icd10),
        attending_provider=draw(st.none() | _person(taxonomy=st.none() | taxonomy)),
        rendering_provider=draw(st.none() | _person()),
    )


def canonical(claim: Claim) -> Claim:
    """The claim as read_837 gives it back (see the docstrings of write_837 and read_837)."""

    def icd(code: str) -> str:
        code = code.replace(".", "")
        return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code

    subscriber = claim.subscriber
    if claim.patient is not None:
        subscriber = replace(subscriber, birth_date=None, gender=None)
    receiver = claim.receiver
    if receiver == Receiver(claim.payer.name, claim.payer.payer_id):
        receiver = None
    lines = tuple(
        replace(
            line,
            adjudications=tuple(
                replace(
                    a,
                    procedure=None
                    if (a.procedure or line.procedure) == line.procedure
                    else a.procedure,
                    revenue_code=None if a.revenue_code == line.revenue_code else a.revenue_code,
                )
                for a in line.adjudications
            ),
        )
        for line in claim.service_lines
    )
    return replace(
        claim,
        subscriber=subscriber,
        receiver=receiver,
        diagnoses=tuple(replace(d, code=icd(d.code)) for d in claim.diagnoses),
        admitting_diagnosis=icd(claim.admitting_diagnosis) if claim.admitting_diagnosis else None,
        service_lines=lines,
    )
