"""The jobs queue (leases, retries, crash recovery, SKIP LOCKED) and compare-and-set status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from gateway.crypto import Sealer, parse_keys
from gateway.pipeline.batch import batch_key, queue_batches
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage import jobs
from gateway.storage.lifecycle import ClaimStatus
from gateway.storage.tables import control_numbers
from tests.conftest import TEST_KEYS, example, received_claims

SEALER = Sealer(parse_keys(TEST_KEYS))


async def _claim(engine: Any) -> store.ClaimRecord:
    (record,) = await _claims(engine, 1)
    return record


async def test_lease_complete_and_nothing_left(engine: Any) -> None:
    record = await _claim(engine)
    async with engine.begin() as conn:
        leased = await jobs.lease(conn, "w1")
    assert [(j.kind, j.claim_id, j.attempts) for j in leased] == [("scrub", record.id, 1)]
    async with engine.begin() as conn:
        assert await jobs.lease(conn, "w2") == []  # leased jobs are not handed out twice
        assert await jobs.complete(conn, leased[0], "w1")
        assert await jobs.pending_count(conn) == 0


async def test_outbox_deliveries_are_taken_before_earlier_jobs(engine: Any) -> None:
    # The 999 of a large file is queued after the scrubs of all its claims.
    async with engine.begin() as conn:
        for _ in range(3):
            await jobs.enqueue(conn, "scrub", payload={})
        deliver = await jobs.enqueue(conn, "deliver_file", payload={"file_id": "f"})
    async with engine.begin() as conn:
        (first,) = await jobs.lease(conn, "w1", limit=1)
        rest = await jobs.lease(conn, "w1", limit=10)
    assert first.pk == deliver and first.kind == "deliver_file"
    assert [j.kind for j in rest] == ["scrub"] * 3


async def test_lease_takes_no_more_than_its_limit(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "test", [(None, {"n": n}) for n in range(10)])
    async with engine.begin() as conn:
        first = await jobs.lease(conn, "w1", limit=3)
    async with engine.begin() as conn:
        second = await jobs.lease(conn, "w2", limit=3)
    assert [j.payload["n"] for j in first] == [0, 1, 2]
    assert [j.payload["n"] for j in second] == [3, 4, 5]


async def test_retry_later_then_bury(engine: Any) -> None:
    await _claim(engine)
    async with engine.begin() as conn:
        (job,) = await jobs.lease(conn, "w1")
        await jobs.retry_later(
            conn, job, "w1", "payer down", datetime.now(UTC) + timedelta(hours=1)
        )
    async with engine.begin() as conn:
        assert await jobs.lease(conn, "w1") == []  # not due yet
        (again,) = await jobs.lease(conn, "w1", now=datetime.now(UTC) + timedelta(hours=2))
        assert again.attempts == 2
        await jobs.bury(conn, again, "w1", "gave up")
        assert await jobs.pending_count(conn) == 0


async def test_abandoned_lease_is_taken_over(engine: Any) -> None:
    await _claim(engine)
    async with engine.begin() as conn:
        (job,) = await jobs.lease(conn, "crashed", lease_for=timedelta(seconds=30))
    later = datetime.now(UTC) + timedelta(minutes=1)
    async with engine.begin() as conn:
        (taken,) = await jobs.lease(conn, "w2", now=later)
    assert taken.pk == job.pk and taken.attempts == 2
    async with engine.begin() as conn:
        # The crashed worker's late completion must not count.
        assert not await jobs.complete(conn, job, "crashed")
        assert await jobs.complete(conn, taken, "w2")


async def test_concurrent_workers_never_share_a_job(engine: Any) -> None:
    async with engine.begin() as conn:
        for n in range(40):
            await jobs.enqueue(conn, "test", payload={"n": n})

    async def worker(name: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with engine.begin() as conn:
                batch = await jobs.lease(conn, name, kinds=["test"], limit=3)
            if not batch:
                return taken
            taken += [job.payload["n"] for job in batch]
            await asyncio.sleep(0)

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    everything = [n for result in results for n in result]
    assert sorted(everything) == list(range(40))


async def test_status_change_is_compare_and_set(engine: Any) -> None:
    record = await _claim(engine)
    async with engine.begin() as conn:
        scrubbed = await store.change_status(
            conn, record, ClaimStatus.SCRUBBED, "scrubbed", {"findings": 0}
        )
    assert scrubbed.version == 2
    async with engine.begin() as conn:
        with pytest.raises(store.StaleClaim):
            await store.change_status(
                conn, record, ClaimStatus.SCRUB_REJECTED, "scrub_rejected", {}
            )
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="not allowed"):
            await store.change_status(conn, scrubbed, ClaimStatus.PAID, "paid", {})
        events = await store.claim_events_of(conn, record.id)
        current = await store.get_claim(conn, record.id)
    assert [e.kind for e in events] == ["received", "scrubbed"]
    assert current is not None and current.status is ClaimStatus.SCRUBBED


async def _claims(engine: Any, count: int) -> list[store.ClaimRecord]:
    data = example("professional-office-visit.json")
    return await received_claims(engine, SEALER, "bulk-test", [data] * count)


async def test_bulk_status_changes_write_every_event_in_order(engine: Any) -> None:
    first, second = await _claims(engine, 2)
    async with engine.begin() as conn:
        changes = store.StatusChanges()
        changes.change(first, ClaimStatus.SCRUBBED, "scrubbed", {"n": 1})
        # The second change of the same claim starts from the first one's result.
        changes.change(first, ClaimStatus.TRANSLATED, "translated", {"n": 2})
        changes.change(second, ClaimStatus.SCRUB_REJECTED, "scrub_rejected", {"n": 3})
        changes.note(second.id, "remark", {"n": 4})
        await changes.write(conn)
    async with engine.connect() as conn:
        moved = {r.id: r for r in await store.get_claims(conn, [first.id, second.id])}
        events = {r.id: await store.claim_events_of(conn, r.id) for r in (first, second)}
    assert (moved[first.id].status, moved[first.id].version) == (ClaimStatus.TRANSLATED, 3)
    assert (moved[second.id].status, moved[second.id].version) == (ClaimStatus.SCRUB_REJECTED, 2)
    assert [(e.kind, e.from_status, e.to_status, e.detail) for e in events[first.id]] == [
        ("received", None, "received", {"channel": "api"}),
        ("scrubbed", "received", "scrubbed", {"n": 1}),
        ("translated", "scrubbed", "translated", {"n": 2}),
    ]
    assert [(e.kind, e.from_status, e.to_status) for e in events[second.id][1:]] == [
        ("scrub_rejected", "received", "scrub_rejected"),
        ("remark", None, None),
    ]


async def test_bulk_status_changes_refuse_a_stale_claim_and_the_state_machine(
    engine: Any,
) -> None:
    first, second = await _claims(engine, 2)
    async with engine.begin() as conn:
        await store.change_status(conn, second, ClaimStatus.SCRUBBED, "scrubbed", {})
    with pytest.raises(store.StaleClaim):
        async with engine.begin() as conn:
            changes = store.StatusChanges()
            changes.change(first, ClaimStatus.SCRUBBED, "scrubbed", {})
            changes.change(second, ClaimStatus.SCRUBBED, "scrubbed", {})  # read before the move
            await changes.write(conn)
    with pytest.raises(ValueError, match="not allowed"):
        store.StatusChanges().change(first, ClaimStatus.PAID, "paid", {})
    async with engine.connect() as conn:
        current = await store.get_claim(conn, first.id)
        events = await store.claim_events_of(conn, first.id)
    assert current is not None and current.status is ClaimStatus.RECEIVED  # nothing written
    assert [e.kind for e in events] == ["received"]


async def test_one_ready_batch_job_per_group(engine: Any) -> None:
    (record,) = await _claims(engine, 1)
    key = batch_key(record)
    other = (record.submitter_id, record.payer_id, "institutional")
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await queue_batches(conn, {key}, now)
    async with engine.begin() as conn:
        await queue_batches(conn, {key, other}, now)  # the ready job for `key` is enough
    async with engine.begin() as conn:
        leased = await jobs.lease(conn, "w1", kinds=["batch"])
    assert sorted(j.payload["claim_type"] for j in leased) == ["institutional", "professional"]
    async with engine.begin() as conn:
        # A running job may have chosen its claims already: a new one is queued beside it.
        await queue_batches(conn, {key}, now)
        assert await jobs.pending_count(conn, "batch") == 3


async def test_control_numbers_count_up_per_pair_and_never_collide(engine: Any) -> None:
    async def take(receiver: str) -> int:
        async with engine.begin() as conn:
            return await ix.next_control_number(conn, "CLEARWAY", receiver)

    # Concurrent first numbers of one pair (one upsert each) neither fail nor repeat.
    taken = await asyncio.gather(*(take("PAYER1") for _ in range(4)))
    assert sorted(taken) == [1, 2, 3, 4]
    assert await take("PAYER2") == 1
    async with engine.begin() as conn:
        await conn.execute(
            update(control_numbers)
            .where(control_numbers.c.receiver_id == "PAYER2")
            .values(last_value=999_999_999)
        )
    assert await take("PAYER2") == 1  # wraps after 999,999,999
    assert await take("PAYER1") == 5
