"""Finished uploads (SFTP or drop folder) go to the raw X12 intake: each is first moved out of
the submitter's view into a spool, then read, stored sealed and answered, then removed.

The spool (<root>/.spool/<submitter id>/) survives a crash: it is swept on start-up and at each
poll, and a file stored before the crash is recognised by its sha256, not processed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.context import ENGINE, SEALER, SETTINGS
from gateway.crypto import Sealer
from gateway.intake.x12 import UnreadableFile, receive_x12
from gateway.private import private_folder
from gateway.settings import X12Settings
from gateway.storage import files as fs
from gateway.storage.folders import INBOUND_DIR, sftp_user_names, submitter_folder
from gateway.storage.tables import submitters

log = structlog.get_logger("gateway.drop")

SPOOL_DIR = ".spool"  # starts with a dot, so no submitter name can take it
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def upload_name(name: str) -> str:
    return _UNSAFE.sub("_", name)[:120] or "upload.x12"


class Intake:
    """Hands finished uploads to receive_x12, one at a time per process (pyx12 is CPU work)."""

    def __init__(
        self,
        engine: AsyncEngine,
        sealer: Sealer,
        x12: X12Settings,
        *,
        root: Path,
        channel: str,
        refused_quota: int,
    ) -> None:
        self.engine = engine
        self.refused_quota = refused_quota
        self.sealer = sealer
        self.x12 = x12
        self.root = root
        self.channel = channel
        self.spool = root / SPOOL_DIR
        self._queue: asyncio.Queue[Path] = asyncio.Queue()
        self._queued: set[Path] = set()
        self.idle = asyncio.Event()
        self.idle.set()

    def accept(self, upload: Path, submitter_id: str) -> Path:
        """Move a finished upload out of the submitter's folder (an atomic rename on the same
        file system) and queue it. Returns where it now waits."""
        folder = private_folder(self.spool / submitter_id)
        spooled = folder / f"{uuid.uuid4().hex}-{upload_name(upload.name)}"
        os.rename(upload, spooled)
        self._enqueue(spooled)
        return spooled

    def _enqueue(self, spooled: Path) -> None:
        if spooled not in self._queued:
            self._queued.add(spooled)
            self.idle.clear()
            self._queue.put_nowait(spooled)

    def sweep(self) -> None:
        """Queue whatever waits in the spool (left by a crash, or by a database outage)."""
        if not self.spool.is_dir():
            return
        for folder in self.spool.iterdir():
            for spooled in sorted(folder.glob("*")):
                if spooled.is_file() and not spooled.is_symlink():
                    self._enqueue(spooled)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not getter.done():
                getter.cancel()
                break
            spooled = getter.result()
            try:
                await self.process(spooled)
            except Exception as error:  # kept in the spool; the next sweep retries it
                log.warning("upload_deferred", error_type=type(error).__name__)
            finally:
                self._queued.discard(spooled)
                if self._queue.empty():
                    self.idle.set()

    async def process(self, spooled: Path) -> None:
        submitter_id = spooled.parent.name
        name = spooled.name.split("-", 1)[1] if "-" in spooled.name else spooled.name
        try:
            received = await receive_x12(
                self.engine,
                self.sealer,
                self.x12,
                submitter_id=submitter_id,
                path=spooled,
                name=name,
                channel=self.channel,
                refused_quota=self.refused_quota,
            )
            resent = 0
            if received.replayed:
                # Sent again, most likely because its answer went missing from the outbox:
                # the first answers are delivered again (where already there, left as they are).
                async with self.engine.begin() as conn:
                    resent = await fs.deliver_answers_again(conn, received.file)
            log.info(
                "upload_processed",
                file_id=received.file.id,
                replayed=received.replayed,
                answers_resent=resent,
                channel=self.channel,
            )
        except UnreadableFile:
            log.info("upload_rejected", channel=self.channel)
        # Stored sealed in the files table (the archive, readable at GET /v1/files/{id}/content):
        # no plaintext copy stays on disk.
        await asyncio.to_thread(os.unlink, spooled)


async def run_intake(intake: Intake, stop: asyncio.Event) -> None:
    intake.sweep()
    await intake.run(stop)


class DropFolders:
    """Polls <root>/<SFTP user name>/inbound for finished files (names not starting with a dot)."""

    def __init__(self, intake: Intake, max_file_bytes: int, interval: float) -> None:
        self.intake = intake
        self.max_file_bytes = max_file_bytes
        self.interval = interval

    async def poll_once(self) -> int:
        async with self.intake.engine.connect() as conn:
            rows = (
                await conn.execute(select(submitters.c.id, submitters.c.name, submitters.c.active))
            ).all()
        # Inactive submitters count too: their user names are not free for another to share.
        users = sftp_user_names((r.id, r.name) for r in rows)
        folders = [(r.id, users[r.id]) for r in rows if r.active and r.id in users]
        finished = await asyncio.to_thread(self._finished, folders)
        for entry, submitter_id in finished:
            self.intake.accept(entry, submitter_id)
        self.intake.sweep()
        return len(finished)

    def _finished(self, folders: list[tuple[str, str]]) -> list[tuple[Path, str]]:
        finished = []
        for submitter_id, user in folders:
            inbound = submitter_folder(self.intake.root, user) / INBOUND_DIR
            for entry in sorted(inbound.iterdir()):
                if entry.name.startswith(".") or entry.is_symlink() or not entry.is_file():
                    continue  # an upload in progress, or something we must not follow
                if entry.stat().st_size > self.max_file_bytes:
                    # Kept for the submitter under a dot-name (ignored from now on).
                    entry.rename(entry.with_name(f".too-large-{entry.name}"))
                    log.warning("drop_file_too_large", limit=self.max_file_bytes)
                    continue
                finished.append((entry, submitter_id))
        return finished

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception as error:
                log.warning("drop_poll_failed", error_type=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)


async def drop_folders(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: poll the drop folders when drop.root is set."""
    settings = app[SETTINGS]
    if not settings.drop.root:
        yield
        return
    intake = Intake(
        app[ENGINE],
        app[SEALER],
        settings.x12,
        root=Path(settings.drop.root),
        channel="folder",
        refused_quota=settings.server.refused_kept_bytes,
    )
    folders = DropFolders(intake, settings.sftp.max_file_bytes, settings.drop.poll_interval_seconds)
    app[DROP_INTAKE] = intake
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_intake(intake, stop)),
        asyncio.create_task(folders.run(stop)),
    ]
    yield
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


async def x12_uploads(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the background intake of large POST /v1/x12 files (x12.upload_dir)."""
    settings = app[SETTINGS]
    intake = Intake(
        app[ENGINE],
        app[SEALER],
        settings.x12,
        root=Path(settings.x12.upload_dir),
        channel="api",
        refused_quota=settings.server.refused_kept_bytes,
    )
    app[UPLOAD_INTAKE] = intake
    stop = asyncio.Event()
    task = asyncio.create_task(run_intake(intake, stop))
    yield
    stop.set()
    # A file cut short here stays in the spool and its stored run resumes at the next start.
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


DROP_INTAKE = web.AppKey("drop_intake", Intake)
UPLOAD_INTAKE = web.AppKey("upload_intake", Intake)
