"""Mailbox polls: one poll job per payer keeps coming back, however many workers seed one."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import jobs, poll_step
from gateway.crypto import Sealer, parse_keys
from gateway.delivery import Delivery
from gateway.poll_step import ensure_polls, poll_handler
from gateway.settings import WorkerSettings
from gateway.tables import jobs as jobs_table
from gateway.worker import Worker
from payers.profile import PayerDirectory, load_profiles
from tests.conftest import TEST_KEYS

SEALER = Sealer(parse_keys(TEST_KEYS))
PAYERS = 8


def folder_payers(tmp_path: Path, count: int) -> PayerDirectory:
    """Copies of a shipped profile, each polling an empty folder of its own."""
    base = load_profiles()["SIMCOM01"]
    return PayerDirectory(
        replace(
            base,
            payer_id=f"SIMPOLL{n}",
            aliases=(),
            delivery=replace(base.delivery, transport="directory", path=str(tmp_path / str(n))),
        )
        for n in range(count)
    )


async def pending_polls_by_payer(engine: Any) -> Counter[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(jobs_table.c.payload).where(
                jobs_table.c.kind == "poll", jobs_table.c.state.in_([jobs.READY, jobs.RUNNING])
            )
        )
        return Counter(str(payload["payer_id"]) for payload in rows.scalars())


async def seed_twice(engine: Any, payers: PayerDirectory) -> None:
    # Two workers starting at the same moment may both find no poll and both seed one.
    await asyncio.gather(ensure_polls(engine, payers), ensure_polls(engine, payers))
    async with engine.begin() as conn:
        for payer_id in payers:  # whatever ensure_polls did, a second copy of each
            await jobs.enqueue(conn, "poll", payload={"payer_id": payer_id})


async def run_every_copy_at_once(engine: Any, payers: PayerDirectory) -> None:
    copies = sum((await pending_polls_by_payer(engine)).values())
    handlers = {"poll": poll_handler(payers, Delivery("http://127.0.0.1:9/simulator"))}
    settings = WorkerSettings(batch_size=copies, concurrency=copies)
    # One lease takes every copy and runs them all at once.
    assert await Worker(engine, SEALER, handlers, settings).run_once() == copies


async def test_polls_seeded_twice_and_run_side_by_side_leave_one_per_payer(
    engine: Any, tmp_path: Path
) -> None:
    payers = folder_payers(tmp_path, PAYERS)
    await seed_twice(engine, payers)
    await run_every_copy_at_once(engine, payers)
    assert await pending_polls_by_payer(engine) == Counter({payer_id: 1 for payer_id in payers})


# PostgreSQL only: SQLite takes its write lock at BEGIN, so the copies cannot interleave.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_copies_that_each_see_the_other_running_still_leave_one_per_payer(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payers = folder_payers(tmp_path, 3)
    await seed_twice(engine, payers)
    # Every copy looks for the others before any copy has committed what it decided.
    copies = sum((await pending_polls_by_payer(engine)).values())
    everyone_looked = asyncio.Barrier(copies)
    real = poll_step.pending_polls

    async def look_then_wait(conn: AsyncConnection, *, before: int | None = None) -> set[str]:
        found = await real(conn, before=before)
        await asyncio.wait_for(everyone_looked.wait(), 10)
        return found

    monkeypatch.setattr(poll_step, "pending_polls", look_then_wait)
    await run_every_copy_at_once(engine, payers)
    assert await pending_polls_by_payer(engine) == Counter({payer_id: 1 for payer_id in payers})


async def test_a_payer_whose_poll_died_is_polled_again_when_polls_are_seeded(
    engine: Any, tmp_path: Path
) -> None:
    payers = folder_payers(tmp_path, 2)
    await ensure_polls(engine, payers)
    async with engine.begin() as conn:
        first = (await conn.execute(select(jobs_table.c.pk).order_by(jobs_table.c.pk))).first()
        assert first is not None
        await conn.execute(
            jobs_table.update().where(jobs_table.c.pk == first.pk).values(state=jobs.DEAD)
        )
    assert sum((await pending_polls_by_payer(engine)).values()) == 1
    await ensure_polls(engine, payers)  # the worker does this every minute
    assert await pending_polls_by_payer(engine) == Counter({payer_id: 1 for payer_id in payers})
