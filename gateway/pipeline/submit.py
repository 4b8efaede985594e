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

from edi.claim_json import claim_from_json
from edi.errors import X12ValueError
from edi.validate import AckControl, ValidationIssue, validate
from edi.x12 import SegmentReader
from gateway.delivery.connections import Delivery
from gateway.delivery.transports import RejectedByPayer, TransportError
from gateway.pipeline.apply import first_kind
from gateway.pipeline.batch import store_837
from gateway.pipeline.worker import Defer, Handler, Retry, Step
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage import jobs
from gateway.storage.lifecycle import ClaimStatus
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


def submit_handler(
    payers: PayerDirectory, delivery: Delivery, x12: X12Settings | None = None
) -> Handler:
    x12 = x12 or X12Settings()

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

        # Every attempt: a retry after a failed attempt to record the verdict must not send
        # bytes pyx12 refused.
        if should_validate(profile, interchange):
            text = body.decode()
            report = await asyncio.to_thread(validate, text, AckControl(1, 1, 1, datetime.now(UTC)))
            if not report.ok:
                await _invalid(step, x12, interchange, profile, text, report.issues)
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


def _issue(issue: ValidationIssue) -> dict[str, Any]:
    return {
        "code": issue.code,
        "segment_id": issue.segment_id,
        "segment_number": issue.segment_number,
        "element_position": issue.element_position,
        "message": issue.message,
    }


def claims_in_error(
    text: str, issues: tuple[ValidationIssue, ...]
) -> dict[str, list[ValidationIssue]] | None:
    """The issues by the CLM01 of the claim (from its CLM to the next CLM, HL or SE) each falls
    in; None when one falls outside every claim (a loop header, the envelope): no claim alone
    explains it."""
    spans: list[list[Any]] = []  # [first, last segment number, CLM01]
    current: list[Any] | None = None
    for number, segment in enumerate(SegmentReader(text), 1):
        if segment[0] == "CLM":
            current = [number, number, segment[1] if len(segment) > 1 else ""]
            spans.append(current)
        elif segment[0] in ("HL", "SE"):
            current = None
        elif current is not None:
            current[1] = number
    found: dict[str, list[ValidationIssue]] = {}
    for issue in issues:
        number = issue.segment_number or 0
        span = next((s for s in spans if s[0] <= number <= s[1]), None)
        if span is None:
            return None
        found.setdefault(span[2], []).append(issue)
    return found


async def _invalid(
    step: Step,
    x12: X12Settings,
    interchange: ix.Interchange,
    profile: PayerProfile,
    text: str,
    issues: tuple[ValidationIssue, ...],
) -> None:
    """An 837 pyx12 refuses. When the issues lie inside some of its claims, those claims fail
    with their issues and the others go out again in a new 837 (validated in turn), so one bad
    claim does not fail a whole batch; otherwise every claim fails with the interchange."""
    by_claim = claims_in_error(text, issues) or {}
    reason = "failed pyx12 validation"
    async with step.finishing() as conn:
        ids = [claim_id for claim_id, _ in await ix.claims_of(conn, interchange.id)]
        records = [
            r
            for r in await store.get_claims(conn, ids, lock=True)
            if r.status is ClaimStatus.TRANSLATED
        ]
        bad = [r for r in records if r.patient_control_number in by_claim]
        good = [r for r in records if r not in bad]
        pcns = [r.patient_control_number for r in records]
        # A CLM01 twice in the 837 cannot say which of the two is wrong: nothing is split then.
        again = None
        if bad and good and len(set(pcns)) == len(pcns):
            payloads = await store.claim_payloads(conn, step.sealer, [r.id for r in good])
            try:
                again = await store_837(
                    conn,
                    step.sealer,
                    x12,
                    profile,
                    [(r, claim_from_json(payloads[r.id])) for r in good],
                    datetime.now(UTC),
                )
            except X12ValueError:
                again = None  # they wrote once; if not now, they fail with the 837
        if again is None:
            await _dead_letter(conn, interchange, reason, [_issue(i) for i in issues[:50]])
            log.error("interchange_invalid", interchange_id=interchange.id, issues=len(issues))
            return
        await jobs.enqueue(conn, "submit", payload={"interchange_id": again.id})
        await ix.set_state(
            conn,
            interchange.id,
            ix.DEAD,
            error=reason,
            detail={"issues": [_issue(i) for i in issues[:50]], "claims_resent_in": again.id},
        )
        changes = store.StatusChanges()
        for r in bad:
            mine = [_issue(i) for i in by_claim[r.patient_control_number][:50]]
            detail = {"interchange_id": interchange.id, "reason": reason, "issues": mine}
            changes.change(r, ClaimStatus.FAILED, "delivery_failed", detail)
        for r in good:
            changes.note(
                r.id,
                "rebatched",
                {"interchange_id": again.id, "left": interchange.id, "reason": "another claim "
                 "of its 837 failed pyx12 validation"},
            )  # fmt: skip
        await changes.write(conn)
    log.error(
        "interchange_invalid",
        interchange_id=interchange.id,
        issues=len(issues),
        claims_failed=len(bad),
        claims_resent_in=again.id,
    )


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
        kind=first_kind(body),
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
