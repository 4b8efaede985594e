"""The worker: leases due jobs and runs the pipeline step registered for each job kind.

A step records its result, its next job and the completion of its own job in one transaction
(`Step.finishing`; a grouped step, for all leased jobs of its kind at once), so a crash at any
point either redoes the step or finds it done. Leases are short and renewed while a job runs,
so a dead worker's jobs are taken over within one lease. Failures are retried with exponential
backoff and jitter, then kept as dead jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.crypto import Sealer
from gateway.logs import where
from gateway.settings import WorkerSettings
from gateway.storage import jobs
from gateway.storage.claims import StaleClaim

log = structlog.get_logger("gateway.worker")
PRUNE_EVERY_SECONDS = 600.0
BATCHES_IN_FLIGHT = 2  # leased batches a worker runs at once (jobs at once: concurrency)


class LeaseLost(Exception):
    """Another worker took this job over (our lease expired); our transaction is rolled back."""


class Retry(Exception):
    """Raised by a step for an expected, temporary failure; `reason` is logged, no PHI."""

    def __init__(
        self,
        reason: str,
        *,
        after_seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds
        self.max_attempts = max_attempts  # the step's own limit (e.g. a payer's), if it has one


class Defer(Exception):
    """Raised by a step that has to wait (e.g. to fill a batch); not counted as an attempt."""

    def __init__(self, after_seconds: float) -> None:
        super().__init__(f"deferred {after_seconds:.1f}s")
        self.after_seconds = after_seconds


@dataclass(frozen=True)
class Step:
    """What a step handler is given: its job and the resources to do it with."""

    job: jobs.Job
    engine: AsyncEngine
    sealer: Sealer
    worker_id: str

    def finishing(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A transaction that also marks this job done; commits only if the lease still holds."""
        return StepGroup((self.job,), self.engine, self.sealer, self.worker_id).finishing()


