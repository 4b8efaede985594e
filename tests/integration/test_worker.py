"""The worker: steps finish their job in their own transaction, failures back off, then die."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway import jobs
from gateway.crypto import Sealer, parse_keys
from gateway.settings import WorkerSettings
from gateway.tables import jobs as jobs_table
from gateway.worker import Retry, Step, Worker
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
