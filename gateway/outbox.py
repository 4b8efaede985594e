"""Submitters' folders on disk: <root>/<submitter name>/inbound and outbound, for the SFTP drop
and the plain drop folders, and the deliver_file step that puts outbound files into them.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import structlog
from sqlalchemy import select

from gateway import file_store as fs
from gateway.settings import Settings
from gateway.tables import submitters
from gateway.worker import Handler, Step

log = structlog.get_logger("gateway.outbox")

INBOUND_DIR, OUTBOUND_DIR = "inbound", "outbound"
# A submitter name doubles as an SFTP user name and a folder name, so it must be both.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def usable_folder_name(name: str) -> bool:
    return bool(_FOLDER_NAME.fullmatch(name)) and ".." not in name


def submitter_folder(root: Path, name: str) -> Path:
    """The submitter's folder under `root`, with its inbound/ and outbound/ made if missing."""
    if not usable_folder_name(name):
        raise ValueError(f"submitter name {name!r} cannot name a folder")
    folder = root / name
    for sub in (INBOUND_DIR, OUTBOUND_DIR):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def outbox_roots(settings: Settings) -> list[Path]:
    roots = []
    if settings.sftp.enabled:
        roots.append(Path(settings.sftp.root))
    if settings.drop.root:
        roots.append(Path(settings.drop.root))
    return roots


def write_atomically(folder: Path, name: str, body: bytes) -> Path:
    """Write under a dot-name, then rename: a client never sees a half-written file. A
    different file already there under the same name is kept; this one gets a suffix."""
    target = folder / name
    if target.exists() and target.read_bytes() != body:
        stem, dot, suffix = name.partition(".")
        target = folder / f"{stem}-{uuid.uuid4().hex[:8]}{dot}{suffix}"
    elif target.exists():
        return target  # delivered before (the step is running again after a crash)
    temporary = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    with temporary.open("wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    return target


def deliver_handler(settings: Settings) -> Handler:
    roots = outbox_roots(settings)

    async def run(step: Step) -> None:
        file_id = str(step.job.payload["file_id"])
        async with step.finishing() as conn:
            found = await fs.get_file(conn, file_id, None)
            if found is None or not roots:
                return
            name = (
                await conn.execute(
                    select(submitters.c.name).where(submitters.c.id == found.submitter_id)
                )
            ).scalar_one()
            if not usable_folder_name(name):
                log.warning("outbox_skipped", file_id=file_id, reason="submitter name")
                return
            body = await fs.file_body(conn, step.sealer, file_id)
            # The file is written before the job is marked done: a crash in between writes it
            # again, which write_atomically recognises.
            for root in roots:
                write_atomically(submitter_folder(root, name) / OUTBOUND_DIR, found.name, body)
        log.info("file_delivered", file_id=file_id, kind=found.kind, outboxes=len(roots))

    return run
