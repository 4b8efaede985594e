"""The submit step: send a stored 837 to its payer, retrying the same bytes until it lands.

The network call happens outside any transaction. A retry resends the stored body with its
original control numbers, so a payer that already has it answers with a duplicate TA1 rather
than adjudicating twice. After the payer's attempt limit, or a refusal that resending cannot
change, the interchange is dead-lettered and its claims FAILED, until re-driven.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.validate import AckControl, validate
from gateway import interchange_store as ix
from gateway import jobs, store
from gateway.delivery import Delivery
from gateway.lifecycle import ClaimStatus
from gateway.transports import RejectedByPayer, TransportError
from gateway.worker import Defer, Handler, Retry, Step
from payers.profile import PayerDirectory, PayerProfile

log = structlog.get_logger("gateway.submit")


def file_name(interchange: ix.Interchange) -> str:
    return f"{interchange.kind}-{interchange.control_number or 0:09d}.x12"


def should_validate(profile: PayerProfile, interchange: ix.Interchange) -> bool:
    policy = profile.delivery.validate_outbound
    if policy == "all":
        return True
    if policy == "none":
        return False
    # A stable sample: the same interchange is always in or out, whichever worker asks.
    bucket = int(hashlib.sha256(interchange.id.encode()).hexdigest()[:8], 16) % 100
    return bucket < profile.delivery.validate_sample_percent


def submit_handler(payers: PayerDirectory, delivery: Delivery) -> Handler:
    async def run(step: Step) -> None:
        interchange_id = str(step.job.payload["interchange_id"])
        async with step.engine.connect() as conn:
            interchange = await ix.get_interchange(conn, interchange_id)
            body = (
                await ix.interchange_body(conn, step.sealer, interchange_id)
                if interchange is not None and interchange.state == ix.READY
                else None
            )
        if interchange is None or body is None:
            async with step.finishing():
                return  # sent or dead-lettered by an earlier run
        profile = payers[interchange.payer_id]
        breaker = delivery.breaker(profile)
        wait = breaker.retry_in(time.monotonic())
        if wait:
            raise Defer(wait)

        if step.job.attempts == 1 and should_validate(profile, interchange):
            report = await asyncio.to_thread(
                validate, body.decode(), AckControl(1, 1, 1, datetime.now(UTC))
            )
            if not report.ok:
                issues = [
                    {
                        "code": i.code,
                        "segment_id": i.segment_id,
                        "segment_number": i.segment_number,
                        "element_position": i.element_position,
                        "message": i.message,
                    }
                    for i in report.issues[:50]
                ]
                async with step.finishing() as conn:
                    await _dead_letter(conn, interchange, "failed pyx12 validation", issues)
                log.error("interchange_invalid", interchange_id=interchange.id, issues=len(issues))
                return

        try:
            answers = await delivery.transport(profile).send(file_name(interchange), body)
        except TransportError as error:
            breaker.failed(time.monotonic(), str(error))
            if step.job.attempts >= profile.delivery.max_attempts:
                async with step.finishing() as conn:
                    await _dead_letter(conn, interchange, str(error), [])
                log.error("interchange_dead", interchange_id=interchange.id, reason=str(error))
                return
            raise Retry(str(error), max_attempts=profile.delivery.max_attempts + 1) from None
        except RejectedByPayer as error:
            async with step.finishing() as conn:
                await _dead_letter(conn, interchange, str(error), [])
            log.error("interchange_refused", interchange_id=interchange.id, reason=str(error))
            return
        breaker.succeeded(time.monotonic())

        async with step.finishing() as conn:
            now = datetime.now(UTC)
            await ix.set_state(
                conn, interchange.id, ix.SENT, sent_at=now, attempts=step.job.attempts
            )
            detail = {
                "interchange_id": interchange.id,
                "control_number": interchange.control_number,
                "attempts": step.job.attempts,
            }
            await _move_claims(conn, interchange, ClaimStatus.SUBMITTED, "submitted", detail)
            for answer in answers:
                await store_inbound(conn, step, profile.payer_id, answer.name, answer.body)
        log.info(
            "interchange_sent",
            interchange_id=interchange.id,
            payer_id=profile.payer_id,
            attempts=step.job.attempts,
            answers=len(answers),
        )

    return run


async def store_inbound(
    conn: AsyncConnection, step: Step, payer_id: str, name: str, body: bytes
) -> ix.Interchange:
    """Keep a response file (sealed) before anything reads it, and queue its application.
    The same bytes stored twice are recorded as a duplicate and not applied again."""
    earlier = await ix.seen_inbound(conn, payer_id, hashlib.sha256(body).hexdigest())
    state = ix.DUPLICATE if earlier else ix.RECEIVED
    stored = await ix.insert_interchange(
        conn,
        step.sealer,
        direction=ix.INBOUND,
        payer_id=payer_id,
        kind="unknown",
        body=body,
        state=state,
        detail={"name": name[:200], **({"duplicate_of": earlier.id} if earlier else {})},
    )
    if not earlier:
        await jobs.enqueue(conn, "apply", payload={"interchange_id": stored.id})
    return stored


async def _dead_letter(
    conn: AsyncConnection, interchange: ix.Interchange, reason: str, issues: list[dict[str, Any]]
) -> None:
    await ix.set_state(
        conn, interchange.id, ix.DEAD, error=reason[:2000], detail={"issues": issues}
    )
    detail = {"interchange_id": interchange.id, "reason": reason[:500], "issues": issues}
    await _move_claims(conn, interchange, ClaimStatus.FAILED, "delivery_failed", detail)


async def _move_claims(
    conn: AsyncConnection,
    interchange: ix.Interchange,
    new_status: ClaimStatus,
    kind: str,
    detail: dict[str, Any],
) -> None:
    """Move the interchange's claims that are still TRANSLATED (a payer's answer may have
    overtaken our record of the send)."""
    changes = store.StatusChanges()
    ids = [claim_id for claim_id, _ in await ix.claims_of(conn, interchange.id)]
    # Locked in id order, as apply does: an answer applied meanwhile never waits on us in a
    # cycle.
    for record in await store.get_claims(conn, ids, lock=True):
        if record.status is ClaimStatus.TRANSLATED:
            changes.change(record, new_status, kind, detail)
    await changes.write(conn)
