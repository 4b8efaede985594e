"""build_837: claims of one type for one receiver -> one 837P (X222A1) or 837I (X223A2) interchange.

    ST  BHT
      1000A submitter NM1*41 PER          1000B receiver NM1*40
      2000A HL*20 billing provider  PRV*BI, 2010AA NM1*85 N3 N4 REF*EI/SY PER, 2010AB NM1*87 N3 N4
        2000B HL*22 subscriber  SBR, 2010BA NM1*IL N3 N4 DMG, 2010BB NM1*PR N3 N4
          2300 claim (when the subscriber is the patient)
          2000C HL*23 patient  PAT, 2010CA NM1*QC N3 N4 DMG
            2300 claim  CLM DTP REF CL1(I) HI
              2310x providers  (P: A referring, B rendering, C facility;
                                I: A attending, D rendering, E facility, F referring)
              2320 other payer  SBR CAS AMT*D AMT*EAF OI, 2330A NM1*IL, 2330B NM1*PR DTP*573
              2400 line  LX SV1(P)/SV2(I) DTP*472 REF*6R
                2430 line adjudication  SVD CAS DTP*573
    SE

Every field of the model is written or refused: a value the 837 has no place for raises
X12ValueError rather than vanishing. Exceptions to that, both because the guide says "do not
send": the subscriber's DMG when the patient is someone else.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from edi.claim import (
    Address,
    Adjustment,
    BillingProvider,
    Claim,
    Contact,
    OtherPayer,
    Patient,
    Payer,
    Procedure,
    Provider,
    Receiver,
    ServiceLine,
    Subscriber,
)
from edi.envelope import EnvelopeParams, wrap
from edi.errors import X12ValueError
from edi.x12 import SegmentWriter

PROFESSIONAL = "005010X222A1"
INSTITUTIONAL = "005010X223A2"
MAX_LINES = {"professional": 50, "institutional": 999}
MAX_DIAGNOSES = 12
MAX_CAS_TRIPLETS = 6  # reason/amount/quantity triplets in one CAS segment


def version_of(claim_type: str) -> str:
    return PROFESSIONAL if claim_type == "professional" else INSTITUTIONAL


def receiver_of(claim: Claim) -> Receiver:
    """Loop 1000B: the claim's receiver, or its payer when none is given."""
    return claim.receiver or Receiver(name=claim.payer.name, identifier=claim.payer.payer_id)


def build_837(claims: Sequence[Claim], params: EnvelopeParams) -> str:
    """One 837 interchange (one GS, one ST) holding every claim, grouped under HL loops.

    All claims must share claim_type, submitter and receiver. Raises X12ValueError naming the
    field (``claims[3].service_lines[0].procedure.code``) when a value cannot be written.
    """
    if not claims:
        raise X12ValueError("claims", claims, "an 837 needs at least one claim")
    first = claims[0]
    receiver = receiver_of(first)
    for i, claim in enumerate(claims):
        if claim.claim_type != first.claim_type:
            raise X12ValueError(
                f"claims[{i}].claim_type", claim.claim_type, "one claim type per interchange"
            )
        if claim.submitter != first.submitter:
            raise X12ValueError(f"claims[{i}].submitter", claim.submitter, "one submitter per 837")
        if receiver_of(claim) != receiver:
            raise X12ValueError(f"claims[{i}].receiver", receiver_of(claim), "one receiver per 837")
    version = version_of(first.claim_type)
    w = SegmentWriter(params.delimiters, newline=params.newline)
    _write_body(w, claims, first.claim_type == "professional", params, receiver)
    return wrap(
        params, functional_id="HC", version=version, transaction_set_id="837", bodies=[w.parts]
    )


# Grouping keys. A subscriber who is the patient and the same subscriber as policy holder of a
# dependent's claim get separate 2000B loops: the guide's DMG/SBR02 rules differ between them.
_BillingKey = tuple[BillingProvider, Address | None]
# The last part numbers the 2000B loops of one subscriber: the guide allows at most 100 claims
# (loop 2300) under one 2000B or 2000C, so a busy subscriber's claims spill into another 2000B.
_SubscriberKey = tuple[Subscriber, Payer, bool, int]
_MAX_CLAIMS_PER_HL = 100


