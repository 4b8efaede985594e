"""The pipeline: which step handles each job kind, and running workers for them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from gateway.context import DELIVERY, ENGINE, PAYERS, SEALER, SETTINGS
from gateway.crypto import Sealer
from gateway.delivery.connections import Delivery
from gateway.delivery.credentials import load_credentials
from gateway.pipeline.apply import apply_handler
from gateway.pipeline.batch import batch_handler
from gateway.pipeline.poll import ensure_polls, poll_handler
from gateway.pipeline.scrub import scrub_handler
from gateway.pipeline.submit import submit_handler
from gateway.pipeline.worker import Handler, Worker
from gateway.settings import PayersSettings, Settings
from gateway.storage import files as fs
from gateway.storage.folders import deliver_handler
from payers.profile import PayerDirectory, load_profiles
from payers.simulator.app import SimulatorConfig

log = structlog.get_logger("gateway.pipeline")
POLL_SEED_EVERY_SECONDS = 60.0


def load_payers(settings: PayersSettings) -> PayerDirectory:
    """Payer profiles; raises payers.profile.ProfileError naming the file and key at fault."""
    return load_profiles(Path(settings.profiles_dir) if settings.profiles_dir else None)


def simulator_url(settings: Settings) -> str:
    """Where payers on the `simulator` transport are reached, unless a profile gives a url."""
    if settings.simulator.url:
        return settings.simulator.url
    return f"http://{settings.server.host}:{settings.server.port}/simulator"


def simulator_token(settings: Settings, sealer: Sealer) -> str:
    """What the simulator asks of every request: simulator.token, or one derived from the
    data keys (the same in every process holding them; never stored)."""
    return settings.simulator.token or sealer.lookup_hash("clearway payer simulator token")


def uses_simulator(payers: PayerDirectory) -> bool:
    return any(p.delivery.transport == "simulator" for p in payers.values())


def make_delivery(settings: Settings, payers: PayerDirectory, sealer: Sealer) -> Delivery:
    """Delivery with the credentials file read and checked against the payer profiles; raises
    gateway.credentials.CredentialsError naming the file, payer or key at fault."""
    delivery = Delivery(
        simulator_url(settings),
        load_credentials(settings.credentials.file),
        simulator_token=simulator_token(settings, sealer),
    )
    delivery.check(payers.values())
    return delivery


def step_handlers(
    settings: Settings, payers: PayerDirectory, delivery: Delivery
) -> dict[str, Handler]:
    return {
        "scrub": scrub_handler(payers, settings.x12),
        "batch": batch_handler(payers, settings.x12),
        "submit": submit_handler(payers, delivery, settings.x12),
        "poll": poll_handler(payers, delivery),
        "apply": apply_handler(settings.x12),
        fs.DELIVER_JOB: deliver_handler(settings),
    }


async def in_process_worker(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: a worker inside `clearway serve`, when worker.in_process is on."""
    settings = app[SETTINGS]
    if not settings.worker.in_process:
        yield
        return
    delivery = app[DELIVERY]
    handlers = step_handlers(settings, app[PAYERS], delivery)
    worker = Worker(app[ENGINE], app[SEALER], handlers, settings.worker)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(worker, app[PAYERS], stop))
    yield
    stop.set()
    await task


async def run_worker(worker: Worker, payers: PayerDirectory, stop: asyncio.Event) -> None:
    """Seed the mailbox polls, then work until stopped, seeding missing polls every minute; a
    database that is away at start-up delays the worker rather than failing the process."""
    while not stop.is_set() and not await _seed_polls(worker, payers, "worker_start_delayed"):
        await _pause(stop, 5)
    keeper = asyncio.create_task(_keep_polls(worker, payers, stop))
    try:
        await worker.run_forever(stop)
    finally:
        keeper.cancel()  # also when run_forever fails: no seeding for a worker that is gone
        await asyncio.gather(keeper, return_exceptions=True)


async def _keep_polls(worker: Worker, payers: PayerDirectory, stop: asyncio.Event) -> None:
    # A poll job that died (its retries spent while the database was away) would end that
    # payer's polling until a restart; seeding again now and then brings it back.
    while not await _pause(stop, POLL_SEED_EVERY_SECONDS):
        await _seed_polls(worker, payers, "poll_seed_failed")


async def _seed_polls(worker: Worker, payers: PayerDirectory, failure_event: str) -> bool:
    """ensure_polls; False (logged as `failure_event`) when the database did not answer."""
    try:
        await ensure_polls(worker.engine, payers)
        return True
    except Exception as error:
        log.warning(failure_event, error_type=type(error).__name__)
        return False


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`, less if `stop` is set; True when it is."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def simulator_config(
    settings: Settings, payers: PayerDirectory, token: str, *, loopback_only: bool = False
) -> SimulatorConfig:
    sim = settings.simulator
    return SimulatorConfig(
        data_dir=Path(sim.data_dir),
        payers=payers,
        token=token,
        loopback_only=loopback_only,
        validate=sim.validate,
        validate_sample_percent=sim.validate_sample_percent,
        chaos_percent=sim.chaos_percent,
        stall_seconds=sim.stall_seconds,
    )
