"""Worker-side cost per claim: SQL statements and transactions of each step, claims/s of a worker.

Run: python benchmarks/bench_pipeline.py [--claims N] [--postgres URL] [--backends B,B]
Claims are stored RECEIVED with their scrub job (as intake leaves them), then one in-process
worker drives them to their final status against the in-process payer simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_e2e import NO_POSTGRES, fresh_database, postgres_cpu_seconds  # noqa: E402
from edi.claim_json import claim_from_json  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.context import DELIVERY, ENGINE, PAYERS, SEALER, SETTINGS  # noqa: E402
from gateway.pipeline.poll import ensure_polls  # noqa: E402
from gateway.pipeline.steps import step_handlers  # noqa: E402
from gateway.pipeline.worker import Grouped, Handler, Step, StepGroup, Worker  # noqa: E402
from gateway.settings import (  # noqa: E402
    CryptoSettings,
    DatabaseSettings,
    LoggingSettings,
    PayersSettings,
    ServerSettings,
    Settings,
    SftpSettings,
    SimulatorSettings,
    WorkerSettings,
)
from gateway.storage import claims as store  # noqa: E402
from gateway.storage.tables import claims as claims_table  # noqa: E402
from payers import icd10  # noqa: E402
from tests.e2e.support import FINAL, varied_claims, write_fast_profiles  # noqa: E402

BENCH_KEYS = "bench1:" + base64.b64encode(b"benchmark-only-key-32-bytes-long").decode()
OUTSIDE = "(worker: lease, defer, retry)"
OWN = "(benchmark)"  # the benchmark's own progress checks, not counted


@dataclass
class Counts:
    statements: Counter[str] = field(default_factory=Counter)
    transactions: Counter[str] = field(default_factory=Counter)
    jobs: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0  # this process (worker and simulator) in the timed part
    postgres_seconds: float = 0.0  # every PostgreSQL process in the timed part


def count_on(engine: Any, counts: Counts) -> None:
    """Count statements and commits by the job kind the step's engine is tagged with."""

    def kind_of(conn: Any) -> str:
        return str(conn.get_execution_options().get("job_kind", OUTSIDE))

    def statement(conn: Any, *_: Any) -> None:
        if (kind := kind_of(conn)) != OWN:
            counts.statements[kind] += 1

    def commit(conn: Any) -> None:
        if (kind := kind_of(conn)) != OWN:
            counts.transactions[kind] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "commit", commit)


async def run_case(
    backend: str, url: str, claims: int, folder: Path, profile: cProfile.Profile | None = None
) -> tuple[float, Counts]:
    settings = Settings(
        server=ServerSettings(host="127.0.0.1", port=0),
        database=DatabaseSettings(url=url, auto_migrate=True),
        crypto=CryptoSettings(keys=BENCH_KEYS),
        logging=LoggingSettings(level="warning"),
        worker=WorkerSettings(in_process=False),
        payers=PayersSettings(profiles_dir=str(write_fast_profiles(folder / "profiles"))),
        simulator=SimulatorSettings(data_dir=str(folder / "simulator"), validate="none"),
        sftp=SftpSettings(enabled=False, root=str(folder / "sftp")),
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        app[DELIVERY].simulator_url = f"http://{host}:{port}/simulator"
        engine, sealer = app[ENGINE], app[SEALER]
        async with engine.begin() as conn:
            submitter, _ = await store.create_submitter(conn, f"bench-{uuid.uuid4().hex[:6]}")
            batch = varied_claims(claims, prefix=f"P{uuid.uuid4().hex[:4].upper()}")
            await store.insert_received_claims(
                conn,
                sealer,
                [store.NewClaim(claim_from_json(d), d, "0" * 64, None, None) for d in batch],
                submitter_id=submitter.id,
                event_detail={"channel": "api"},
            )
        counts = Counts()
        count_on(engine, counts)
        handlers = step_handlers(app[SETTINGS], app[PAYERS], app[DELIVERY])
        counted = {kind: _counting(handler, counts) for kind, handler in handlers.items()}
        worker = Worker(engine, sealer, counted, settings.worker)
        await ensure_polls(engine, app[PAYERS])
        final = select(func.count()).where(claims_table.c.status.in_(sorted(FINAL)))
        # A running worker has its ICD-10-CM table loaded (start-up work, not per claim).
        icd10.warm_up()
        begin = time.perf_counter()
        cpu_before, postgres_before = time.process_time(), postgres_cpu_seconds()
        if profile:
            profile.enable()
        while True:
            # Mailbox polls are always due (their interval is 0 here), so never idle: check.
            busy = await worker.run_once()
            async with engine.execution_options(job_kind=OWN).connect() as conn:
                if (await conn.execute(final)).scalar_one() >= claims:
                    break
            if not busy:
                await asyncio.sleep(0.02)
        if profile:
            profile.disable()
        counts.cpu_seconds = time.process_time() - cpu_before
        counts.postgres_seconds = postgres_cpu_seconds() - postgres_before
        return time.perf_counter() - begin, counts
    finally:
        await runner.cleanup()


def _counting(handler: Handler, counts: Counts) -> Handler:
    """The handler, given an engine tagged with its job kind (read by `count_on`)."""
    if isinstance(handler, Grouped):
        inner = handler.run

        async def run_group(group: StepGroup) -> None:
            kind = group.leased[0].kind
            counts.jobs[kind] += len(group.leased)
            await inner(replace(group, engine=group.engine.execution_options(job_kind=kind)))

        return Grouped(run_group)

    async def run(step: Step) -> None:
        counts.jobs[step.job.kind] += 1
        await handler(replace(step, engine=step.engine.execution_options(job_kind=step.job.kind)))

    return run


def report(backend: str, claims: int, seconds: float, counts: Counts) -> None:
    print(f"\n{backend}: {claims} claims in {seconds:.1f} s, {claims / seconds:.0f} claims/s")
    cpu = f"CPU ms/claim: this process {counts.cpu_seconds * 1000 / claims:.2f}"
    if backend == "postgresql":
        cpu += f", PostgreSQL {counts.postgres_seconds * 1000 / claims:.2f}"
    print(cpu)
    print("| step | jobs run | transactions | statements | transactions/claim | statements/claim |")
    print("|---|---|---|---|---|---|")
    kinds = sorted(set(counts.statements) | set(counts.jobs), key=lambda k: (k == OUTSIDE, k))
    for kind in kinds:
        t, s = counts.transactions[kind], counts.statements[kind]
        print(f"| {kind} | {counts.jobs[kind]} | {t} | {s} | {t / claims:.2f} | {s / claims:.2f} |")
    t, s = sum(counts.transactions.values()), sum(counts.statements.values())
    jobs = sum(counts.jobs.values())
    print(f"| all | {jobs} | {t} | {s} | {t / claims:.2f} | {s / claims:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile (CPU clock) the timed part into FILE.<backend>; the in-process payer"
        " simulator is in it too",
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    for backend in args.backends.split(","):
        if backend == "postgresql" and not args.postgres:
            print(NO_POSTGRES)
            continue
        with (
            tempfile.TemporaryDirectory(prefix="clearway-bench-") as tmp,
            fresh_database(backend, args.postgres) as url,
        ):
            profile = cProfile.Profile(time.process_time) if args.profile else None
            seconds, counts = asyncio.run(run_case(backend, url, args.claims, Path(tmp), profile))
        report(backend, args.claims, seconds, counts)
        if profile:
            profile.dump_stats(f"{args.profile}.{backend}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