def _write_body(
    w: SegmentWriter,
    claims: Sequence[Claim],
    professional: bool,
    params: EnvelopeParams,
    receiver: Receiver,
) -> None:
    groups: dict[_BillingKey, dict[_SubscriberKey, dict[Patient | None, list[int]]]] = {}
    placed: dict[tuple[object, ...], int] = {}
    for i, c in enumerate(claims):
        subscribers = groups.setdefault((c.billing_provider, c.pay_to_address), {})
        base = (c.billing_provider, c.pay_to_address, c.subscriber, c.payer, c.patient is None)
        part = placed.get(base, 0) // _MAX_CLAIMS_PER_HL
        placed[base] = placed.get(base, 0) + 1
        patients = subscribers.setdefault((c.subscriber, c.payer, c.patient is None, part), {})
        patients.setdefault(c.patient, []).append(i)

    first = claims[0]
    created = params.created
    w.flat(
        (
            "BHT",
            "0019",  # BHT01 structure: information source, subscriber, dependent
            "00",  # BHT02 original
            # BHT03 originator's reference: payers check it for duplicate batches and echo it
            # in their 277CA, so it is the interchange's own control number, not "0001".
            f"{params.interchange_control_number:09d}",
            created.strftime("%Y%m%d"),
            created.strftime("%H%M"),
            "CH",  # BHT06 chargeable (not an encounter report)
        )
    )
    _submitter(w, first, receiver)
    hl = 0
    for (billing, pay_to), subscribers in groups.items():
        hl += 1
        billing_hl = hl
        i0 = next(iter(next(iter(subscribers.values())).values()))[0]
        _at(i0, "", _billing_provider, w, billing, pay_to, billing_hl, professional)
        for (subscriber, payer, is_patient, _part), patients in subscribers.items():
            hl += 1
            subscriber_hl = hl
            has_dependents = not is_patient
            i0 = next(iter(patients.values()))[0]
            _at(
                i0,
                "",
                _subscriber,
                w,
                subscriber,
                payer,
                is_patient,
                subscriber_hl,
                billing_hl,
                has_dependents,
            )
            for patient, indexes in patients.items():
                if patient is not None:
                    hl += 1
                    _at(indexes[0], "patient.", _patient, w, patient, hl, subscriber_hl)
                for i in indexes:
                    _at(i, "", _claim, w, claims[i], professional)


def _at(index: int, prefix: str, fn, w: SegmentWriter, *args) -> None:  # type: ignore[no-untyped-def]
    """Call fn(w, *args) as one checked batch, naming claims[index] in any X12ValueError."""
    try:
        w.batch(fn, *args)
    except X12ValueError as exc:
        raise X12ValueError(f"claims[{index}].{prefix}{exc.field}", exc.value, exc.reason) from None


@functools.lru_cache(maxsize=4096)
def _d8(d: date) -> str:
    # Cached: a file repeats few dates (service, birth, adjudication) over many segments.
    return d.isoformat().replace("-", "")


def _amount(value: Decimal) -> str:
    return format(value, "f")


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _refuse(field: str, value: object, reason: str) -> None:
    if value is not None and value != ():
        raise X12ValueError(field, value, reason)


def _address(w: SegmentWriter, a: Address, prefix: str = "address.") -> None:
    try:
        w.flat(("N3", a.line1, a.line2 or ""), ("line1", "line2"))
        w.flat(
            ("N4", a.city, a.state, a.postal_code, a.country_code or ""),
            ("city", "state", "postal_code", "country_code"),
        )
    except X12ValueError as exc:
        raise X12ValueError(prefix + exc.field, exc.value, exc.reason) from None


def _contact(w: SegmentWriter, c: Contact, prefix: str = "contact.") -> None:
    elements: list[str] = ["PER", "IC", c.name or ""]
    names = ["", "name"]
    for qualifier, value, name in (("TE", c.phone, "phone"), ("EM", c.email, "email")):
        if value:
            elements += [qualifier, value]
            names += ["", name]
    if c.fax:
        elements += ["FX", c.fax]
        names += ["", "fax"]
    if len(elements) == 3:
        raise X12ValueError(prefix + "phone", None, "PER needs a phone, email or fax")
    try:
        w.flat(elements, names)
    except X12ValueError as exc:
        raise X12ValueError(prefix + exc.field, exc.value, exc.reason) from None


