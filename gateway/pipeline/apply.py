"""The apply step: a stored response file moves the claims it speaks of to their new status.

Correlation: a 999 names our GS06 (= ISA13) and each set's ST02; a TA1 names our ISA13. A
response that arrives out of order is still recorded in the claim's history, but moves the
claim only where the state machine allows. A file that matches nothing is kept as unmatched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from edi import codes
from edi.ack import Acknowledgments, ImplementationAck, InterchangeAck, SegmentError
from edi.claim_ack import ClaimAcknowledgment
from edi.errors import EdiError
from edi.read_277ca import read_277ca
from edi.read_835 import read_835
from edi.read_ack import read_acknowledgments
from edi.remittance import ClaimPayment, Remittance
from edi.x12 import SegmentReader, head_segments
from gateway.amounts import money
from gateway.crypto import Sealer
from gateway.pipeline.answer_files import Forward, forward_responses
from gateway.pipeline.matching import Evidence, Sent, group_sent, match
from gateway.pipeline.worker import Defer, Handler, Step
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage.lifecycle import ClaimStatus, can_transition
from gateway.storage.tables import interchanges

log = structlog.get_logger("gateway.apply")

ORDER_WAIT_SECONDS = 10.0  # an 835 collected this long ago no longer waits for its 277CA
ORDER_WINDOW = timedelta(minutes=10)  # earlier answers older than this are not waited for


@dataclass
class Outcome:
    """What applying one file did, kept in the inbound interchange's detail (no PHI)."""

    kinds: list[str]
    claims_updated: int = 0
    events_only: int = 0
    unmatched: list[str] = field(default_factory=list)  # what could not be correlated
    forward: Forward = field(default_factory=Forward)  # whose claims each answer concerns
    # What the readers found wrong but read past (an 835 that does not balance, a date that
    # does not read): by rule and segment position, without the claim's CLM01.
    findings: list[dict[str, Any]] = field(default_factory=list)

    def detail(self) -> dict[str, Any]:
        return {
            "kinds": self.kinds,
            "claims_updated": self.claims_updated,
            "events_only": self.events_only,
            "unmatched": self.unmatched[:200],
            **({"findings": self.findings[:200]} if self.findings else {}),
        }

    def logged(self) -> dict[str, Any]:
        """What the log says of it: counts, never a patient account number (CLM01)."""
        return {**self.detail(), "unmatched": len(self.unmatched), "findings": len(self.findings)}


_ANSWER_KINDS = {"999": "999", "277": "277CA", "835": "835"}  # ST01 -> kind


def transaction_kinds(body: bytes) -> list[str]:
    """The kinds of X12 in a file, in order: TA1, 999, 277CA, 835 or ST01 otherwise."""
    kinds: list[str] = []
    for segment in SegmentReader(body):
        if segment[0] == "TA1":
            kind = "TA1"
        elif segment[0] == "ST":
            kind = _ANSWER_KINDS.get(segment[1], segment[1])
        else:
            continue
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def first_kind(body: bytes) -> str:
    """What an answer file holds, from its first TA1 or ST01, read off its first segments
    without parsing the file; "unknown" when they do not say. Stored with the file, it lets an
    835 wait for the 277CA collected before it; applying the file records every kind."""
    for segment in head_segments(body[:4096].decode("utf-8", "replace"), 6)[1:]:
        if segment[0] == "TA1":
            return "TA1"
        if segment[0] == "ST":
            return _ANSWER_KINDS.get(segment[1] if len(segment) > 1 else "", "unknown")
    return "unknown"


