"""The worker: steps finish their job in their own transaction, failures back off, then die."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.crypto import Sealer, parse_keys
from gateway.pipeline.worker import Grouped, LeaseLost, Retry, Step, StepGroup, Worker
from gateway.settings import WorkerSettings
from gateway.storage import jobs
from gateway.storage.tables import jobs as jobs_table
from tests.conftest import TEST_KEYS

SEALER = Sealer(parse_keys(TEST_KEYS))
FAST = WorkerSettings(max_attempts=3, backoff_base_seconds=0, backoff_max_seconds=0)


async def states(engine: Any) -> list[tuple[str, int, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(jobs_table.c.state, jobs_table.c.attempts, jobs_table.c.last_error).order_by(
                jobs_table.c.pk
            )
        )
        return [tuple(r) for r in rows]


async def test_step_result_and_next_job_commit_with_completion(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "first", payload={"n": 1})

    async def first(step: Step) -> None:
        async with step.finishing() as conn:
            await jobs.enqueue(conn, "second", payload={"from": step.job.payload["n"]})

    seen: list[dict[str, Any]] = []

    async def second(step: Step) -> None:
        async with step.finishing():
            seen.append(step.job.payload)

    worker = Worker(engine, SEALER, {"first": first, "second": second}, FAST)
    await worker.run_until_idle()
    assert seen == [{"from": 1}]
    assert await states(engine) == [("done", 1, None), ("done", 1, None)]


async def test_a_failing_step_rolls_back_retries_then_dies(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "flaky")

    async def flaky(step: Step) -> None:
        async with step.finishing() as conn:
            await jobs.enqueue(conn, "never")  # rolled back with the failure
            raise Retry("payer endpoint refused the connection")

    worker = Worker(engine, SEALER, {"flaky": flaky}, FAST)
    await worker.run_until_idle()
    assert await states(engine) == [("dead", 3, "payer endpoint refused the connection")]


async def test_unexpected_errors_are_recorded_by_type_only(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "broken")

    async def broken(step: Step) -> None:
        raise KeyError("SMITH JOHN")  # a message may carry PHI; only the type is kept

    await Worker(engine, SEALER, {"broken": broken}, FAST).run_until_idle()
    assert await states(engine) == [("dead", 3, "KeyError")]


async def test_jobs_without_a_handler_are_left_alone(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "later")
    assert await Worker(engine, SEALER, {}, FAST).run_once() == 0
    assert await Worker(engine, SEALER, {"other": None}, FAST).run_once() == 0  # type: ignore[dict-item]
    assert await states(engine) == [("ready", 0, None)]


def test_backoff_grows_and_is_capped() -> None:
    worker = Worker(
        None, SEALER, {}, WorkerSettings(backoff_base_seconds=2, backoff_max_seconds=60)
    )  # type: ignore[arg-type]
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (10, 60)]:
        delays = [worker.backoff(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


async def test_finished_jobs_are_pruned_dead_ones_kept(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "quick")
        await jobs.enqueue(conn, "broken")

    async def quick(step: Step) -> None:
        async with step.finishing():
            pass

    async def broken(step: Step) -> None:
        raise RuntimeError

    settings = WorkerSettings(max_attempts=1, keep_done_jobs_hours=0)
    worker = Worker(engine, SEALER, {"quick": quick, "broken": broken}, settings)
    await worker.run_until_idle()
    assert await worker.prune() == 1
    assert [s for s, _, _ in await states(engine)] == ["dead"]


async def test_a_grouped_step_finishes_its_jobs_in_one_transaction(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "scrub", [(None, {"n": n}) for n in range(5)])
    sizes: list[int] = []

    async def scrub(group: StepGroup) -> None:
        sizes.append(len(group.leased))
        async with group.finishing() as conn:
            await jobs.enqueue(conn, "next", payload={"of": len(group.leased)})

    await Worker(engine, SEALER, {"scrub": Grouped(scrub)}, FAST).run_until_idle()
    assert sizes == [5]
    assert await states(engine) == [("done", 1, None)] * 5 + [("ready", 0, None)]


async def test_a_lease_takes_group_size_jobs_but_batch_size_of_those_run_alone(
    engine: Any,
) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "submit", [(None, {"n": n}) for n in range(9)])
        await jobs.enqueue_many(conn, "scrub", [(None, {"n": n}) for n in range(30)])
        await jobs.enqueue(conn, "submit", payload={"n": 9})  # queued behind the scrubs
    groups: list[int] = []
    singles: list[int] = []

    async def scrub(group: StepGroup) -> None:
        groups.append(len(group.leased))
        async with group.finishing():
            pass

    async def submit(step: Step) -> None:
        singles.append(step.job.payload["n"])
        async with step.finishing():
            pass

    settings = WorkerSettings(batch_size=4, group_size=25)
    worker = Worker(engine, SEALER, {"scrub": Grouped(scrub), "submit": submit}, settings)
    # The first 25 in queue order: 9 submits, of which 4 are kept, and 16 scrubs.
    assert await worker.run_once() == 4 + 16
    assert groups == [16] and singles == [0, 1, 2, 3]
    async with engine.connect() as conn:
        handed_back = await conn.execute(
            select(jobs_table.c.state, jobs_table.c.attempts, jobs_table.c.locked_by)
            .where(jobs_table.c.kind == "submit")
            .order_by(jobs_table.c.pk)
        )
        assert list(handed_back)[4:9] == [("ready", 0, None)] * 5
    await worker.run_until_idle()
    assert sorted(groups) == [14, 16] and sorted(singles) == list(range(10))
    assert singles[-1] == 9  # FIFO: the submit queued last ran last


async def test_a_failing_group_is_run_again_one_job_at_a_time(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "scrub", [(None, {"bad": n == 1}) for n in range(3)])

    async def scrub(group: StepGroup) -> None:
        async with group.finishing() as conn:
            await jobs.enqueue(conn, "next")  # rolled back with a failing group
            if any(job.payload["bad"] for job in group.leased):
                raise RuntimeError

    await Worker(engine, SEALER, {"scrub": Grouped(scrub)}, FAST).run_until_idle()
    assert await states(engine) == [
        ("done", 1, None),
        ("dead", 3, "RuntimeError"),
        ("done", 1, None),
        ("ready", 0, None),
        ("ready", 0, None),
    ]


async def test_a_group_commits_nothing_when_one_lease_was_lost(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "scrub", [(None, {}) for _ in range(3)])
        leased = await jobs.lease(conn, "w1")
        # Another worker took one job over after our lease ran out.
        await conn.execute(
            update(jobs_table).where(jobs_table.c.pk == leased[1].pk).values(locked_by="w2")
        )
    group = StepGroup(tuple(leased), engine, SEALER, "w1")
    with pytest.raises(LeaseLost):
        async with group.finishing() as conn:
            await jobs.enqueue(conn, "next")
    assert await states(engine) == [("running", 1, None)] * 3


async def test_run_forever_starts_the_next_batch_while_a_slow_job_runs(engine: Any) -> None:
    """A batch's slowest job does not hold the next jobs back; stopping finishes them all."""
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "slow")
    release = asyncio.Event()
    stop = asyncio.Event()
    done: list[str] = []

    async def slow(step: Step) -> None:
        await release.wait()
        async with step.finishing():
            done.append("slow")

    async def quick(step: Step) -> None:
        async with step.finishing():
            done.append(step.job.payload["n"])
        if len(done) == 2:
            release.set()  # only once the later jobs finished while the slow one waited

    settings = WorkerSettings(batch_size=1, concurrency=4, poll_interval_seconds=0.01)
    worker = Worker(engine, SEALER, {"slow": slow, "quick": quick}, settings)
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(0.05)  # the slow job is leased and waiting
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "quick", [(None, {"n": "a"}), (None, {"n": "b"})])
    await asyncio.wait_for(release.wait(), 10)
    stop.set()
    await asyncio.wait_for(running, 10)
    assert done == ["a", "b", "slow"]
    assert [state for state, _, _ in await states(engine)] == ["done"] * 3