_NAME_FIELDS = ("", "", "last_name", "first_name", "middle_name", "", "suffix", "", "npi")
_SUBSCRIBER_FIELDS = (
    *(f"subscriber.{n}" if n else "" for n in _NAME_FIELDS[:8]),
    "subscriber.member_id",
)
_ORG_FIELDS = ("", "", "organization_name", "", "", "", "", "", "npi")


def _submitter(w: SegmentWriter, claim: Claim, receiver: Receiver) -> None:
    s = claim.submitter
    try:
        w.flat(
            (
                "NM1",
                "41",  # 1000A submitter
                "1" if s.is_person else "2",
                s.name,
                s.first_name or "",
                "",
                "",
                "",
                "46",  # NM108 electronic transmitter identification number
                s.identifier,
            ),
            ("", "", "name", "first_name", "", "", "", "", "identifier"),
        )
        if s.first_name and not s.is_person:
            raise X12ValueError("first_name", s.first_name, "an organization has no first name")
        _contact(w, s.contact)
    except X12ValueError as exc:
        raise X12ValueError("claims[0].submitter." + exc.field, exc.value, exc.reason) from None
    try:
        w.flat(
            ("NM1", "40", "2", receiver.name, "", "", "", "", "46", receiver.identifier),
            ("", "", "name", "", "", "", "", "", "identifier"),
        )
    except X12ValueError as exc:
        raise X12ValueError("claims[0].receiver." + exc.field, exc.value, exc.reason) from None


def _person_or_org(p: Provider | BillingProvider) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """NM102-NM107 of a provider, with the field names for errors."""
    if p.organization_name is not None:
        if p.last_name or p.first_name or p.middle_name or p.suffix:
            raise X12ValueError(
                "organization_name", p.organization_name, "give an organization or a person name"
            )
        return ("2", p.organization_name, "", "", "", ""), _ORG_FIELDS[1:7]
    if p.last_name is None:
        raise X12ValueError("last_name", None, "give an organization or a person name")
    return (
        "1",
        p.last_name,
        p.first_name or "",
        p.middle_name or "",
        "",
        p.suffix or "",
    ), _NAME_FIELDS[1:7]


def _billing_provider(
    w: SegmentWriter,
    b: BillingProvider,
    pay_to: Address | None,
    hl: int,
    professional: bool,
) -> None:
    try:
        w.flat(("HL", str(hl), "", "20", "1"))
        if b.taxonomy:
            w.flat(("PRV", "BI", "PXC", b.taxonomy), ("", "", "taxonomy"))
        names, fields = _person_or_org(b)
        if not professional and names[0] == "1":
            raise X12ValueError("last_name", b.last_name, "an 837I billing provider is an org")
        w.flat(("NM1", "85", *names, "XX", b.npi), ("", *fields, "", "npi"))
        _address(w, b.address)
        if not professional and b.tax_id_type != "EI":
            raise X12ValueError("tax_id_type", b.tax_id_type, "837I REF01 is EI only")
        w.flat(("REF", b.tax_id_type, b.tax_id), ("", "tax_id"))
        if b.contact is not None:
            _contact(w, b.contact)
    except X12ValueError as exc:
        raise X12ValueError("billing_provider." + exc.field, exc.value, exc.reason) from None
    if pay_to is not None:
        # 2010AB: the entity type follows the billing provider's (NM102 is required).
        w.flat(("NM1", "87", "2" if b.organization_name is not None or not professional else "1"))
        _address(w, pay_to, "pay_to_address.")