def apply_handler(x12: X12Settings | None = None) -> Handler:
    x12 = x12 or X12Settings()

    async def run(step: Step) -> None:
        interchange_id = str(step.job.payload["interchange_id"])
        async with step.engine.connect() as conn:
            inbound = await ix.get_interchange(conn, interchange_id)
            if inbound is None or inbound.state != ix.RECEIVED:
                body = None
            else:
                body = await ix.interchange_body(conn, step.sealer, interchange_id)
        if inbound is None or body is None:
            async with step.finishing():
                return
        await _after_earlier_answers(step, inbound)
        try:
            # Parsing is CPU work on files that can be large: keep it off the event loop.
            parsed = await asyncio.to_thread(_parse, body)
        except EdiError as error:
            async with step.finishing() as conn:
                await ix.set_state(conn, inbound.id, ix.UNREADABLE, error=str(error)[:2000])
            log.warning(
                "response_unreadable",
                interchange_id=inbound.id,
                error_type=type(error).__name__,
                segment_id=getattr(error, "segment_id", None),
                segment_number=getattr(error, "segment_number", None),
            )
            return
        kinds = parsed.kinds
        outcome = Outcome(kinds)
        outcome.findings = [
            {"rule": f.rule, "segment_number": f.segment_number, "line_number": f.line_number}
            for found in (*parsed.claim_acks, *parsed.remittances)
            for f in found.findings
        ]
        async with step.finishing() as conn:
            work = await _load(conn, step.sealer, inbound, parsed, outcome)
            for ta1 in parsed.acks.interchange_acks:
                await _apply_ta1(work, ta1)
            for ack in parsed.acks.implementation_acks:
                _apply_999(work, ack)
            for claim_ack in parsed.claim_acks:
                _apply_277ca(work, claim_ack)
            for remittance in parsed.remittances:
                _apply_835(work, remittance)
            await work.end_voids()
            await work.write()
            # Each submitter gets its share of the payer's 277CA/835 in its outbox.
            await forward_responses(conn, step.sealer, x12, outcome.forward, inbound.id)
            state = ix.UNMATCHED if outcome.unmatched else ix.APPLIED
            await ix.set_state(
                conn,
                inbound.id,
                state,
                detail={**inbound.detail, **outcome.detail()},
                kind="+".join(kinds)[:12],
            )
        log.info("response_applied", interchange_id=inbound.id, **outcome.logged())

    return run


async def _after_earlier_answers(step: Step, inbound: ix.Interchange) -> None:
    """An 835 waits (a bounded time) while a 277CA of the same payer collected before it is
    still to be applied: collected by one poll, they are applied in that order, so the claim's
    history reads acknowledged, then paid. Nothing else waits: other answers concern other
    claims, or may arrive in any order anyway."""
    if inbound.kind != "835":
        return
    mine = select(interchanges.c.pk).where(interchanges.c.id == inbound.id).scalar_subquery()
    earlier = (
        select(interchanges.c.pk)
        .where(
            interchanges.c.direction == ix.INBOUND,
            interchanges.c.state == ix.RECEIVED,
            interchanges.c.kind == "277CA",
            interchanges.c.payer_id == inbound.payer_id,
            interchanges.c.pk < mine,
            # One stuck for longer (its apply failing) holds up nothing.
            interchanges.c.created_at >= inbound.created_at - ORDER_WINDOW,
        )
        .limit(1)
    )
    async with step.engine.connect() as conn:
        waiting = (await conn.execute(earlier)).first() is not None
    if not waiting:
        return
    if datetime.now(UTC) - inbound.created_at < timedelta(seconds=ORDER_WAIT_SECONDS):
        # Back in the queue rather than asleep in a worker slot; not counted as an attempt.
        raise Defer(0.2)
    log.warning("apply_order_wait_over", interchange_id=inbound.id)


@dataclass(frozen=True)
class Parsed:
    kinds: list[str]
    acks: Acknowledgments
    claim_acks: tuple[ClaimAcknowledgment, ...]
    remittances: tuple[Remittance, ...]


def _parse(body: bytes) -> Parsed:
    kinds = transaction_kinds(body)
    if not kinds:
        raise EdiError("the file holds no TA1 and no transaction set")
    unknown = set(kinds) - {"TA1", "999", "277CA", "835"}
    if unknown:
        raise EdiError(f"the file holds {', '.join(sorted(unknown))}, which is not a response")
    return Parsed(
        kinds,
        read_acknowledgments(body) if {"TA1", "999"} & set(kinds) else Acknowledgments((), ()),
        read_277ca(body) if "277CA" in kinds else (),
        read_835(body) if "835" in kinds else (),
    )