async def test_a_job_whose_lease_ran_out_while_it_ran_here_is_not_run_again(engine: Any) -> None:
    """Its lease expires while it still runs; the next lease hands it back to this worker,
    which renews it and does not start it a second time."""
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "slow")
    runs: list[int] = []
    release = asyncio.Event()
    stop = asyncio.Event()

    async def slow(step: Step) -> None:
        runs.append(step.job.pk)
        await release.wait()
        async with step.finishing():
            pass

    settings = WorkerSettings(lease_seconds=0.05, poll_interval_seconds=0.01)
    worker = Worker(engine, SEALER, {"slow": slow}, settings)
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.sleep(0.5)  # many leases past the first one's end
    release.set()
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(running, 10)
    assert len(runs) == 1
    assert [state for state, _, _ in await states(engine)] == ["done"]


async def test_a_job_still_running_here_is_not_handed_back_with_the_extra_jobs(
    engine: Any,
) -> None:
    """Its lease ran out while it runs here; a later lease takes it again behind a delivery
    (taken first) and over batch_size. It stays leased to this worker, not ready for others."""
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "slow")

    async def never(step: Step) -> None:
        raise AssertionError("not run in this test")

    settings = WorkerSettings(batch_size=1, lease_seconds=0.05)
    worker = Worker(engine, SEALER, {"slow": never, "deliver_file": never}, settings)
    (slow,) = await worker._lease()
    worker._in_flight[slow.pk] = time.monotonic()  # as _tracked does while it runs
    await asyncio.sleep(0.1)  # its lease runs out
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "deliver_file")
    leased = await worker._lease()
    assert [job.kind for job in leased] == ["deliver_file"]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(jobs_table.c.state, jobs_table.c.locked_by).where(jobs_table.c.pk == slow.pk)
            )
        ).one()
    assert tuple(row) == ("running", worker.worker_id)


