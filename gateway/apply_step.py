"""The apply step: a stored response file moves the claims it speaks of to their new status.

Correlation: a 999 names our GS06 (= ISA13) and each set's ST02; a TA1 names our ISA13. A
response that arrives out of order is still recorded in the claim's history, but moves the
claim only where the state machine allows. A file that matches nothing is kept as unmatched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from edi import codes
from edi.ack import Acknowledgments, ImplementationAck, InterchangeAck, SegmentError
from edi.errors import EdiError
from edi.read_ack import read_acknowledgments
from edi.x12 import SegmentReader
from gateway import interchange_store as ix
from gateway import store
from gateway.lifecycle import ClaimStatus, can_transition
from gateway.worker import Handler, Step

log = structlog.get_logger("gateway.apply")


@dataclass
class Outcome:
    """What applying one file did, kept in the inbound interchange's detail (no PHI)."""

    kinds: list[str]
    claims_updated: int = 0
    events_only: int = 0
    unmatched: list[str] = field(default_factory=list)  # what could not be correlated

    def detail(self) -> dict[str, Any]:
        return {
            "kinds": self.kinds,
            "claims_updated": self.claims_updated,
            "events_only": self.events_only,
            "unmatched": self.unmatched[:200],
        }


def transaction_kinds(body: bytes) -> list[str]:
    """The kinds of X12 in a file, in order: TA1, 999, 277CA, 835 or ST01 otherwise."""
    kinds: list[str] = []
    names = {"999": "999", "277": "277CA", "835": "835", "837": "837"}
    for segment in SegmentReader(body):
        tag = segment[0]
        kind = "TA1" if tag == "TA1" else names.get(segment[1], segment[1]) if tag == "ST" else None
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


def apply_handler() -> Handler:
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
        try:
            # Parsing is CPU work on files that can be large: keep it off the event loop.
            kinds, acks = await asyncio.to_thread(_parse, body)
        except EdiError as error:
            async with step.finishing() as conn:
                await ix.set_state(conn, inbound.id, ix.UNREADABLE, error=str(error)[:2000])
            log.warning("response_unreadable", interchange_id=inbound.id, error=str(error)[:200])
            return
        outcome = Outcome(kinds)
        async with step.finishing() as conn:
            for ta1 in acks.interchange_acks:
                await _apply_ta1(conn, inbound, ta1, outcome)
            for ack in acks.implementation_acks:
                await _apply_999(conn, inbound, ack, outcome)
            state = ix.UNMATCHED if outcome.unmatched else ix.APPLIED
            await ix.set_state(
                conn,
                inbound.id,
                state,
                detail={**inbound.detail, **outcome.detail()},
                kind="+".join(kinds)[:12],
            )
        log.info("response_applied", interchange_id=inbound.id, **outcome.detail())

    return run


def _parse(body: bytes) -> tuple[list[str], Acknowledgments]:
    kinds = transaction_kinds(body)
    if not kinds:
        raise EdiError("the file holds no TA1 and no transaction set")
    acks = read_acknowledgments(body) if {"TA1", "999"} & set(kinds) else Acknowledgments((), ())
    return kinds, acks


async def move_claim(
    conn: AsyncConnection,
    claim_id: str,
    new_status: ClaimStatus,
    kind: str,
    detail: dict[str, Any],
    outcome: Outcome,
) -> None:
    """Change status where the state machine allows; otherwise only record the event."""
    record = await store.get_claim(conn, claim_id)
    if record is None:
        return
    if record.status is not new_status and can_transition(record.status, new_status):
        await store.change_status(conn, record, new_status, kind, detail)
        outcome.claims_updated += 1
    else:
        await store.add_event(conn, record.id, kind, None, None, detail, at=store.utcnow())
        outcome.events_only += 1


async def _apply_ta1(
    conn: AsyncConnection, inbound: ix.Interchange, ta1: InterchangeAck, outcome: Outcome
) -> None:
    sent = await ix.outbound_by_control_number(conn, inbound.payer_id, ta1.control_number)
    if sent is None:
        outcome.unmatched.append(f"TA1 for ISA13 {ta1.control_number}")
        return
    detail = {
        "interchange_id": sent.id,
        "control_number": ta1.control_number,
        "ta1_status": ta1.status,
        "note_code": ta1.note_code,
        "note": codes.describe("ta105", ta1.note_code),
        "response_id": inbound.id,
    }
    # A duplicate (025) means the payer already has this interchange: that is the answer to
    # a resend after a crash, and must not disturb the claims' status.
    rejected = ta1.status == "R" and ta1.note_code != "025"
    await ix.set_state(
        conn,
        sent.id,
        sent.state,
        error=sent.last_error,
        detail={**sent.detail, "ta1": detail},
    )
    for claim_id, _ in await ix.claims_of(conn, sent.id):
        if rejected:
            await move_claim(
                conn, claim_id, ClaimStatus.X12_REJECTED, "ta1_rejected", detail, outcome
            )
        else:
            await move_claim(conn, claim_id, ClaimStatus.SUBMITTED, "ta1_received", detail, outcome)


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


async def _apply_999(
    conn: AsyncConnection, inbound: ix.Interchange, ack: ImplementationAck, outcome: Outcome
) -> None:
    # We send ISA13 = GS06, so the acked group control number finds the interchange.
    sent = await ix.outbound_by_control_number(conn, inbound.payer_id, ack.group_control_number)
    if sent is None:
        outcome.unmatched.append(f"999 for GS06 {ack.group_control_number}")
        return
    by_set: dict[str, list[str]] = {}
    for claim_id, st02 in await ix.claims_of(conn, sent.id):
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
            "response_id": inbound.id,
        }
        if set_ack is not None and set_ack.errors:
            detail["errors"] = [describe_segment_error(e) for e in set_ack.errors]
        new_status = ClaimStatus.ACCEPTED if accepted else ClaimStatus.X12_REJECTED
        kind = "999_accepted" if accepted else "999_rejected"
        for claim_id in claim_ids:
            await move_claim(conn, claim_id, new_status, kind, detail, outcome)