@dataclass
class Applying:
    """One response file being applied: the claims it names, loaded at once, and what it
    changes, written at once by `write` (status changes, events, payer numbers, payments)."""

    conn: AsyncConnection
    inbound: ix.Interchange
    outcome: Outcome
    sent: dict[int, tuple[ix.Interchange, list[tuple[str, str]]]]  # ISA13 -> 837, claims
    records: dict[str, store.ClaimRecord]
    by_pcn: dict[str, list[Sent]]  # CLM01 -> the claims sent to this payer under it
    paid_before: set[store.RemittanceKey]
    changes: store.StatusChanges = field(default_factory=store.StatusChanges)
    payer_numbers: dict[str, str] = field(default_factory=dict)
    remittances: list[store.NewRemittance] = field(default_factory=list)
    reversed: list[str] = field(default_factory=list)  # claims this file moved to REVERSED
    answers_read: dict[str, int] = field(default_factory=dict)  # kind -> claims read so far

    def move(
        self, claim_id: str, new_status: ClaimStatus, kind: str, detail: dict[str, Any]
    ) -> None:
        """Change status where the state machine allows; otherwise only record the event."""
        found = self.records.get(claim_id)
        if found is None:
            return
        record = self.changes.current(found)
        if record.status is not new_status and can_transition(record.status, new_status):
            self.changes.change(record, new_status, kind, detail)
            self.outcome.claims_updated += 1
            if new_status is ClaimStatus.REVERSED:
                self.reversed.append(claim_id)
        else:
            self.changes.note(record.id, kind, detail)
            self.outcome.events_only += 1

    def note(self, claim_id: str, kind: str, detail: dict[str, Any]) -> None:
        self.changes.note(claim_id, kind, detail)
        self.outcome.events_only += 1

    async def end_voids(self) -> None:
        """A void (frequency 8) is done when the payer takes back the payment of the claim it
        voids: the original's reversal in this file moves the void to VOIDED."""
        for void in await store.corrections_of(self.conn, self.reversed):
            if void.frequency_code != "8":
                continue
            self.records.setdefault(void.id, void)
            detail = {"response_id": self.inbound.id, "original_claim_id": void.corrects_claim_id}
            self.move(void.id, ClaimStatus.VOIDED, "voided", detail)

    async def write(self) -> None:
        await self.changes.write(self.conn)
        await store.set_payer_claim_numbers(self.conn, self.payer_numbers, self.records)
        await store.add_remittances(self.conn, self.remittances)


async def _load(
    conn: AsyncConnection,
    sealer: Sealer,
    inbound: ix.Interchange,
    parsed: Parsed,
    outcome: Outcome,
) -> Applying:
    """Lock (on PostgreSQL, in id order) and read every claim the file may speak of."""
    payer_id = inbound.payer_id
    controls = [t.control_number for t in parsed.acks.interchange_acks] + [
        a.group_control_number for a in parsed.acks.implementation_acks
    ]
    sent: dict[int, tuple[ix.Interchange, list[tuple[str, str]]]] = {}
    for control in dict.fromkeys(controls):
        interchange = await ix.outbound_by_control_number(conn, payer_id, control)
        if interchange is not None:
            sent[control] = (interchange, await ix.claims_of(conn, interchange.id))
    ids = sorted({claim_id for _, carried in sent.values() for claim_id, _ in carried})
    pcns = sorted(
        {
            status.patient_control_number
            for ack in parsed.claim_acks
            for provider in ack.providers
            for status in provider.claims
        }
        | {payment.patient_control_number for r in parsed.remittances for payment in r.claims}
    )
    await store.lock_claims(conn, ids=ids, payer_id=payer_id, pcns=pcns)
    by_pcn = {
        pcn: group_sent(rows)
        for pcn, rows in (await store.sent_claims_by_pcns(conn, payer_id, pcns)).items()
    }
    # Where a CLM01 was sent by more than one claim (two practices, or a resend), the billing
    # provider of each tells them apart: read from their sealed payloads, only then.
    shared = [s.record.id for sent in by_pcn.values() if len(sent) > 1 for s in sent]
    payloads = await store.claim_payloads(conn, sealer, shared)
    for pcn, sent in by_pcn.items():
        by_pcn[pcn] = [_with_provider(s, payloads.get(s.record.id)) for s in sent]
    records = {r.id: r for r in await store.get_claims(conn, ids)}
    for candidates in by_pcn.values():
        records.update((s.record.id, s.record) for s in candidates)
    paid_before = (
        await store.remittances_seen(conn, sorted(records)) if parsed.remittances else set()
    )
    return Applying(conn, inbound, outcome, sent, records, by_pcn, paid_before)


