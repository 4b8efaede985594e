"""Submitters' folders on disk: <root>/<SFTP user name>/inbound and outbound, for the SFTP drop
and the plain drop folders, and the deliver_file step that puts outbound files into them.

A submitter's SFTP user name, which is also its folder name, comes from its submitter name:
a name already made of letters, digits, `.`, `-` and `_` (starting with a letter or digit) is
used as it is; any other is folded to ASCII, lower-cased, and each run of characters other
than a-z and 0-9 becomes one `-` ("Sunrise Billing" logs in as sunrise-billing).
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.pipeline.worker import Handler, Step
from gateway.private import open_private, private_folder
from gateway.settings import Settings
from gateway.storage import files as fs
from gateway.storage.tables import submitters

log = structlog.get_logger("gateway.outbox")

INBOUND_DIR, OUTBOUND_DIR = "inbound", "outbound"
# The SFTP user name doubles as a folder name, so it must be both.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_MAX_USER = 64


def usable_folder_name(name: str) -> bool:
    return bool(_FOLDER_NAME.fullmatch(name)) and ".." not in name


def sftp_user_name(name: str) -> str | None:
    """The SFTP user name (and folder name) made from a submitter name, as the module docstring
    says; None when the name has no ASCII letter or digit to make one from. A name already
    usable is kept as it is, so submitters that logged in before keep their user name."""
    if usable_folder_name(name):
        return name
    # Accents are dropped rather than turned into dashes: "Crème" gives creme, not cr-me.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    user = _NOT_ALNUM.sub("-", ascii_name.lower()).strip("-")[:_MAX_USER].rstrip("-")
    return user or None


def sftp_user_names(named: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Submitter id -> SFTP user name, given (id, name) of every submitter (active or not). A
    made-up user name that another submitter has too is left out: two submitters must never
    share a folder. A name used as it is keeps it, as it did before user names were made up."""
    users = [(submitter_id, name, sftp_user_name(name)) for submitter_id, name in named]
    taken = Counter(user for _, _, user in users if user)
    return {
        submitter_id: user
        for submitter_id, name, user in users
        if user and (user == name or taken[user] == 1)
    }


async def sftp_user_name_of(conn: AsyncConnection, submitter_id: str) -> str | None:
    """The submitter's SFTP user name; None when it has none (then it has no folders either).
    Run for every file delivered and every login: a name usable as it is needs no look at the
    other submitters, only a made-up one (which must not be another's) does."""
    name = (
        await conn.execute(select(submitters.c.name).where(submitters.c.id == submitter_id))
    ).scalar_one_or_none()
    if name is None or usable_folder_name(name):
        return name
    rows = await conn.execute(select(submitters.c.id, submitters.c.name))
    return sftp_user_names((row.id, row.name) for row in rows).get(submitter_id)


def submitter_folder(root: Path, user: str) -> Path:
    """The folder under `root` of the submitter with this SFTP user name, with its inbound/
    and outbound/ made if missing."""
    if not usable_folder_name(user):
        raise ValueError(f"SFTP user name {user!r} cannot name a folder")
    folder = root / user
    for sub in (INBOUND_DIR, OUTBOUND_DIR):
        private_folder(folder / sub)
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
    with os.fdopen(open_private(temporary, exclusive=True), "wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    return target


def deliver_handler(settings: Settings) -> Handler:
    roots = outbox_roots(settings)
    # Submitters whose skipped files were logged: once per process is enough to be seen, one
    # warning per response file buried the log (an API-only submitter gets many).
    warned: set[str] = set()

    async def run(step: Step) -> None:
        file_id = str(step.job.payload["file_id"])
        async with step.finishing() as conn:
            found = await fs.get_file(conn, file_id, None)
            if found is None or not roots:
                return
            user = await sftp_user_name_of(conn, found.submitter_id)
            if user is None:
                if found.submitter_id not in warned:
                    warned.add(found.submitter_id)
                    log.warning(
                        "outbox_skipped",
                        submitter_id=found.submitter_id,
                        file_id=file_id,
                        reason="no SFTP user name: the submitter name has no letter or digit, "
                        "or its user name is another submitter's",
                        further="not logged again for this submitter until restart",
                    )
                return
            body = await fs.file_body(conn, step.sealer, file_id)
            # The file is written before the job is marked done: a crash in between writes it
            # again, which write_atomically recognises.
            for root in roots:
                write_atomically(submitter_folder(root, user) / OUTBOUND_DIR, found.name, body)
        log.info("file_delivered", file_id=file_id, kind=found.kind, outboxes=len(roots))

    return run
