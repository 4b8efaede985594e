"""The pipeline: which step handles each job kind, and running workers for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway.context import ENGINE, PAYERS, SEALER, SETTINGS
from gateway.scrub_step import scrub_handler
from gateway.settings import PayersSettings
from gateway.worker import Handler, Worker
from payers.profile import PayerDirectory, load_profiles


def load_payers(settings: PayersSettings) -> PayerDirectory:
    """Payer profiles; raises payers.profile.ProfileError naming the file and key at fault."""
    return load_profiles(Path(settings.profiles_dir) if settings.profiles_dir else None)


def step_handlers(payers: PayerDirectory) -> dict[str, Handler]:
    return {"scrub": scrub_handler(payers)}


async def in_process_worker(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: a worker inside `clearway serve`, when worker.in_process is on."""
    settings = app[SETTINGS].worker
    if not settings.in_process:
        yield
        return
    worker = Worker(app[ENGINE], app[SEALER], step_handlers(app[PAYERS]), settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    yield
    stop.set()
    await task