async def _apply_ta1(work: Applying, ta1: InterchangeAck) -> None:
    found = work.sent.get(ta1.control_number)
    if found is None:
        work.outcome.unmatched.append(f"TA1 for ISA13 {ta1.control_number}")
        return
    sent, carried = found
    detail = {
        "interchange_id": sent.id,
        "control_number": ta1.control_number,
        "ta1_status": ta1.status,
        "note_code": ta1.note_code,
        "note": codes.describe("ta105", ta1.note_code),
        "response_id": work.inbound.id,
    }
    # A duplicate (025) means the payer already has this interchange: that is the answer to
    # a resend after a crash, and must not disturb the claims' status.
    rejected = ta1.status == "R" and ta1.note_code != "025"
    await ix.set_state(
        work.conn,
        sent.id,
        sent.state,
        error=sent.last_error,
        detail={**sent.detail, "ta1": detail},
    )
    for claim_id, _ in carried:
        if rejected:
            work.move(claim_id, ClaimStatus.X12_REJECTED, "ta1_rejected", detail)
        else:
            work.move(claim_id, ClaimStatus.SUBMITTED, "ta1_received", detail)


def describe_segment_error(error: SegmentError) -> dict[str, Any]:
    return {
        "segment_id": error.segment_id,
        "position": error.position,
        "loop": error.loop_id,
        "code": error.code,
        "meaning": codes.describe("ik304", error.code),
        "elements": [
            {
                "position": e.position,
                "component": e.component_position,
                "data_element": e.data_element,
                "code": e.code,
                "meaning": codes.describe("ik403", e.code),
            }
            for e in error.elements
        ],
    }


def _apply_999(work: Applying, ack: ImplementationAck) -> None:
    # We send ISA13 = GS06, so the acked group control number finds the interchange.
    found = work.sent.get(ack.group_control_number)
    if found is None:
        work.outcome.unmatched.append(f"999 for GS06 {ack.group_control_number}")
        return
    sent, carried = found
    by_set: dict[str, list[str]] = {}
    for claim_id, st02 in carried:
        by_set.setdefault(st02.lstrip("0"), []).append(claim_id)
    verdicts = {s.control_number.lstrip("0"): s for s in ack.transaction_sets}
    for st02, claim_ids in by_set.items():
        set_ack = verdicts.get(st02)
        status = set_ack.status if set_ack else ack.status
        accepted = status in ("A", "E") or (set_ack is None and status == "P")
        detail: dict[str, Any] = {
            "interchange_id": sent.id,
            "control_number": sent.control_number,
            "transaction_control_number": st02,
            "ack_status": status,
            "meaning": codes.describe("ik501" if set_ack else "ak901", status),
            "response_id": work.inbound.id,
        }
        if set_ack is not None and set_ack.errors:
            detail["errors"] = [describe_segment_error(e) for e in set_ack.errors]
        new_status = ClaimStatus.ACCEPTED if accepted else ClaimStatus.X12_REJECTED
        kind = "999_accepted" if accepted else "999_rejected"
        for claim_id in claim_ids:
            work.move(claim_id, new_status, kind, detail)


def _with_provider(sent: Sent, payload: dict[str, Any] | None) -> Sent:
    if payload is None:
        return sent
    provider = payload.get("billing_provider") or {}
    return replace(sent, billing_npi=provider.get("npi"), billing_tax_id=provider.get("tax_id"))


def _find_claim(work: Applying, evidence: Evidence, what: str) -> store.ClaimRecord | None:
    """The one sent claim the answer is about, or None (recorded as unmatched, for a person)."""
    candidates = work.by_pcn.get(evidence.patient_control_number, [])
    found = match(candidates, evidence, work.payer_numbers)
    work.answers_read[what] = number = work.answers_read.get(what, 0) + 1
    if found.record is None:
        # Where in the file, and our claim ids: the patient's account number (CLM01) is for
        # whoever opens the file, not for this detail, which is kept in clear.
        noun = "claim status" if what == "277CA" else "claim payment"
        work.outcome.unmatched.append(f"{what} {noun} {number} in the file: {found.why_not}")
    return found.record


