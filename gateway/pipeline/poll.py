"""The poll step: collect response files from each payer's mailbox, store them, queue them.

One poll job per payer comes back every poll_interval_seconds (the same row, rescheduled).
A file is removed from the mailbox only after it is stored; if the process dies in between,
the next poll fetches it again and the copy is recorded as a duplicate, never applied twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.delivery.connections import Delivery
from gateway.delivery.transports import RejectedByPayer, TransportError
from gateway.pipeline.submit import store_inbound
from gateway.pipeline.worker import Handler, Step
from gateway.storage import jobs
from gateway.storage.tables import jobs as jobs_table
from payers.profile import PayerDirectory

log = structlog.get_logger("gateway.poll")
FILES_PER_POLL = 100


async def pending_polls(conn: AsyncConnection, *, before: int | None = None) -> set[str]:
    """Payers with a poll job ready or running; with `before`, only jobs older than that pk."""
    rows = await conn.execute(
        select(jobs_table.c.pk, jobs_table.c.payload).where(
            jobs_table.c.kind == "poll", jobs_table.c.state.in_([jobs.READY, jobs.RUNNING])
        )
    )
    return {str(r.payload.get("payer_id")) for r in rows if before is None or r.pk < before}


async def ensure_polls(engine: AsyncEngine, payers: PayerDirectory) -> None:
    """One pending poll job per payer (run at worker start and every minute after; extra
    copies die out)."""
    async with engine.begin() as conn:
        pending = await pending_polls(conn)
        for payer_id in sorted(set(payers) - pending):
            await jobs.enqueue(conn, "poll", payload={"payer_id": payer_id})


def poll_handler(payers: PayerDirectory, delivery: Delivery) -> Handler:
    async def run(step: Step) -> None:
        payer_id = str(step.job.payload["payer_id"])
        profile = payers.get(payer_id)
        fetched = 0
        if profile is not None:
            transport = delivery.transport(profile)
            try:
                for name in (await transport.list_files())[:FILES_PER_POLL]:
                    body = await transport.read(name)
                    async with step.engine.begin() as conn:
                        await store_inbound(conn, step, payer_id, name, body)
                    await transport.remove(name)
                    fetched += 1
            except (TransportError, RejectedByPayer) as error:
                log.warning("mailbox_poll_failed", payer_id=payer_id, reason=str(error))
        if profile is None:
            async with step.finishing():
                return  # the payer was removed from the configuration
        async with step.engine.begin() as conn:
            if payer_id in await pending_polls(conn, before=step.job.pk):
                # Two workers seeded a poll at the same moment: the oldest copy lives on. Both
                # copies may run at once, so "another copy exists" would end them both.
                await jobs.complete(conn, step.job, step.worker_id)
            else:
                # A full mailbox is drained at once; otherwise wait for the next interval.
                delay = 0 if fetched == FILES_PER_POLL else profile.delivery.poll_interval_seconds
                next_run = datetime.now(UTC) + timedelta(seconds=delay)
                await jobs.reschedule(conn, step.job, step.worker_id, next_run)
        if fetched:
            log.info("mailbox_polled", payer_id=payer_id, files=fetched)

    return run