async def test_a_delivery_is_kept_before_older_jobs_when_a_lease_hands_some_back(
    engine: Any,
) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "submit", [(None, {"n": n}) for n in range(3)])
        await jobs.enqueue(conn, "deliver_file")

    async def never(step: Step) -> None:
        raise AssertionError("not run in this test")

    settings = WorkerSettings(batch_size=2)
    worker = Worker(engine, SEALER, {"submit": never, "deliver_file": never}, settings)
    leased = await worker._lease()
    assert sorted(job.kind for job in leased) == ["deliver_file", "submit"]
    assert [job.payload for job in leased if job.kind == "submit"] == [{"n": 0}]


async def test_a_job_leased_again_while_its_run_ends_goes_back_to_the_queue(
    engine: Any,
) -> None:
    """A poll rescheduled at once (or a retry due at once) can be leased by this worker
    before its run here is over; it is handed back then, not left until its lease ends."""
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "poll")

    async def never(step: Step) -> None:
        raise AssertionError("not run in this test")

    worker = Worker(engine, SEALER, {"poll": never}, WorkerSettings())
    (job,) = await worker._lease()
    worker._in_flight[job.pk] = time.monotonic()  # as _tracked does while it runs
    async with engine.begin() as conn:  # its run puts it back, due now
        await jobs.reschedule(conn, job, worker.worker_id, datetime.now(UTC))
    assert await worker._lease() == []  # taken again, not run beside itself
    await worker._done([job.pk])  # the run here is over
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(jobs_table.c.state, jobs_table.c.locked_by, jobs_table.c.attempts).where(
                    jobs_table.c.pk == job.pk
                )
            )
        ).one()
    assert tuple(row) == ("ready", None, 0)
    assert [again.pk for again in await worker._lease()] == [job.pk]


async def test_groups_of_one_kind_take_turns_in_a_process(engine: Any) -> None:
    async with engine.begin() as conn:
        await jobs.enqueue_many(conn, "group", [(None, {"n": n}) for n in range(3)])
    at_once: list[int] = []
    now_running = 0
    stop = asyncio.Event()

    async def run(group: StepGroup) -> None:
        nonlocal now_running
        now_running += 1
        at_once.append(now_running)
        await asyncio.sleep(0.05)
        async with group.finishing():
            pass
        now_running -= 1

    settings = WorkerSettings(batch_size=1, group_size=1, concurrency=4, poll_interval_seconds=0.01)
    worker = Worker(engine, SEALER, {"group": Grouped(run)}, settings)
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):
        if len(at_once) == 3 and now_running == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 10)
    assert at_once == [1, 1, 1]
    assert [state for state, _, _ in await states(engine)] == ["done"] * 3


async def test_a_running_job_keeps_its_lease_and_a_dead_workers_job_is_taken_over(
    engine: Any,
) -> None:
    """Leases are renewed while a job runs, so a second worker does not take a long job from
    a live one; a job whose worker died (its lease not renewed) is taken over after one lease,
    and meanwhile /readyz's count of overdue leases shows it."""
    async with engine.begin() as conn:
        await jobs.enqueue(conn, "slow")
    release, started = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(step: Step) -> None:
        runs.append(step.worker_id)
        started.set()
        if step.worker_id == "first":
            await release.wait()  # set only once the third worker has finished the job
        async with step.finishing():
            pass

    settings = WorkerSettings(lease_seconds=1.0, poll_interval_seconds=0.02)
    first = Worker(engine, SEALER, {"slow": slow}, settings, worker_id="first")
    second = Worker(engine, SEALER, {"slow": slow}, settings, worker_id="second")
    stop_first, stop_second = asyncio.Event(), asyncio.Event()  # the first is never set
    running = asyncio.create_task(first.run_forever(stop_first))
    await asyncio.wait_for(started.wait(), 10)
    other = asyncio.create_task(second.run_forever(stop_second))
    await asyncio.sleep(3.5)  # over three leases long: renewed by the first worker's heartbeat
    assert runs == ["first"]
    async with engine.connect() as conn:
        assert (await jobs.queue_counts(conn))["lease_overdue"] == 0

    # The first worker dies without a word: its heartbeat stops, its job stays leased to it.
    stop_second.set()
    await asyncio.wait_for(other, 10)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await asyncio.sleep(1.5)
    async with engine.connect() as conn:
        assert (await jobs.queue_counts(conn))["lease_overdue"] == 1
    third = Worker(engine, SEALER, {"slow": slow}, settings, worker_id="third")
    await third.run_until_idle()
    assert runs == ["first", "third"]
    assert [state for state, _, _ in await states(engine)] == ["done"]
    release.set()  # the first worker's run, orphaned, ends on its lost lease
