"""The batch step: SCRUBBED claims for one payer become stored 837 interchanges.

Claims are gathered per submitter, payer and claim type (one 1000A submitter and one receiver
per 837), up to the payer's batch size, after waiting at most its batch_max_wait_seconds. One
batch job is pending per such group, not one per claim. One transaction takes a control
number per 837, stores each sealed 837 with its sha256, links its claims, moves them to
TRANSLATED and queues the submit jobs: nothing is sent before it commits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.claim_json import claim_from_json
from edi.envelope import st_control
from edi.errors import X12ValueError
from edi.write_837 import build_837, receiver_of
from gateway.crypto import Sealer
from gateway.pipeline.translate import envelope
from gateway.pipeline.worker import Defer, Handler, Step
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage import jobs
from gateway.storage.lifecycle import ClaimStatus
from gateway.storage.tables import jobs as jobs_table
from payers.profile import PayerDirectory, PayerProfile

log = structlog.get_logger("gateway.batch")
_CLAIM_INDEX = re.compile(r"^claims\[(\d+)\]")


BatchKey = tuple[str, str, str]  # submitter id, payer id, claim type


def batch_key(record: store.ClaimRecord) -> BatchKey:
    return record.submitter_id, record.payer_id, record.claim_type


async def queue_batches(conn: AsyncConnection, keys: set[BatchKey], now: datetime) -> None:
    """Make sure a batch job is ready for each group, in the caller's transaction.

    A ready job is locked (on PostgreSQL) until the caller commits, so it cannot be leased
    and run without seeing the caller's claims; a running one may already have chosen its
    claims, so it does not count and a new job is queued beside it.
    """
    if not keys:
        return
    payload = jobs_table.c.payload
    query = (
        select(jobs_table.c.pk, jobs_table.c.payload, jobs_table.c.run_after)
        .where(
            jobs_table.c.kind == "batch",
            jobs_table.c.state == jobs.READY,
            or_(
                *(
                    and_(
                        payload["submitter_id"].as_string() == submitter_id,
                        payload["payer_id"].as_string() == payer_id,
                        payload["claim_type"].as_string() == claim_type,
                    )
                    for submitter_id, payer_id, claim_type in sorted(keys)
                )
            ),
        )
        .order_by(jobs_table.c.pk)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    pending = (await conn.execute(query)).all()
    # A job waiting for its batch to fill runs now: these claims may have filled it.
    waiting = [row.pk for row in pending if row.run_after > now]
    if waiting:
        await conn.execute(
            update(jobs_table).where(jobs_table.c.pk.in_(waiting)).values(run_after=now)
        )
    ready = {(p["submitter_id"], p["payer_id"], p["claim_type"]) for _, p, _ in pending}
    await jobs.enqueue_many(
        conn,
        "batch",
        [
            (None, {"submitter_id": s, "payer_id": p, "claim_type": t})
            for s, p, t in sorted(keys - ready)
        ],
        at=now,
    )


async def _group_of(conn: AsyncConnection, job: jobs.Job) -> BatchKey | None:
    if "submitter_id" in job.payload:
        p = job.payload
        return str(p["submitter_id"]), str(p["payer_id"]), str(p["claim_type"])
    # A job queued per claim by an earlier version: its claim names the group.
    record = await store.get_claim(conn, job.claim_id or "")
    return batch_key(record) if record is not None else None


def batch_handler(payers: PayerDirectory, x12: X12Settings) -> Handler:
    async def run(step: Step) -> None:
        now = datetime.now(UTC)
        async with step.finishing() as conn:
            key = await _group_of(conn, step.job)
            if key is None:
                return
            submitter_id, payer_id, claim_type = key
            profile = payers[payer_id]
            delivery = profile.delivery
            group = await store.claims_for_batch(
                conn,
                submitter_id=submitter_id,
                payer_id=payer_id,
                claim_type=claim_type,
                limit=delivery.batch_max_claims,
            )
            if not group:
                return  # batched by another job of the same group
            waited = (now - min(r.updated_at for r in group)).total_seconds()
            if len(group) < delivery.batch_max_claims and waited < delivery.batch_max_wait_seconds:
                raise Defer(delivery.batch_max_wait_seconds - waited)
            payloads = await store.claim_payloads(conn, step.sealer, [r.id for r in group])
            # One 837 has one submitter (1000A) and one receiver (1000B).
            parts: dict[tuple[object, object], list[tuple[store.ClaimRecord, Claim]]] = {}
            for r in group:
                claim = claim_from_json(payloads[r.id])
                parts.setdefault(_envelope_key(claim), []).append((r, claim))
            changes = store.StatusChanges()
            built: list[ix.Interchange] = []
            again = len(group) == delivery.batch_max_claims  # more may be waiting
            for batch in parts.values():
                try:
                    interchange = await store_837(conn, step.sealer, x12, profile, batch, now)
                except X12ValueError as error:
                    _fail_claim(changes, batch, error)
                    again = True  # the others go in a fresh batch
                    continue
                detail = {
                    "interchange_id": interchange.id,
                    "control_number": interchange.control_number,
                }
                for r, _ in batch:
                    changes.change(r, ClaimStatus.TRANSLATED, "translated", detail)
                built.append(interchange)
            await changes.write(conn)
            await jobs.enqueue_many(
                conn, "submit", [(None, {"interchange_id": i.id}) for i in built], at=now
            )
            if again:
                await queue_batches(conn, {key}, now)
        for interchange in built:
            log.info(
                "interchange_built",
                interchange_id=interchange.id,
                payer_id=profile.payer_id,
                control_number=interchange.control_number,
                claims=interchange.claim_count,
                bytes=interchange.size,
            )

    return run


async def store_837(
    conn: AsyncConnection,
    sealer: Sealer,
    x12: X12Settings,
    profile: PayerProfile,
    batch: list[tuple[store.ClaimRecord, Claim]],
    now: datetime,
) -> ix.Interchange:
    """One 837 of these claims (one submitter, claim type and receiver) under a new control
    number, stored sealed and ready to send, its claims linked; X12ValueError names the
    claim the 837 has no place for. The caller moves the claims and queues the submit."""
    control = await ix.next_control_number(conn, x12.sender_id, profile.payer_id)
    params = envelope(x12, profile, control_number=control, created=now)
    text = build_837([c for _, c in batch], params)
    first = batch[0][0]
    interchange = await ix.insert_interchange(
        conn,
        sealer,
        direction=ix.OUTBOUND,
        payer_id=profile.payer_id,
        submitter_id=first.submitter_id,
        kind="837P" if first.claim_type == "professional" else "837I",
        body=text.encode(),
        state=ix.READY,
        control_number=control,
        claim_count=len(batch),
    )
    st02 = st_control(params, 0)
    await ix.link_claims(conn, interchange.id, [(r.id, st02) for r, _ in batch])
    return interchange


def _envelope_key(claim: Claim) -> tuple[object, object]:
    return claim.submitter, receiver_of(claim)


def _fail_claim(
    changes: store.StatusChanges,
    batch: list[tuple[store.ClaimRecord, Claim]],
    error: X12ValueError,
) -> None:
    """The claim the 837 has no place for fails alone, with the field named."""
    match = _CLAIM_INDEX.match(error.field)
    index = int(match.group(1)) if match else 0
    field = _CLAIM_INDEX.sub("", error.field).lstrip(".")
    changes.change(
        batch[index][0],
        ClaimStatus.FAILED,
        "translation_failed",
        {"field": field, "reason": error.reason},
    )
