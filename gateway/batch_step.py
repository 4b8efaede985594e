"""The batch step: SCRUBBED claims for one payer become one stored 837 interchange.

Claims are gathered per submitter, payer and claim type (one 1000A submitter and one receiver
per 837), up to the payer's batch size, after waiting at most its batch_max_wait_seconds. One
transaction takes a control number, stores the sealed 837 with its sha256, links its claims,
moves them to TRANSLATED and queues the submit job: nothing is sent before it commits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.claim_json import claim_from_json
from edi.envelope import st_control
from edi.errors import X12ValueError
from edi.write_837 import build_837, receiver_of
from gateway import interchange_store as ix
from gateway import jobs, store
from gateway.lifecycle import ClaimStatus
from gateway.settings import X12Settings
from gateway.translate import envelope
from gateway.worker import Defer, Handler, Step
from payers.profile import PayerDirectory

log = structlog.get_logger("gateway.batch")
_CLAIM_INDEX = re.compile(r"^claims\[(\d+)\]")


def batch_handler(payers: PayerDirectory, x12: X12Settings) -> Handler:
    async def run(step: Step) -> None:
        now = datetime.now(UTC)
        async with step.finishing() as conn:
            record = await store.get_claim(conn, step.job.claim_id or "")
            if record is None or record.status is not ClaimStatus.SCRUBBED:
                return  # already batched with another claim's job
            profile = payers[record.payer_id]
            delivery = profile.delivery
            group = await store.claims_for_batch(
                conn,
                submitter_id=record.submitter_id,
                payer_id=record.payer_id,
                claim_type=record.claim_type,
                limit=delivery.batch_max_claims,
            )
            if record.id not in {r.id for r in group}:
                raise Defer(1.0)  # another worker holds it; check again shortly
            waited = (now - min(r.updated_at for r in group)).total_seconds()
            if len(group) < delivery.batch_max_claims and waited < delivery.batch_max_wait_seconds:
                raise Defer(delivery.batch_max_wait_seconds - waited)
            loaded = [
                (r, claim_from_json(await store.claim_payload(conn, step.sealer, r.id)))
                for r in group
            ]
            # One 837 has one submitter (1000A) and one receiver (1000B): take this job's kind.
            mine = next(claim for r, claim in loaded if r.id == record.id)
            batch = [(r, c) for r, c in loaded if _envelope_key(c) == _envelope_key(mine)]
            control = await ix.next_control_number(conn, x12.sender_id, profile.payer_id)
            params = envelope(x12, profile, control_number=control, created=now)
            try:
                text = build_837([c for _, c in batch], params)
            except X12ValueError as error:
                await _fail_claim(conn, batch, error)
                # The others go in a fresh batch; this job's own claim may be among them.
                await jobs.enqueue(conn, "batch", claim_id=record.id, payload=step.job.payload)
                return
            interchange = await ix.insert_interchange(
                conn,
                step.sealer,
                direction=ix.OUTBOUND,
                payer_id=profile.payer_id,
                submitter_id=record.submitter_id,
                kind="837P" if record.claim_type == "professional" else "837I",
                body=text.encode(),
                state=ix.READY,
                control_number=control,
                claim_count=len(batch),
            )
            st02 = st_control(params, 0)
            await ix.link_claims(conn, interchange.id, [(r.id, st02) for r, _ in batch])
            for r, _ in batch:
                await store.change_status(
                    conn,
                    r,
                    ClaimStatus.TRANSLATED,
                    "translated",
                    {"interchange_id": interchange.id, "control_number": control},
                )
            await jobs.enqueue(conn, "submit", payload={"interchange_id": interchange.id})
        log.info(
            "interchange_built",
            interchange_id=interchange.id,
            payer_id=profile.payer_id,
            control_number=control,
            claims=len(batch),
            bytes=interchange.size,
        )

    return run


def _envelope_key(claim: Claim) -> tuple[object, object]:
    return claim.submitter, receiver_of(claim)


async def _fail_claim(
    conn: AsyncConnection, batch: list[tuple[store.ClaimRecord, Claim]], error: X12ValueError
) -> None:
    """The claim the 837 has no place for fails alone, with the field named."""
    match = _CLAIM_INDEX.match(error.field)
    index = int(match.group(1)) if match else 0
    record = batch[index][0]
    field = _CLAIM_INDEX.sub("", error.field).lstrip(".")
    await store.change_status(
        conn,
        record,
        ClaimStatus.FAILED,
        "translation_failed",
        {"field": field, "reason": error.reason},
    )