def _party_ids(party: Any) -> tuple[str | None, str | None]:
    """(NPI, tax id) of a 277CA 2100C provider."""
    qualifier, identifier = party.identifier_qualifier, party.identifier or None
    return (identifier if qualifier == "XX" else None), (identifier if qualifier == "FI" else None)


# 277CA STC01-1 category -> claim status. A0 (forwarded), A5 (split), E (errors in the
# response) and F (finalized: the 835 tells how) are recorded without moving the claim.
def status_for_category(category: str) -> ClaimStatus | None:
    if category in ("A1", "A2"):
        return ClaimStatus.ACKNOWLEDGED
    if category in ("A3", "A4", "A6", "A7", "A8"):
        return ClaimStatus.PAYER_REJECTED
    if category.startswith("P"):
        return ClaimStatus.PENDED
    return None


def _apply_277ca(work: Applying, ack: ClaimAcknowledgment) -> None:
    for provider in ack.providers:
        for status in provider.claims:
            npi, tax_id = _party_ids(provider.provider)
            evidence = Evidence(
                patient_control_number=status.patient_control_number,
                payer_claim_number=status.payer_claim_control_number,
                batch_reference=ack.receiver_trace,
                total_charge=status.total_charge,
                service_start=status.service_date,
                service_end=status.service_end_date,
                provider_npi=npi,
                provider_tax_id=tax_id,
            )
            record = _find_claim(work, evidence, "277CA")
            if record is None:
                continue
            detail = {
                "response_id": work.inbound.id,
                "payer_claim_number": status.payer_claim_control_number,
                "statuses": [
                    {
                        "category": code.category,
                        "category_meaning": codes.describe("claim_status_category", code.category),
                        "code": code.code,
                        "meaning": codes.describe("claim_status", code.code),
                        "entity": code.entity,
                    }
                    for s in status.statuses
                    for code in s.codes
                ],
            }
            work.outcome.forward.claim_statuses.setdefault(record.submitter_id, []).append(
                (ack, provider, status)
            )
            if status.payer_claim_control_number:
                work.payer_numbers[record.id] = status.payer_claim_control_number
            new_status = status_for_category(status.category)
            kind = f"277ca_{status.category.lower() or 'status'}"
            if new_status is None:
                work.note(record.id, kind, detail)
            else:
                work.move(record.id, new_status, kind, detail)


def status_for_payment(payment: ClaimPayment) -> ClaimStatus | None:
    """CLP02 and the lines -> claim status; None for codes that settle nothing (23, 25).

    PAID: adjudicated and not denied, whatever share the patient owes (PR adjustments), even
    all of it (a claim applied to the deductible). PARTIALLY_PAID: some lines paid, others
    denied (paid nothing with no patient share). DENIED: CLP02 4, or nothing paid and nothing
    owed by the patient.
    """
    if payment.status == "22":
        return ClaimStatus.REVERSED
    if payment.status == "4":
        return ClaimStatus.DENIED
    if payment.status not in ("1", "2", "3", "19", "20", "21"):
        return None
    owed = payment.patient_responsibility or Decimal(0)
    if payment.paid <= 0 and owed <= 0:
        return ClaimStatus.DENIED
    denied_lines = [
        line
        for line in payment.lines
        if line.paid == 0 and not any(a.group == "PR" for a in line.adjustments)
    ]
    return ClaimStatus.PARTIALLY_PAID if denied_lines else ClaimStatus.PAID


