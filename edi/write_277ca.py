"""build_277ca: claim acknowledgment values -> one 277CA (005010X214) interchange.

    ST BHT*0085*08
      HL*1**20*1 NM1*PR TRN*1 DTP*050 DTP*009
        HL*2*1*21*1 NM1*41 TRN*2 STC QTY*90/AA AMT*YU/YY
          HL*3*2*19*1 NM1*85 TRN*1 STC QTY*QA/QC AMT*YU/YY
            HL*4*3*PT NM1*QC TRN*2 STC REF*1K REF*D9 REF*BLT DTP*472  (SVC STC REF*FJ DTP*472)
    SE

One ST per ClaimAcknowledgment. acknowledge_claims() builds the value from per-claim statuses
(the gateway's own claim-level rejections, the payer simulator's verdicts) and fills the batch
and provider totals the guide asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from edi.claim import Claim, Procedure
from edi.claim_ack import (
    CLAIM_ACK_VERSION,
    ClaimAcknowledgment,
    ClaimStatus,
    LineStatus,
    Party,
    ProviderStatus,
    Status,
    StatusCode,
)
from edi.envelope import EnvelopeParams, wrap
from edi.errors import X12ValueError
from edi.x12 import SegmentWriter
from edi.x12_values import format_amount, format_date

# Receipt of the batch and of each provider's claims: "acknowledged, received; entity
# acknowledges receipt" reported by the payer.
RECEIVED = StatusCode("A1", "19", "PR")


def build_277ca(acks: Sequence[ClaimAcknowledgment], params: EnvelopeParams) -> str:
    """One interchange, one HN group, one 277 transaction set per acknowledgment.

    Raises X12ValueError naming the field (``acks[0].providers[1].claims[2].patient.name``).
    """
    if not acks:
        raise X12ValueError("acks", acks, "a 277CA needs at least one acknowledgment")
    bodies = []
    for i, ack in enumerate(acks):
        w = SegmentWriter(params.delimiters, newline=params.newline)
        try:
            # One batch per set: its values are checked with one search (see SegmentWriter).
            w.batch(_ack, ack, params)
        except X12ValueError as exc:
            raise X12ValueError(f"acks[{i}].{exc.field}", exc.value, exc.reason) from None
        bodies.append(w.parts)
    return wrap(
        params,
        functional_id="HN",
        version=CLAIM_ACK_VERSION,
        transaction_set_id="277",
        bodies=bodies,
    )


def _at(prefix: str, fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except X12ValueError as exc:
        raise X12ValueError(prefix + exc.field, exc.value, exc.reason) from None


def _party(w: SegmentWriter, entity: str, p: Party) -> None:
    w.seg(
        (
            "NM1",
            entity,
            "1" if p.is_person else "2",
            p.name,
            p.first_name or "",
            p.middle_name or "",
            "",
            "",
            p.identifier_qualifier,
            p.identifier,
        ),
        ("", "", "name", "first_name", "middle_name", "", "", "identifier_qualifier", "identifier"),
    )


def _code(c: StatusCode) -> tuple[str, ...]:
    return (c.category, c.code, c.entity or "")


def _statuses(w: SegmentWriter, statuses: Sequence[Status]) -> None:
    for i, s in enumerate(statuses):
        if len(s.additional) > 2:
            raise X12ValueError(f"statuses[{i}].additional", s.additional, "STC10/STC11 only")
        extra = [_code(c) for c in s.additional]
        w.seg(
            (
                "STC",
                _code(s.status),
                format_date(s.date) if s.date else "",
                s.action or "",
                "" if s.charge is None else format_amount(s.charge),
                "",
                "",
                "",
                "",
                "",
                *(extra + [("",)] * (2 - len(extra))),
                s.message or "",
            ),
            (f"statuses[{i}].status", f"statuses[{i}].date", f"statuses[{i}].action",
             f"statuses[{i}].charge", "", "", "", "", "", f"statuses[{i}].additional",
             f"statuses[{i}].additional", f"statuses[{i}].message"),
        )  # fmt: skip


def _totals(
    w: SegmentWriter,
    quantities: tuple[str, str],
    accepted_quantity: int | None,
    rejected_quantity: int | None,
    accepted_amount: Decimal | None,
    rejected_amount: Decimal | None,
) -> None:
    if accepted_quantity is not None:
        w.seg(("QTY", quantities[0], str(accepted_quantity)))
    if rejected_quantity is not None:
        w.seg(("QTY", quantities[1], str(rejected_quantity)))
    if accepted_amount is not None:
        w.seg(("AMT", "YU", format_amount(accepted_amount)))
    if rejected_amount is not None:
        w.seg(("AMT", "YY", format_amount(rejected_amount)))


def _period(w: SegmentWriter, start: date | None, end: date | None) -> None:
    if end is not None:
        if start is None:
            raise X12ValueError("service_date", None, "a service period needs its start")
        w.seg(("DTP", "472", "RD8", f"{format_date(start)}-{format_date(end)}"))
    elif start is not None:
        w.seg(("DTP", "472", "D8", format_date(start)))


def _procedure(p: Procedure) -> tuple[str, ...]:
    if len(p.modifiers) > 4:
        raise X12ValueError("procedure.modifiers", p.modifiers, "at most 4 modifiers")
    return (p.qualifier, p.code, *(*p.modifiers, "", "", "", "")[:4], p.description or "")


def _line(w: SegmentWriter, line: LineStatus) -> None:
    w.seg(
        (
            "SVC",
            _procedure(line.procedure),
            format_amount(line.charge),
            "",
            line.revenue_code or "",
            "",
            "",
            "" if line.units is None else format_amount(line.units),
        ),
        ("procedure", "charge", "", "revenue_code", "", "", "units"),
    )
    _statuses(w, line.statuses)
    if line.line_control_number:
        w.seg(("REF", "FJ", line.line_control_number), ("", "line_control_number"))
    _period(w, line.service_date, line.service_end_date)


def _claim(w: SegmentWriter, c: ClaimStatus, hl: int, parent: int) -> None:
    w.seg(("HL", str(hl), str(parent), "PT"))
    _at("patient.", _party, w, "QC", c.patient)
    w.seg(("TRN", "2", c.patient_control_number), ("", "patient_control_number"))
    _statuses(w, c.statuses)
    for qualifier, value, name in (
        ("1K", c.payer_claim_control_number, "payer_claim_control_number"),
        ("D9", c.clearinghouse_trace, "clearinghouse_trace"),
        ("BLT", c.bill_type, "bill_type"),
    ):
        if value:
            w.seg(("REF", qualifier, value), ("", name))
    _period(w, c.service_date, c.service_end_date)
    for i, line in enumerate(c.lines):
        _at(f"lines[{i}].", _line, w, line)


def _ack(w: SegmentWriter, a: ClaimAcknowledgment, params: EnvelopeParams) -> None:
    w.seg(
        (
            "BHT",
            "0085",  # BHT01: information source, receiver, provider, patient
            "08",  # BHT02: status
            a.reference,
            format_date(a.created),
            params.created.strftime("%H%M"),
            "TH",  # BHT06: receipt acknowledgment advice
        ),
        ("", "", "reference"),
    )
    w.seg(("HL", "1", "", "20", "1"))
    _at("source.", _party, w, "AY" if a.source_is_clearinghouse else "PR", a.source)
    w.seg(("TRN", "1", a.source_trace), ("", "source_trace"))
    if a.received_date is not None:
        w.seg(("DTP", "050", "D8", format_date(a.received_date)))
    if a.processed_date is not None:
        w.seg(("DTP", "009", "D8", format_date(a.processed_date)))
    w.seg(("HL", "2", "1", "21", "1" if a.providers else "0"))
    _at("receiver.", _party, w, "41", a.receiver)
    w.seg(("TRN", "2", a.receiver_trace), ("", "receiver_trace"))
    _at("receiver_", _statuses, w, a.receiver_statuses)
    _totals(
        w,
        ("90", "AA"),
        a.accepted_quantity,
        a.rejected_quantity,
        a.accepted_amount,
        a.rejected_amount,
    )
    hl = 2
    for i, p in enumerate(a.providers):
        hl += 1
        provider_hl = hl
        w.seg(("HL", str(hl), "2", "19", "1" if p.claims else "0"))
        prefix = f"providers[{i}]."
        _at(prefix + "provider.", _party, w, "85", p.provider)
        w.seg(("TRN", "1", p.trace_number), ("", prefix + "trace_number"))
        _at(prefix, _statuses, w, p.statuses)
        _totals(
            w,
            ("QA", "QC"),
            p.accepted_quantity,
            p.rejected_quantity,
            p.accepted_amount,
            p.rejected_amount,
        )
        for j, c in enumerate(p.claims):
            hl += 1
            _at(f"{prefix}claims[{j}].", _claim, w, c, hl, provider_hl)


def _sum(claims: Sequence[ClaimStatus]) -> Decimal:
    return sum((c.total_charge or Decimal(0) for c in claims), Decimal(0))


def billing_party(claim: Claim) -> Party:
    """Loop 2100C: the claim's billing provider, by NPI."""
    bp = claim.billing_provider
    return Party(
        name=bp.organization_name or bp.last_name or "PROVIDER",
        identifier=bp.npi,
        identifier_qualifier="XX",
        first_name=bp.first_name,
        is_person=bp.organization_name is None,
    )