@dataclass(frozen=True)
class StepGroup:
    """Every leased job of one kind, handled at once: one transaction finishes them all."""

    leased: tuple[jobs.Job, ...]
    engine: AsyncEngine
    sealer: Sealer
    worker_id: str

    @contextlib.asynccontextmanager
    async def finishing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that also marks every job done; commits only if all leases hold."""
        async with self.engine.begin() as conn:
            yield conn
            if not await jobs.complete_all(conn, list(self.leased), self.worker_id):
                raise LeaseLost(f"jobs {[job.pk for job in self.leased]}")


@dataclass(frozen=True)
class Grouped:
    """A step that takes all leased jobs of its kind together (a StepGroup). If the group
    fails, each job is run again alone, so one bad job is retried or buried by itself."""

    run: Callable[[StepGroup], Awaitable[None]]


Handler = Callable[[Step], Awaitable[None]] | Grouped


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        engine: AsyncEngine,
        sealer: Sealer,
        handlers: dict[str, Handler],
        settings: WorkerSettings,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.sealer = sealer
        self.handlers = handlers
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._in_flight: dict[int, float] = {}  # pk -> when (monotonic) its run here began
        self._leased_again: set[int] = set()  # in-flight jobs a later lease took (see _lease)
        # One group of a kind at a time per process, as before two batches ran at once: two
        # scrub groups side by side could each see the other's twins still RECEIVED.
        self._group_turns: dict[str, asyncio.Lock] = {}
        self._grouped_kinds = {k for k, h in handlers.items() if isinstance(h, Grouped)}

    async def run_once(self) -> int:
        """Lease one batch of due jobs and run them; returns how many were leased."""
        batch = await self._lease()
        await self._run_batch(batch)
        return len(batch)

    async def _lease(self) -> list[jobs.Job]:
        if not self.handlers:
            return []
        # Up to group_size jobs in queue order, so one scrub transaction takes a hundred
        # claims (about the cost of twenty) and later steps (a batch job) still wait behind
        # the claims queued before them. Jobs that run alone (a submit, a mailbox poll) only
        # wait here for a slot: past batch_size they go back to the queue for other workers.
        settings = self.settings
        async with self.engine.begin() as conn:
            batch = await jobs.lease(
                conn,
                self.worker_id,
                kinds=sorted(self.handlers),
                limit=max(settings.group_size, settings.batch_size),
                lease_for=timedelta(seconds=settings.lease_seconds),
            )
            # A job still running here comes back leased to us again when its lease ran out
            # (or when its run already put it back: a poll rescheduled at once, a retry due
            # at once). It must not run a second time beside itself, nor go to another
            # worker while it runs; `_done` hands it back when its run here is over.
            again = {job.pk for job in batch if job.pk in self._in_flight}
            self._leased_again |= again
            batch = [job for job in batch if job.pk not in again]
            alone = [job for job in batch if job.kind not in self._grouped_kinds]
            if len(alone) > settings.batch_size:
                returned = [job.pk for job in alone[settings.batch_size :]]
                await jobs.hand_back(conn, returned, self.worker_id)
                batch = [job for job in batch if job.pk not in returned]
        return batch

    async def _done(self, pks: list[int]) -> None:
        """These jobs' runs here are over. One that a lease took again meanwhile goes back
        to the queue now, due, instead of waiting here for its new lease to run out."""
        for pk in pks:
            self._in_flight.pop(pk, None)
        again = self._leased_again.intersection(pks)
        if not again:
            return
        self._leased_again -= again
        try:
            async with self.engine.begin() as conn:
                await jobs.hand_back(conn, sorted(again), self.worker_id)
        except Exception as error:  # the database may be away: the lease runs out instead
            log.warning("job_hand_back_failed", error_type=type(error).__name__)

    async def _run_leased(self, batch: list[jobs.Job]) -> None:
        try:
            await self._run_batch(batch)
        except Exception as error:  # recording a failure failed (database away): leases expire
            log.warning("worker_batch_failed", error_type=type(error).__name__)

    async def _run_batch(self, batch: list[jobs.Job]) -> None:
        """Run the batch's jobs; every one has finished when this returns or raises."""
        by_kind: dict[str, list[jobs.Job]] = {}
        for job in batch:
            by_kind.setdefault(job.kind, []).append(job)
        runs = []
        for kind, leased in by_kind.items():
            handler = self.handlers[kind]
            if isinstance(handler, Grouped):
                runs.append(self._tracked(leased, self._run_group(handler, leased)))
            else:
                runs += [self._tracked([job], self._run(job)) for job in leased]
        outcomes = await asyncio.gather(*runs, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _tracked(self, leased: list[jobs.Job], run: Awaitable[None]) -> None:
        """Run, counting the jobs as this worker's until they finish: a job that finished
        (a mailbox poll rescheduled itself) may be leased and run again at once."""
        started = time.monotonic()
        self._in_flight.update((job.pk, started) for job in leased)
        try:
            await run
        finally:
            await self._done([job.pk for job in leased])

    async def run_until_idle(self, *, max_rounds: int = 10_000) -> None:
        """Run until no job is due (tests and one-shot use)."""
        for _ in range(max_rounds):
            if await self.run_once() == 0:
                return

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Lease and run until `stop`. A second batch is leased while the first still runs, so
        the slots do not wait for a batch's slowest job before the next jobs start."""
        log.info("worker_started", worker_id=self.worker_id, kinds=sorted(self.handlers))
        next_prune = 0.0
        running: set[asyncio.Task[None]] = set()
        # Renews the leases of the running jobs until they are finished, stop or no stop.
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_prune:
                        await self.prune()
                        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    batch = await self._lease()
                except Exception as error:  # the database may be away; keep polling
                    log.warning("worker_poll_failed", error_type=type(error).__name__)
                    batch = []
                if batch:
                    task = asyncio.create_task(self._run_leased(batch))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if len(running) >= BATCHES_IN_FLIGHT or (running and not batch):
                    # Wait for a batch to finish: both are running, or nothing is due yet and the
                    # running one may queue the next step's jobs.
                    await asyncio.wait(
                        running,
                        timeout=None if batch else self.settings.poll_interval_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                elif not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.poll_interval_seconds)
            if running:  # the leased jobs are finished, not left to their leases running out
                await asyncio.gather(*running, return_exceptions=True)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        log.info("worker_stopped", worker_id=self.worker_id)

    async def _heartbeat(self) -> None:
        """Renew the leases of the jobs running here a few times per lease, so a live worker
        keeps them and a dead one loses them within one lease. A job running for longer than
        max_job_seconds is no longer renewed: it is taken to be stuck, and another worker may
        take it over (this one's result then does not count, see LeaseLost)."""
        interval = max(0.05, self.settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            await self.renew_leases()

    async def renew_leases(self) -> int:
        """One heartbeat: renew the leases of the jobs running here; how many were renewed."""
        limit = time.monotonic() - self.settings.max_job_seconds
        pks = sorted(pk for pk, started in self._in_flight.items() if started >= limit)
        if not pks:
            return 0
        try:
            async with self.engine.begin() as conn:
                return await jobs.renew(
                    conn,
                    pks,
                    self.worker_id,
                    lease_for=timedelta(seconds=self.settings.lease_seconds),
                )
        except Exception as error:  # the database may be away: the next beat tries again
            log.warning("lease_renewal_failed", error_type=type(error).__name__)
            return 0

    async def prune(self) -> int:
        keep = timedelta(hours=self.settings.keep_done_jobs_hours)
        async with self.engine.begin() as conn:
            removed = await jobs.prune(conn, finished_before=datetime.now(UTC) - keep)
        if removed:
            log.info("jobs_pruned", removed=removed)
        return removed

    async def _run_group(self, handler: Grouped, leased: list[jobs.Job]) -> None:
        turn = self._group_turns.setdefault(leased[0].kind, asyncio.Lock())
        async with turn, self._slots:
            if len(leased) > 1:
                with structlog.contextvars.bound_contextvars(
                    job_kind=leased[0].kind, jobs=len(leased)
                ):
                    try:
                        await handler.run(self._group(leased))
                        return
                    except Exception as error:  # nothing committed: each job alone decides
                        log.warning("job_group_split", error_type=type(error).__name__)
            for job in leased:
                await self._guarded(job, lambda job=job: handler.run(self._group([job])))
                await self._done([job.pk])  # a retry due at once need not wait for the rest

    def _group(self, leased: list[jobs.Job]) -> StepGroup:
        return StepGroup(tuple(leased), self.engine, self.sealer, self.worker_id)

    async def _run(self, job: jobs.Job) -> None:
        handler = self.handlers[job.kind]
        assert not isinstance(handler, Grouped)
        async with self._slots:
            await self._guarded(
                job, lambda: handler(Step(job, self.engine, self.sealer, self.worker_id))
            )

    async def _guarded(self, job: jobs.Job, call: Callable[[], Awaitable[None]]) -> None:
        """Run one job's step; its failure is recorded on the job (retry, defer or bury)."""
        with structlog.contextvars.bound_contextvars(
            job_id=job.pk, job_kind=job.kind, claim_id=job.claim_id
        ):
            try:
                await call()
            except LeaseLost:
                log.warning("job_lease_lost")
            except Defer as wait:
                async with self.engine.begin() as conn:
                    run_after = datetime.now(UTC) + timedelta(seconds=wait.after_seconds)
                    await jobs.defer(conn, job, self.worker_id, run_after)
            except Retry as error:
                await self._fail(job, str(error), error.after_seconds, error.max_attempts)
            except StaleClaim:
                # Another step moved the same claim first: redo this one against it.
                await self._fail(job, "claim changed concurrently", 0.0, None)
            except Exception as error:
                log.error("job_failed", error_type=type(error).__name__, where=where(error))
                await self._fail(job, type(error).__name__, None, None)

    async def _fail(
        self, job: jobs.Job, reason: str, after_seconds: float | None, max_attempts: int | None
    ) -> None:
        async with self.engine.begin() as conn:
            if job.attempts >= (max_attempts or self.settings.max_attempts):
                await jobs.bury(conn, job, self.worker_id, reason)
                log.error("job_dead", attempts=job.attempts, reason=reason)
                return
            delay = after_seconds if after_seconds is not None else self.backoff(job.attempts)
            run_after = datetime.now(UTC) + timedelta(seconds=delay)
            await jobs.retry_later(conn, job, self.worker_id, reason, run_after)
            log.warning("job_retry", attempts=job.attempts, delay_s=round(delay, 2), reason=reason)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter in its upper half, capped."""
        ceiling = min(
            self.settings.backoff_max_seconds,
            self.settings.backoff_base_seconds * 2 ** max(0, attempts - 1),
        )
        return ceiling * random.uniform(0.5, 1.0)