def _adjustments(adjustments: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [
        {
            "group": a.group,
            "group_meaning": codes.describe("adjustment_group", a.group),
            "reason": a.reason,
            "reason_meaning": codes.describe("carc", a.reason),
            "amount": money(a.amount),
            **({"quantity": str(a.quantity)} if a.quantity is not None else {}),
        }
        for a in adjustments
    ]


def _reasons(payment: ClaimPayment) -> list[dict[str, Any]]:
    """The payment's adjustments, claim level and line level, summed per group and reason."""
    totals: dict[tuple[str, str], Decimal] = {}
    every = [*payment.adjustments, *(a for line in payment.lines for a in line.adjustments)]
    for a in every:
        totals[(a.group, a.reason)] = totals.get((a.group, a.reason), Decimal(0)) + a.amount
    return [
        {
            "group": group,
            "reason": reason,
            "reason_meaning": codes.describe("carc", reason),
            "amount": money(amount),
        }
        for (group, reason), amount in totals.items()
        if amount
    ]


def _remarks(payment: ClaimPayment) -> list[dict[str, str]]:
    on_lines = (code for line in payment.lines for code in line.remark_codes)
    found = dict.fromkeys([*payment.remark_codes, *on_lines])  # each once, in order
    return [{"code": r, "meaning": codes.describe("rarc", r)} for r in found]


def payment_detail(payment: ClaimPayment) -> dict[str, Any]:
    """What an 835 says of one claim, without the patient's name or member id."""
    return {
        "status_meaning": codes.describe("claim_payment_status", payment.status),
        "adjustments": _adjustments(payment.adjustments),
        "remark_codes": [
            {"code": r, "meaning": codes.describe("rarc", r)} for r in payment.remark_codes
        ],
        "lines": [
            {
                "procedure": line.procedure.code,
                "modifiers": list(line.procedure.modifiers),
                "revenue_code": line.revenue_code,
                "line_control_number": line.line_control_number,
                "charge": money(line.charge),
                "paid": money(line.paid),
                "allowed": None if line.allowed_amount is None else money(line.allowed_amount),
                "units": None if line.units is None else str(line.units),
                "adjustments": _adjustments(line.adjustments),
                "remark_codes": [
                    {"code": r, "meaning": codes.describe("rarc", r)} for r in line.remark_codes
                ],
            }
            for line in payment.lines
        ],
    }


def _apply_835(work: Applying, remittance: Remittance) -> None:
    for payment in remittance.claims:
        dates = [line.service_date for line in payment.lines if line.service_date]
        ends = [line.service_end_date or line.service_date for line in payment.lines]
        evidence = Evidence(
            patient_control_number=payment.patient_control_number,
            payer_claim_number=payment.payer_claim_control_number,
            total_charge=payment.total_charge,
            service_start=payment.statement_start or min(dates, default=None),
            service_end=payment.statement_end or max(filter(None, ends), default=None),
            provider_npi=remittance.payee.npi,
            provider_tax_id=remittance.payee.tax_id,
        )
        record = _find_claim(work, evidence, "835")
        if record is None:
            continue
        # The same claim, trace number, CLP02 and amount, re-sent in another file.
        seen = store.remittance_key(record.id, remittance.trace_number, payment)
        if seen in work.paid_before:
            work.outcome.events_only += 1
            continue
        work.paid_before.add(seen)
        work.remittances.append(
            store.NewRemittance(
                claim_id=record.id,
                interchange_id=work.inbound.id,
                payment=payment,
                payment_date=remittance.payment.date,
                trace_number=remittance.trace_number,
                detail=payment_detail(payment),
            )
        )
        work.outcome.forward.payments.setdefault(record.submitter_id, []).append(
            (remittance, payment)
        )
        if payment.payer_claim_control_number:
            work.payer_numbers[record.id] = payment.payer_claim_control_number
        detail = {
            "response_id": work.inbound.id,
            "trace_number": remittance.trace_number,
            "status_code": payment.status,
            "status_meaning": codes.describe("claim_payment_status", payment.status),
            "charge": money(payment.total_charge),
            "paid": money(payment.paid),
            "patient_responsibility": money(payment.patient_responsibility or Decimal(0)),
            # Why, in the history itself: what the payer adjusted (claim and lines together)
            # and its remark codes, each with its meaning.
            "reasons": _reasons(payment),
            "remark_codes": _remarks(payment),
        }
        new_status = status_for_payment(payment)
        if record.frequency_code == "8":
            # A payer that answers a void under its own CLM01 (rather than, or beside, the
            # original's reversal): the void has been carried out.
            new_status = ClaimStatus.VOIDED
        if new_status is None:
            work.note(record.id, "835_other", detail)
        else:
            work.move(record.id, new_status, f"835_{new_status.value}", detail)