def _subscriber(
    w: SegmentWriter,
    s: Subscriber,
    payer: Payer,
    is_patient: bool,
    hl: int,
    parent: int,
    has_dependents: bool,
) -> None:
    w.flat(("HL", str(hl), str(parent), "22", "1" if has_dependents else "0"))
    w.flat(
        (
            "SBR",
            payer.responsibility,
            "18" if is_patient else "",  # SBR02 self
            s.group_number or "",
            s.group_name or "",
            "",
            "",
            "",
            "",
            payer.claim_filing_indicator,
        ),
        ("payer.responsibility", "", "subscriber.group_number", "subscriber.group_name")
        + ("",) * 4
        + ("payer.claim_filing_indicator",),
    )
    w.flat(
        (
            "NM1",
            "IL",
            "1",
            s.last_name,
            s.first_name or "",
            s.middle_name or "",
            "",
            s.suffix or "",
            "MI",
            s.member_id,
        ),
        _SUBSCRIBER_FIELDS,
    )
    if s.address is not None:
        _address(w, s.address, "subscriber.address.")
    if is_patient and (s.birth_date is not None or s.gender is not None):
        if s.birth_date is None or s.gender is None:
            raise X12ValueError(
                "subscriber.birth_date", s.birth_date, "DMG needs both birth date and gender"
            )
        w.flat(("DMG", "D8", _d8(s.birth_date), s.gender))
    w.flat(
        ("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id),
        ("", "", "payer.name", "", "", "", "", "", "payer.payer_id"),
    )
    if payer.address is not None:
        _address(w, payer.address, "payer.address.")


def _patient(w: SegmentWriter, p: Patient, hl: int, parent: int) -> None:
    w.flat(("HL", str(hl), str(parent), "23", "0"))
    w.flat(("PAT", p.relationship_to_subscriber), ("relationship_to_subscriber",))
    w.flat(
        (
            "NM1",
            "QC",
            "1",
            p.last_name,
            p.first_name,
            p.middle_name or "",
            "",
            p.suffix or "",
        ),
        _NAME_FIELDS[:7],
    )
    _address(w, p.address)
    w.flat(("DMG", "D8", _d8(p.birth_date), p.gender), ("", "birth_date", "gender"))


def _claim(w: SegmentWriter, c: Claim, professional: bool) -> None:
    kind = "837P" if professional else "837I"
    max_lines = MAX_LINES[c.claim_type]
    if not c.service_lines or len(c.service_lines) > max_lines:
        raise X12ValueError(
            "service_lines", len(c.service_lines), f"an {kind} claim has 1..{max_lines} lines"
        )
    if not c.diagnoses or len(c.diagnoses) > MAX_DIAGNOSES:
        raise X12ValueError("diagnoses", len(c.diagnoses), "a claim has 1..12 diagnoses")
    if c.frequency_code in ("7", "8") and not c.payer_claim_number:
        raise X12ValueError(
            "payer_claim_number", None, "a replacement (7) or void (8) needs REF*F8"
        )
    if professional:
        if (  # one test for the usual case, where none of these is given
            c.facility_type is not None
            or c.statement_from is not None
            or c.statement_to is not None
            or c.admission is not None
            or c.patient_status is not None
            or c.admitting_diagnosis is not None
            or c.attending_provider is not None
        ):
            _refuse("facility_type", c.facility_type, "institutional only (CLM05-1 of 837I)")
            _refuse("statement_from", c.statement_from, "institutional only (DTP*434)")
            _refuse("statement_to", c.statement_to, "institutional only (DTP*434)")
            _refuse("admission", c.admission, "institutional only (DTP*435, CL1)")
            _refuse("patient_status", c.patient_status, "institutional only (CL103)")
            _refuse("admitting_diagnosis", c.admitting_diagnosis, "institutional only (HI*ABJ)")
            _refuse("attending_provider", c.attending_provider, "institutional only (2310A)")
        if c.place_of_service is None:
            raise X12ValueError("place_of_service", None, "837P CLM05-1 is required")
        accident = c.accident
        clm11: tuple[str, ...] = ()
        if accident is not None:
            causes = accident.related_causes
            if not 1 <= len(causes) <= 2:
                raise X12ValueError("accident.related_causes", causes, "one or two causes")
            clm11 = (causes[0], causes[1] if len(causes) > 1 else "", "", accident.state or "")
        w.flat(
            (
                "CLM",
                c.patient_control_number,
                _amount(c.total_charge),
                "",
                "",
                w.composite((c.place_of_service, "B", c.frequency_code)),
                _yn(c.provider_signature_on_file),
                c.assignment_participation,
                _yn(c.benefits_assigned),
                c.release_of_information,
                "",
                w.composite(clm11) if clm11 else "",
            ),
            (
                "patient_control_number",
                "total_charge",
                "",
                "",
                "place_of_service",
                "provider_signature_on_file",
                "assignment_participation",
                "benefits_assigned",
                "release_of_information",
                "",
                "accident",
            ),
        )
        if c.onset_date is not None:
            w.flat(("DTP", "431", "D8", _d8(c.onset_date)))
        if accident is not None and accident.accident_date is not None:
            w.flat(("DTP", "439", "D8", _d8(accident.accident_date)))
    else:
        _refuse("place_of_service", c.place_of_service, "professional only (CLM05-1 of 837P)")
        _refuse("onset_date", c.onset_date, "professional only (DTP*431)")
        _refuse("accident", c.accident, "837I has no CLM11; send occurrence codes instead")
        _refuse(
            "rendering_provider.taxonomy",
            getattr(c.rendering_provider, "taxonomy", None),
            "837I 2310D has no PRV",
        )
        if not c.provider_signature_on_file:
            raise X12ValueError("provider_signature_on_file", False, "837I has no CLM06")
        for name in ("facility_type", "statement_from", "statement_to", "patient_status"):
            if getattr(c, name) is None:
                raise X12ValueError(name, None, "required on an 837I claim")
        assert c.statement_from is not None and c.statement_to is not None
        w.flat(
            (
                "CLM",
                c.patient_control_number,
                _amount(c.total_charge),
                "",
                "",
                w.composite((c.facility_type or "", "A", c.frequency_code)),
                "",
                c.assignment_participation,
                _yn(c.benefits_assigned),
                c.release_of_information,
            ),
            (
                "patient_control_number",
                "total_charge",
                "",
                "",
                "facility_type",
                "",
                "assignment_participation",
                "benefits_assigned",
                "release_of_information",
            ),
        )
        w.flat(("DTP", "434", "RD8", f"{_d8(c.statement_from)}-{_d8(c.statement_to)}"))
        adm = c.admission
        if adm is not None:
            if adm.hour is not None:
                w.flat(
                    ("DTP", "435", "DT", _d8(adm.admission_date) + adm.hour),
                    ("", "", "admission.hour"),
                )
            else:
                w.flat(("DTP", "435", "D8", _d8(adm.admission_date)))
        w.flat(
            (
                "CL1",
                adm.type_code if adm else "",
                (adm.source_code or "") if adm else "",
                c.patient_status or "",
            ),
            ("admission.type_code", "admission.source_code", "patient_status"),
        )
    if c.referral_number:
        w.flat(("REF", "9F", c.referral_number), ("", "referral_number"))
    if c.prior_authorization:
        w.flat(("REF", "G1", c.prior_authorization), ("", "prior_authorization"))
    if c.payer_claim_number:
        w.flat(("REF", "F8", c.payer_claim_number), ("", "payer_claim_number"))
    _diagnoses(w, c, professional)
    if professional:
        if c.referring_provider is not None:
            _provider(
                w,
                c.referring_provider,
                "referring_provider",
                "DN",
                person_only=True,
                taxonomy=False,
            )
        if c.rendering_provider is not None:
            _provider(w, c.rendering_provider, "rendering_provider", "82", prv="PE")
        if c.service_facility is not None:
            _facility(w, c.service_facility)
    else:
        _provider(w, c.attending_provider, "attending_provider", "71", person_only=True, prv="AT")
        _provider(
            w, c.rendering_provider, "rendering_provider", "82", person_only=True, taxonomy=False
        )
        _facility(w, c.service_facility)
        _provider(
            w, c.referring_provider, "referring_provider", "DN", person_only=True, taxonomy=False
        )
    for i, other in enumerate(c.other_payers):
        try:
            _other_payer(w, other, c, professional)
        except X12ValueError as exc:
            raise X12ValueError(f"other_payers[{i}].{exc.field}", exc.value, exc.reason) from None
    ndiagnoses = len(c.diagnoses)
    for n, line in enumerate(c.service_lines, 1):
        try:
            _line(w, line, n, professional, ndiagnoses)
        except X12ValueError as exc:
            raise X12ValueError(
                f"service_lines[{n - 1}].{exc.field}", exc.value, exc.reason
            ) from None


_DIAGNOSIS_FIELDS = tuple(f"diagnoses[{i}].code" for i in range(MAX_DIAGNOSES))


def _diagnoses(w: SegmentWriter, c: Claim, professional: bool) -> None:
    composite = w.composite
    composites: list[str | tuple[str, ...]] = []
    for i, dx in enumerate(c.diagnoses):
        qualifier = "ABK" if i == 0 else "ABF"
        code = dx.code.replace(".", "")  # ICD-10-CM goes without its dot in X12
        if professional:
            if dx.present_on_admission is not None:
                raise X12ValueError(
                    f"diagnoses[{i}].present_on_admission",
                    dx.present_on_admission,
                    "837P has no present-on-admission indicator",
                )
            composites.append(composite((qualifier, code)))
        else:
            poa = dx.present_on_admission or ""
            composites.append(composite((qualifier, code, "", "", "", "", "", "", poa)))
    names = _DIAGNOSIS_FIELDS
    if professional:
        w.flat(("HI", *composites), names)
        return
    # 837I: principal (ABK), admitting (ABJ) and other diagnoses (ABF) are separate HI segments.
    w.flat(("HI", composites[0]), names[:1])
    if c.admitting_diagnosis:
        abj = composite(("ABJ", c.admitting_diagnosis.replace(".", "")))
        w.flat(("HI", abj), ("admitting_diagnosis",))
    if len(composites) > 1:
        w.flat(("HI", *composites[1:]), names[1:])


def _provider(
    w: SegmentWriter,
    p: Provider | None,
    field: str,
    entity: str,
    *,
    person_only: bool = False,
    prv: str | None = None,
    taxonomy: bool = True,
) -> None:
    if p is None:
        return
    try:
        _refuse("address", p.address, "this provider loop has no N3/N4")
        if not taxonomy:
            _refuse("taxonomy", p.taxonomy, "this provider loop has no PRV")
        names, fields = _person_or_org(p)
        if person_only and names[0] != "1":
            raise X12ValueError("organization_name", p.organization_name, "must be a person")
        npi = ("XX", p.npi) if p.npi else ("", "")
        w.flat(("NM1", entity, *names, *npi), ("", *fields, "", "npi"))
        if prv and p.taxonomy:
            w.flat(("PRV", prv, "PXC", p.taxonomy), ("", "", "taxonomy"))
        if p.secondary_id:
            w.flat(("REF", "G2", p.secondary_id), ("", "secondary_id"))
    except X12ValueError as exc:
        raise X12ValueError(f"{field}.{exc.field}", exc.value, exc.reason) from None


def _facility(w: SegmentWriter, p: Provider | None) -> None:
    if p is None:
        return
    try:
        if p.organization_name is None:
            raise X12ValueError("organization_name", None, "a service facility is an organization")
        _refuse("taxonomy", p.taxonomy, "the service facility loop has no PRV")
        if p.address is None:
            raise X12ValueError("address", None, "the service facility needs an address (N3/N4)")
        names, fields = _person_or_org(p)
        npi = ("XX", p.npi) if p.npi else ("", "")
        w.flat(("NM1", "77", *names, *npi), ("", *fields, "", "npi"))
        _address(w, p.address)
        if p.secondary_id:
            w.flat(("REF", "G2", p.secondary_id), ("", "secondary_id"))
    except X12ValueError as exc:
        raise X12ValueError(f"service_facility.{exc.field}", exc.value, exc.reason) from None


def _adjustments(w: SegmentWriter, adjustments: Sequence[Adjustment]) -> None:
    """CAS: consecutive adjustments of one group share a segment (up to six triplets)."""
    i = 0
    while i < len(adjustments):
        group = adjustments[i].group
        elements: list[str] = ["CAS", group]
        names: list[str] = [f"adjustments[{i}].group"]
        j = i
        while j < len(adjustments) and adjustments[j].group == group and j - i < MAX_CAS_TRIPLETS:
            a = adjustments[j]
            quantity = "" if a.quantity is None else _amount(a.quantity)
            elements += [a.reason, _amount(a.amount), quantity]
            names += [f"adjustments[{j}].reason", "", ""]
            j += 1
        w.flat(elements, names)
        i = j


def _other_payer(w: SegmentWriter, o: OtherPayer, c: Claim, professional: bool) -> None:
    w.flat(
        (
            "SBR",
            o.responsibility,
            o.relationship_to_subscriber,
            o.group_number or "",
            "",
            "",
            "",
            "",
            "",
            o.claim_filing_indicator,
        ),
        (
            "responsibility",
            "relationship_to_subscriber",
            "group_number",
            "",
            "",
            "",
            "",
            "",
            "claim_filing_indicator",
        ),
    )
    _adjustments(w, o.adjustments)
    if o.paid_amount is not None:
        w.flat(("AMT", "D", _amount(o.paid_amount)))
    if o.remaining_patient_liability is not None:
        w.flat(("AMT", "EAF", _amount(o.remaining_patient_liability)))
    # OI03/OI06 repeat the claim's own assignment and release answers for this payer.
    w.flat(("OI", "", "", _yn(c.benefits_assigned), "", "", c.release_of_information))
    s = o.subscriber
    w.flat(
        ("NM1", "IL", "1", s.last_name, s.first_name or "", "", "", "", "MI", s.member_id),
        (
            "",
            "",
            "subscriber.last_name",
            "subscriber.first_name",
            "",
            "",
            "",
            "",
            "subscriber.member_id",
        ),
    )
    w.flat(
        ("NM1", "PR", "2", o.name, "", "", "", "", "PI", o.payer_id),
        ("", "", "name", "", "", "", "", "", "payer_id"),
    )
    if o.adjudication_date is not None:
        w.flat(("DTP", "573", "D8", _d8(o.adjudication_date)))


def _procedure(p: Procedure) -> tuple[str, ...]:
    mods = p.modifiers
    if len(mods) > 4:
        raise X12ValueError("procedure.modifiers", mods, "at most four modifiers")
    return (p.qualifier, p.code, *mods, *("",) * (4 - len(mods)), p.description or "")


def _line(w: SegmentWriter, line: ServiceLine, n: int, professional: bool, ndiagnoses: int) -> None:
    w.flat(("LX", str(n)))
    proc = line.procedure
    if professional:
        if proc is None:
            raise X12ValueError("procedure", None, "required on an 837P line (SV101)")
        _refuse("revenue_code", line.revenue_code, "institutional only (SV201)")
        pointers = line.diagnosis_pointers
        if not 1 <= len(pointers) <= 4 or not 1 <= min(pointers) <= max(pointers) <= ndiagnoses:
            raise X12ValueError(
                "diagnosis_pointers", pointers, "1..4 pointers into the claim's diagnoses"
            )
        w.flat(
            (
                "SV1",
                w.composite(_procedure(proc)),
                _amount(line.charge),
                line.unit_type,
                _amount(line.units),
                line.place_of_service or "",
                "",
                w.composite(tuple(map(str, pointers))),
            ),
            ("procedure", "charge", "unit_type", "units", "place_of_service"),
        )
    else:
        if line.revenue_code is None:
            raise X12ValueError("revenue_code", None, "required on an 837I line (SV201)")
        _refuse("place_of_service", line.place_of_service, "professional only (SV105)")
        _refuse("diagnosis_pointers", line.diagnosis_pointers, "professional only (SV107)")
        w.flat(
            (
                "SV2",
                line.revenue_code,
                w.composite(_procedure(proc)) if proc is not None else "",
                _amount(line.charge),
                line.unit_type,
                _amount(line.units),
            ),
            ("revenue_code", "procedure", "charge", "unit_type", "units"),
        )
    if line.service_date_end is not None:
        w.flat(("DTP", "472", "RD8", f"{_d8(line.service_date)}-{_d8(line.service_date_end)}"))
    else:
        w.flat(("DTP", "472", "D8", _d8(line.service_date)))
    if line.line_control_number:
        w.flat(("REF", "6R", line.line_control_number), ("", "line_control_number"))
    for i, adj in enumerate(line.adjudications):
        try:
            # SVD03/SVD04 default to the line's own procedure and revenue code.
            svd_proc = adj.procedure or proc
            if professional:
                _refuse("revenue_code", adj.revenue_code, "837P SVD has no revenue code")
                if svd_proc is None:
                    raise X12ValueError("procedure", None, "837P SVD03 is required")
                revenue = ""
            else:
                revenue = adj.revenue_code or line.revenue_code or ""
            w.flat(
                (
                    "SVD",
                    adj.payer_id,
                    _amount(adj.paid_amount),
                    w.composite(_procedure(svd_proc)) if svd_proc is not None else "",
                    revenue,
                    _amount(adj.paid_units),
                ),
                ("payer_id", "paid_amount", "procedure", "revenue_code", "paid_units"),
            )
            _adjustments(w, adj.adjustments)
            w.flat(("DTP", "573", "D8", _d8(adj.adjudication_date)))
        except X12ValueError as exc:
            raise X12ValueError(f"adjudications[{i}].{exc.field}", exc.value, exc.reason) from None