def claim_status(
    claim: Claim,
    status: Status,
    *,
    payer_claim_number: str | None = None,
    clearinghouse_trace: str | None = None,
) -> ClaimStatus:
    """Loops 2000D/2200D for one claim of the model: its patient (the subscriber when the
    patient is the subscriber) under the member id, CLM01, its service dates and `status`."""
    person = claim.patient or claim.subscriber
    return ClaimStatus(
        patient=Party(
            name=person.last_name,
            identifier=claim.subscriber.member_id,
            identifier_qualifier="MI",
            first_name=person.first_name,
            is_person=True,
        ),
        patient_control_number=claim.patient_control_number,
        statuses=(status,),
        payer_claim_control_number=payer_claim_number,
        clearinghouse_trace=clearinghouse_trace,
        service_date=claim.service_date_start,
        service_end_date=claim.service_date_end
        if claim.service_date_end != claim.service_date_start
        else None,
    )


def acknowledge_claims(
    claims: Sequence[tuple[Party, ClaimStatus]],
    *,
    reference: str,
    created: date,
    source: Party,
    receiver: Party,
    receiver_trace: str,
    source_trace: str | None = None,
    source_is_clearinghouse: bool = False,
) -> ClaimAcknowledgment:
    """A 277CA value from per-claim verdicts, each with its billing provider.

    Claims are grouped under their provider in first-seen order. Accepted and rejected counts
    and amounts (STC04 of each claim) are filled at batch and provider level; the batch and
    each provider get an "A1:19:PR" receipt status dated `created`, as the guide requires.
    """
    if not claims:
        raise X12ValueError("claims", claims, "a 277CA acknowledges at least one claim")
    grouped: dict[Party, list[ClaimStatus]] = {}
    for provider, claim in claims:
        grouped.setdefault(provider, []).append(claim)

    def totals(items: Sequence[ClaimStatus]) -> dict[str, int | Decimal | None]:
        rejected = [c for c in items if c.rejected]
        accepted = [c for c in items if not c.rejected]
        return {
            "accepted_quantity": len(accepted) or None,
            "rejected_quantity": len(rejected) or None,
            "accepted_amount": _sum(accepted) if accepted else None,
            "rejected_amount": _sum(rejected) if rejected else None,
        }

    providers = tuple(
        ProviderStatus(
            provider=provider,
            trace_number=f"{receiver_trace}-{n}",
            statuses=(Status(RECEIVED, None, "WQ", _sum(items)),),
            claims=tuple(items),
            **totals(items),  # type: ignore[arg-type]
        )
        for n, (provider, items) in enumerate(grouped.items(), 1)
    )
    every = [c for _, c in claims]
    return ClaimAcknowledgment(
        reference=reference,
        created=created,
        source=source,
        source_trace=source_trace or reference,
        received_date=created,
        processed_date=created,
        receiver=receiver,
        receiver_trace=receiver_trace,
        receiver_statuses=(Status(RECEIVED, created, "WQ", _sum(every)),),
        providers=providers,
        source_is_clearinghouse=source_is_clearinghouse,
        **totals(every),  # type: ignore[arg-type]
    )
