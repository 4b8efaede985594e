"""build_835: remittance values -> one 835 (005010X221A1) interchange, one ST per Remittance.

    ST BPR TRN DTM*405 | N1*PR N3 N4 REF*2U PER*BL | N1*PE N3 N4 REF*TJ
      LX*1
        CLP CAS NM1*QC MOA DTM*232/233/050
          SVC DTM*472 (or DTM*150/151) CAS REF*6R AMT*B6 LQ*HE
    PLB SE

Used by the payer simulator. Adjustments are grouped back into CAS segments (consecutive
adjustments of one group, six per segment) and PLB segments (six pairs each), which is how the
reader flattens them, so build -> read gives the same value, but for a description on a line's
`procedure`: SVC01-7 is not used in the 835, so it is not written (and reads back as None).
Findings are not written: a reader recomputes them from the amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from edi.claim import Address, Adjustment, Contact, Procedure
from edi.envelope import EnvelopeParams, wrap
from edi.errors import X12ValueError
from edi.remittance import (
    REMITTANCE_VERSION,
    BankAccount,
    ClaimPayment,
    Payee,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from edi.x12 import SegmentWriter
from edi.x12_values import format_amount, format_date

MAX_CAS_TRIPLETS = 6
MAX_PLB_PAIRS = 6


def build_835(remittances: Sequence[Remittance], params: EnvelopeParams) -> str:
    """One interchange, one HP group, one 835 transaction set per remittance.

    Raises X12ValueError naming the field (``remittances[0].claims[3].lines[1].procedure``)
    when a value cannot be written.
    """
    if not remittances:
        raise X12ValueError("remittances", remittances, "an 835 needs at least one remittance")
    bodies = []
    for i, r in enumerate(remittances):
        w = SegmentWriter(params.delimiters, newline=params.newline)
        try:
            # One batch per set: its values are checked with one search (see SegmentWriter).
            w.batch(_remittance, r)
        except X12ValueError as exc:
            raise X12ValueError(f"remittances[{i}].{exc.field}", exc.value, exc.reason) from None
        bodies.append(w.parts)
    return wrap(
        params,
        functional_id="HP",
        version=REMITTANCE_VERSION,
        transaction_set_id="835",
        bodies=bodies,
        # ST03 is "not used" in the 835 guide: its map, and the 835s other systems write,
        # leave it out (GS08 names the guide).
        convention_reference=False,
    )


def _opt_amount(value: object) -> str:
    return "" if value is None else format_amount(value)  # type: ignore[arg-type]


def _opt_date(value: date | None, field: str) -> str:
    if value is None:
        raise X12ValueError(field, value, "a date is required here")
    return format_date(value)


def _bank(account: BankAccount | None) -> tuple[str, str, str, str]:
    if account is None:
        return ("", "", "", "")
    return (
        account.dfi_qualifier,
        account.dfi_number,
        account.account_qualifier,
        account.account_number,
    )


def _address(w: SegmentWriter, a: Address | None, prefix: str) -> None:
    if a is None:
        return
    w.seg(("N3", a.line1, a.line2 or ""), (f"{prefix}.line1", f"{prefix}.line2"))
    w.seg(
        ("N4", a.city, a.state, a.postal_code, a.country_code or ""),
        (f"{prefix}.city", f"{prefix}.state", f"{prefix}.postal_code", f"{prefix}.country_code"),
    )


def _contact(w: SegmentWriter, c: Contact, prefix: str) -> None:
    elements = ["PER", "BL", c.name or ""]
    names = ["", f"{prefix}.name"]
    for qualifier, value, name in (
        ("TE", c.phone, "phone"),
        ("EM", c.email, "email"),
        ("FX", c.fax, "fax"),
    ):
        if value:
            elements += [qualifier, value]
            names += ["", f"{prefix}.{name}"]
    if len(elements) == 3:
        raise X12ValueError(f"{prefix}.phone", None, "PER needs a phone, email or fax")
    w.seg(elements, names)


def _remittance(w: SegmentWriter, r: Remittance) -> None:
    p = r.payment
    w.seg(
        (
            "BPR",
            p.handling,
            format_amount(p.amount),
            p.credit_debit,
            p.method,
            p.format or "",
            *_bank(p.sender_account),
            p.originating_company_id or "",
            "",  # BPR11 originating company supplemental code: not in the model
            *_bank(p.receiver_account),
            _opt_date(p.date, "payment.date"),
        ),
        ("payment.handling", "payment.amount", "payment.credit_debit", "payment.method",
         "payment.format", "payment.sender_account.dfi_qualifier",
         "payment.sender_account.dfi_number", "payment.sender_account.account_qualifier",
         "payment.sender_account.account_number", "payment.originating_company_id", "",
         "payment.receiver_account.dfi_qualifier", "payment.receiver_account.dfi_number",
         "payment.receiver_account.account_qualifier", "payment.receiver_account.account_number"),
    )  # fmt: skip
    w.seg(
        ("TRN", "1", r.trace_number, r.originator_id or ""), ("", "trace_number", "originator_id")
    )
    if r.production_date is not None:
        w.seg(("DTM", "405", format_date(r.production_date)))
    payer = r.payer
    w.seg(("N1", "PR", payer.name), ("", "payer.name"))
    _address(w, payer.address, "payer.address")
    if payer.identifier:
        w.seg(("REF", "2U", payer.identifier), ("", "payer.identifier"))
    if payer.contact is not None:
        _contact(w, payer.contact, "payer.contact")
    _payee(w, r.payee)
    if r.claims:
        w.seg(("LX", "1"))
    for i, claim in enumerate(r.claims):
        try:
            _claim(w, claim)
        except X12ValueError as exc:
            raise X12ValueError(f"claims[{i}].{exc.field}", exc.value, exc.reason) from None
    _plb(w, r.provider_adjustments)


def _payee(w: SegmentWriter, payee: Payee) -> None:
    # N1*PE carries one id: the NPI, else another id, else the tax id; REF*TJ carries the tax
    # id when the N1 does not (the reader maps both back the same way).
    if payee.npi and payee.other_id:
        raise X12ValueError("payee.other_id", payee.other_id, "N1*PE holds the NPI or another id")
    if payee.npi:
        qualifier, identifier = "XX", payee.npi
    elif payee.other_id:
        if not payee.other_id_qualifier or payee.other_id_qualifier in ("XX", "FI"):
            raise X12ValueError(
                "payee.other_id_qualifier", payee.other_id_qualifier, "N103 other than XX or FI"
            )
        qualifier, identifier = payee.other_id_qualifier, payee.other_id
    elif payee.tax_id:
        qualifier, identifier = "FI", payee.tax_id
    else:
        raise X12ValueError("payee.npi", None, "N1*PE needs an NPI, tax id or other id")
    w.seg(("N1", "PE", payee.name, qualifier, identifier), ("", "payee.name", "", "payee.id"))
    _address(w, payee.address, "payee.address")
    if payee.tax_id and qualifier != "FI":
        w.seg(("REF", "TJ", payee.tax_id), ("", "payee.tax_id"))


def _cas(w: SegmentWriter, adjustments: Sequence[Adjustment], prefix: str) -> None:
    i = 0
    while i < len(adjustments):
        group = adjustments[i].group
        elements: list[str] = ["CAS", group]
        names = [f"{prefix}[{i}].group"]
        j = i
        while j < len(adjustments) and adjustments[j].group == group and j - i < MAX_CAS_TRIPLETS:
            a = adjustments[j]
            elements += [a.reason, format_amount(a.amount), _opt_amount(a.quantity)]
            names += [f"{prefix}[{j}].reason", f"{prefix}[{j}].amount", f"{prefix}[{j}].quantity"]
            j += 1
        w.seg(elements, names)
        i = j


def _procedure(p: Procedure, *, description: bool) -> tuple[str, ...]:
    """A C003 composite. SVC01-7 (the adjudicated procedure's description) is marked not used
    by the 835 guide, and pyx12 refuses a file that has it, so a description there is never
    written (it is the claim's, which the payer need not echo); SVC06-7, the submitted
    procedure's, may be."""
    if len(p.modifiers) > 4:
        raise X12ValueError("procedure.modifiers", p.modifiers, "at most 4 modifiers")
    modifiers = (*p.modifiers, "", "", "", "")[:4]
    return (p.qualifier, p.code, *modifiers, (p.description or "") if description else "")


def _claim(w: SegmentWriter, c: ClaimPayment) -> None:
    w.seg(
        (
            "CLP",
            c.patient_control_number,
            c.status,
            format_amount(c.total_charge),
            format_amount(c.paid),
            _opt_amount(c.patient_responsibility),
            c.filing_indicator,
            c.payer_claim_control_number or "",
            c.facility_type or "",
            c.frequency_code or "",
            "",  # CLP10 patient status code: not in the model
            c.drg_code or "",
        ),
        ("patient_control_number", "status", "total_charge", "paid", "patient_responsibility",
         "filing_indicator", "payer_claim_control_number", "facility_type", "frequency_code",
         "", "drg_code"),
    )  # fmt: skip
    _cas(w, c.adjustments, "adjustments")
    if c.patient_last_name or c.patient_first_name or c.patient_id:
        w.seg(
            (
                "NM1",
                "QC",
                "1",
                c.patient_last_name or "",
                c.patient_first_name or "",
                "",
                "",
                "",
                "MI" if c.patient_id else "",
                c.patient_id or "",
            ),
            ("", "", "patient_last_name", "patient_first_name", "", "", "", "", "patient_id"),
        )
    if c.remark_codes:
        if len(c.remark_codes) > 5:
            raise X12ValueError("remark_codes", c.remark_codes, "MOA holds at most 5 remarks")
        w.seg(("MOA", "", "", *c.remark_codes), ("", "", "remark_codes"))
    for qualifier, value in (
        ("232", c.statement_start),
        ("233", c.statement_end),
        ("050", c.received_date),
    ):
        if value is not None:
            w.seg(("DTM", qualifier, format_date(value)))
    for i, line in enumerate(c.lines):
        try:
            _line(w, line)
        except X12ValueError as exc:
            raise X12ValueError(f"lines[{i}].{exc.field}", exc.value, exc.reason) from None


def _line(w: SegmentWriter, s: ServicePayment) -> None:
    w.seg(
        (
            "SVC",
            _procedure(s.procedure, description=False),
            format_amount(s.charge),
            format_amount(s.paid),
            s.revenue_code or "",
            _opt_amount(s.units),
            _procedure(s.submitted_procedure, description=True) if s.submitted_procedure else "",
            _opt_amount(s.submitted_units),
        ),
        ("procedure", "charge", "paid", "revenue_code", "units", "submitted_procedure",
         "submitted_units"),
    )  # fmt: skip
    if s.service_end_date is None:
        if s.service_date is not None:
            w.seg(("DTM", "472", format_date(s.service_date)))
    else:
        if s.service_date is not None:
            w.seg(("DTM", "150", format_date(s.service_date)))
        w.seg(("DTM", "151", format_date(s.service_end_date)))
    _cas(w, s.adjustments, "adjustments")
    if s.line_control_number:
        w.seg(("REF", "6R", s.line_control_number), ("", "line_control_number"))
    if s.allowed_amount is not None:
        w.seg(("AMT", "B6", format_amount(s.allowed_amount)))
    for code in s.remark_codes:
        w.seg(("LQ", "HE", code), ("", "remark_codes"))


def _plb(w: SegmentWriter, adjustments: Sequence[ProviderAdjustment]) -> None:
    i = 0
    while i < len(adjustments):
        first = adjustments[i]
        key = (first.provider_id, first.fiscal_period_date)
        elements: list[str | tuple[str, ...]] = [
            "PLB",
            first.provider_id,
            _opt_date(first.fiscal_period_date, f"provider_adjustments[{i}].fiscal_period_date"),
        ]
        names = [f"provider_adjustments[{i}].provider_id", ""]
        j = i
        while (
            j < len(adjustments)
            and (adjustments[j].provider_id, adjustments[j].fiscal_period_date) == key
            and j - i < MAX_PLB_PAIRS
        ):
            a = adjustments[j]
            elements += [(a.reason, a.reference or ""), format_amount(a.amount)]
            names += [f"provider_adjustments[{j}].reason", f"provider_adjustments[{j}].amount"]
            j += 1
        w.seg(elements, names)
        i = j
