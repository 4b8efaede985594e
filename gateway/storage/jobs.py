"""The jobs table as outbox and work queue: enqueue inside a step's transaction, lease, finish.

Leases are short and renewed while the job runs (`renew`), so a worker that dies mid-job (even
by SIGKILL) delays its jobs by one lease at most. On PostgreSQL, leasing uses FOR UPDATE SKIP
LOCKED so many workers on many hosts share one queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage import db
from gateway.storage.tables import jobs

READY, RUNNING, DONE, DEAD = "ready", "running", "done", "dead"
# Taken before other due jobs: writing an answer into a submitter's outbox is quick, and the
# 999 of a large file must not wait behind the scrubs of its thousands of claims.
FIRST_KINDS = ("deliver_file",)


@dataclass(frozen=True)
class Job:
    pk: int
    kind: str
    claim_id: str | None
    payload: dict[str, Any]
    attempts: int


async def enqueue(
    conn: AsyncConnection,
    kind: str,
    *,
    claim_id: str | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    now = at or datetime.now(UTC)
    result = await conn.execute(
        insert(jobs)
        .values(
            kind=kind,
            claim_id=claim_id,
            payload=payload or {},
            state=READY,
            attempts=0,
            run_after=now,
            created_at=now,
            updated_at=now,
        )
        .returning(jobs.c.pk)
    )
    return int(result.scalar_one())


async def enqueue_many(
    conn: AsyncConnection,
    kind: str,
    items: list[tuple[str | None, dict[str, Any]]],
    *,
    at: datetime | None = None,
) -> None:
    """Queue one job per (claim id, payload) in one statement."""
    if not items:
        return
    now = at or datetime.now(UTC)
    await conn.execute(
        insert(jobs),
        [
            {
                "kind": kind,
                "claim_id": claim_id,
                "payload": payload,
                "state": READY,
                "attempts": 0,
                "run_after": now,
                "created_at": now,
                "updated_at": now,
            }
            for claim_id, payload in items
        ],
    )


async def lease(
    conn: AsyncConnection,
    worker_id: str,
    *,
    kinds: list[str] | None = None,
    limit: int = 10,
    lease_for: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[Job]:
    """Take up to `limit` due jobs for `worker_id`; commit promptly to publish the lease."""
    now = now or datetime.now(UTC)
    due = or_(
        and_(jobs.c.state == READY, jobs.c.run_after <= now),
        and_(jobs.c.state == RUNNING, jobs.c.locked_until < now),  # abandoned by a dead worker
    )
    first = case((jobs.c.kind.in_(FIRST_KINDS), 0), else_=1)
    candidates = select(jobs.c.pk).where(due).order_by(first, jobs.c.pk).limit(limit)
    if kinds:
        candidates = candidates.where(jobs.c.kind.in_(kinds))
    chosen = candidates.scalar_subquery()
    if conn.dialect.name == "postgresql":
        # Chosen once, in a materialized CTE: as a plain subquery PostgreSQL may run it again
        # for each row, skipping the rows this UPDATE has just taken, and so lease them all.
        cte = candidates.with_for_update(skip_locked=True).cte("chosen")
        chosen = select(cte.prefix_with("MATERIALIZED").c.pk).scalar_subquery()
    # The outer `due` re-check keeps two SQLite writers from taking the same row.
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.pk.in_(chosen), due)
        .values(
            state=RUNNING,
            locked_by=worker_id,
            locked_until=now + lease_for,
            attempts=jobs.c.attempts + 1,
            updated_at=now,
        )
        .returning(jobs.c.pk, jobs.c.kind, jobs.c.claim_id, jobs.c.payload, jobs.c.attempts)
    )
    # In the order they were chosen: deliveries first, then oldest first.
    return sorted(
        (Job(**row._asdict()) for row in result),
        key=lambda j: (j.kind not in FIRST_KINDS, j.pk),
    )


async def complete(conn: AsyncConnection, job: Job, worker_id: str) -> bool:
    """Mark done; False when the lease was lost to another worker (its result must not count)."""
    return await complete_all(conn, [job], worker_id)


async def complete_all(conn: AsyncConnection, done: list[Job], worker_id: str) -> bool:
    """Mark every job done; False when any lease was lost (then no result may count)."""
    result = await conn.execute(
        update(jobs)
        .where(
            db.among(conn, jobs.c.pk, [job.pk for job in done]),
            jobs.c.locked_by == worker_id,
            jobs.c.state == RUNNING,
        )
        .values(state=DONE, locked_until=None, updated_at=datetime.now(UTC))
    )
    return result.rowcount == len(done)


async def retry_later(
    conn: AsyncConnection, job: Job, worker_id: str, error: str, run_after: datetime
) -> None:
    await conn.execute(
        update(jobs)
        .where(jobs.c.pk == job.pk, jobs.c.locked_by == worker_id)
        .values(
            state=READY,
            run_after=run_after,
            locked_by=None,
            locked_until=None,
            last_error=error[:2000],
            updated_at=datetime.now(UTC),
        )
    )


async def defer(conn: AsyncConnection, job: Job, worker_id: str, run_after: datetime) -> None:
    """Put a job back for later without counting the attempt (it waited, it did not fail)."""
    await hand_back(conn, [job.pk], worker_id, run_after=run_after)


async def hand_back(
    conn: AsyncConnection, pks: list[int], worker_id: str, *, run_after: datetime | None = None
) -> None:
    """Return jobs leased to `worker_id` to the queue without counting the attempt, due as
    they were or at `run_after`; a job finished meanwhile stays finished."""
    later = {} if run_after is None else {"run_after": run_after}
    await conn.execute(
        update(jobs)
        .where(
            db.among(conn, jobs.c.pk, pks),
            jobs.c.locked_by == worker_id,
            jobs.c.state == RUNNING,
        )
        .values(
            state=READY,
            attempts=jobs.c.attempts - 1,
            locked_by=None,
            locked_until=None,
            updated_at=datetime.now(UTC),
            **later,
        )
    )


async def reschedule(conn: AsyncConnection, job: Job, worker_id: str, run_after: datetime) -> bool:
    """Run a recurring job again later, reusing its row (a poll every few seconds would
    otherwise add a row each time). False when the lease was lost."""
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.pk == job.pk, jobs.c.locked_by == worker_id, jobs.c.state == RUNNING)
        .values(
            state=READY,
            run_after=run_after,
            attempts=0,
            locked_by=None,
            locked_until=None,
            last_error=None,
            updated_at=datetime.now(UTC),
        )
    )
    return result.rowcount == 1


async def bury(conn: AsyncConnection, job: Job, worker_id: str, error: str) -> None:
    """Give up on a job: it stays in the table as dead, visible and re-drivable."""
    await conn.execute(
        update(jobs)
        .where(jobs.c.pk == job.pk, jobs.c.locked_by == worker_id)
        .values(
            state=DEAD, locked_until=None, last_error=error[:2000], updated_at=datetime.now(UTC)
        )
    )


async def renew(
    conn: AsyncConnection, pks: list[int], worker_id: str, *, lease_for: timedelta
) -> int:
    """Extend the leases `worker_id` holds on these running jobs (its heartbeat); returns how
    many it still held."""
    if not pks:
        return 0
    now = datetime.now(UTC)
    result = await conn.execute(
        update(jobs)
        .where(
            db.among(conn, jobs.c.pk, pks),
            jobs.c.locked_by == worker_id,
            jobs.c.state == RUNNING,
        )
        .values(locked_until=now + lease_for)
    )
    return int(result.rowcount or 0)


async def queue_counts(conn: AsyncConnection) -> dict[str, int]:
    """Jobs by state, and `lease_overdue`: running jobs whose lease ran out (their worker is
    gone, or stuck) and that no worker has taken over yet."""
    now = datetime.now(UTC)
    rows = await conn.execute(
        select(jobs.c.state, func.count())
        .where(jobs.c.state.in_([READY, RUNNING, DEAD]))
        .group_by(jobs.c.state)
    )
    counts = {READY: 0, RUNNING: 0, DEAD: 0} | {state: int(n) for state, n in rows}
    overdue = select(func.count()).where(jobs.c.state == RUNNING, jobs.c.locked_until < now)
    counts["lease_overdue"] = int((await conn.execute(overdue)).scalar_one())
    return counts


async def pending_count(conn: AsyncConnection, kind: str | None = None) -> int:
    query = select(func.count()).select_from(jobs).where(jobs.c.state.in_([READY, RUNNING]))
    if kind:
        query = query.where(jobs.c.kind == kind)
    return int((await conn.execute(query)).scalar_one())


async def prune(conn: AsyncConnection, *, finished_before: datetime) -> int:
    """Delete done jobs finished before the given time; dead jobs stay for people to see."""
    result = await conn.execute(
        delete(jobs).where(jobs.c.state == DONE, jobs.c.updated_at < finished_before)
    )
    return int(result.rowcount or 0)
