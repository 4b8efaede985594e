"""Mailbox polls: one poll job per payer keeps coming back, however many workers seed one."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.crypto import Sealer, parse_keys
from gateway.delivery.connections import Delivery
from gateway.pipeline import poll as poll_step
from gateway.pipeline import steps as pipeline
from gateway.pipeline.poll import ensure_polls, poll_handler
from gateway.pipeline.worker import Step, Worker
from gateway.settings import WorkerSettings
from gateway.storage import jobs
from gateway.storage.tables import jobs as jobs_table
from payers.profile import PayerDirectory, load_profiles
from tests.conftest import TEST_KEYS

SEALER = Sealer(parse_keys(TEST_KEYS))
NOWHERE = "http://127.0.0.1:9/simulator"  # the folder payers below never reach it


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


async def pending_polls(engine: Any) -> dict[str, list[int]]:
    """The pks of the ready or running poll jobs, by payer."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(jobs_table.c.pk, jobs_table.c.payload)
            .where(jobs_table.c.kind == "poll", jobs_table.c.state.in_([jobs.READY, jobs.RUNNING]))
            .order_by(jobs_table.c.pk)
        )
        out: dict[str, list[int]] = {}
        for row in rows:
            out.setdefault(str(row.payload["payer_id"]), []).append(row.pk)
        return out


async def seed_twice(engine: Any, payers: PayerDirectory) -> dict[str, int]:
    """Seed as two workers starting at once may, plus one more copy of each payer's poll;
    returns each payer's oldest copy."""
    await asyncio.gather(ensure_polls(engine, payers), ensure_polls(engine, payers))
    async with engine.begin() as conn:
        for payer_id in payers:
            await jobs.enqueue(conn, "poll", payload={"payer_id": payer_id})
    return {payer_id: pks[0] for payer_id, pks in (await pending_polls(engine)).items()}


async def run_every_copy_at_once(engine: Any, payers: PayerDirectory) -> None:
    """One lease takes every copy, and each runs in a slot of its own."""
    copies = sum(len(pks) for pks in (await pending_polls(engine)).values())
    handlers = {"poll": poll_handler(payers, Delivery(NOWHERE))}
    settings = WorkerSettings(batch_size=copies, concurrency=copies)
    assert await Worker(engine, SEALER, handlers, settings).run_once() == copies


async def test_the_oldest_copy_lives_on_while_a_newer_one_is_running(
    engine: Any, tmp_path: Path
) -> None:
    payers = folder_payers(tmp_path, 1)
    async with engine.begin() as conn:
        for _ in range(2):
            await jobs.enqueue(conn, "poll", payload={"payer_id": "SIMPOLL0"})
    async with engine.begin() as conn:
        older, newer = await jobs.lease(conn, "w1", kinds=["poll"])
    assert older.pk < newer.pk
    run = poll_handler(payers, Delivery(NOWHERE))
    await run(Step(older, engine, SEALER, "w1"))  # the newer copy is running: keep polling
    assert await pending_polls(engine) == {"SIMPOLL0": [older.pk, newer.pk]}
    await run(Step(newer, engine, SEALER, "w1"))  # an older copy is pending: end
    assert await pending_polls(engine) == {"SIMPOLL0": [older.pk]}


async def test_polls_seeded_twice_and_run_side_by_side_leave_the_oldest_per_payer(
    engine: Any, tmp_path: Path
) -> None:
    payers = folder_payers(tmp_path, 8)
    oldest = await seed_twice(engine, payers)
    await run_every_copy_at_once(engine, payers)
    assert await pending_polls(engine) == {payer_id: [pk] for payer_id, pk in oldest.items()}


# PostgreSQL only: SQLite takes its write lock at BEGIN, so the copies cannot interleave.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_copies_that_each_see_the_other_running_still_leave_one_per_payer(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payers = folder_payers(tmp_path, 3)
    oldest = await seed_twice(engine, payers)
    # Every copy looks for the others before any copy has committed what it decided.
    everyone_looked = asyncio.Barrier(sum(len(p) for p in (await pending_polls(engine)).values()))
    real = poll_step.pending_polls

    async def look_then_wait(conn: AsyncConnection, *, before: int | None = None) -> set[str]:
        found = await real(conn, before=before)
        await asyncio.wait_for(everyone_looked.wait(), 10)
        return found

    monkeypatch.setattr(poll_step, "pending_polls", look_then_wait)
    await run_every_copy_at_once(engine, payers)
    assert await pending_polls(engine) == {payer_id: [pk] for payer_id, pk in oldest.items()}


async def test_a_worker_seeds_again_a_poll_that_died(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payers = folder_payers(tmp_path, 2)
    monkeypatch.setattr(pipeline, "POLL_SEED_EVERY_SECONDS", 0.05)
    worker = Worker(engine, SEALER, {}, WorkerSettings())  # no handlers: it only seeds
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run_worker(worker, payers, stop))

    async def wait_for_polls(count: int) -> dict[str, list[int]]:
        for _ in range(200):
            polls = await pending_polls(engine)
            if sum(len(pks) for pks in polls.values()) == count:
                return polls
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} pending polls, found {polls}")

    first = (await wait_for_polls(2))["SIMPOLL0"][0]  # seeded at start
    async with engine.begin() as conn:  # its retries spent while the database was away
        await conn.execute(
            jobs_table.update().where(jobs_table.c.pk == first).values(state=jobs.DEAD)
        )
    polls = await wait_for_polls(2)  # seeded again while the worker runs
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(polls["SIMPOLL0"]) == 1 and polls["SIMPOLL0"][0] != first
