"""The SFTP drop inside `clearway serve`: submitters log in with a registered public key as their
SFTP user name (made from the submitter name, see gateway.storage.folders) and see only their own
inbound/ (write) and outbound/ (read) folders.

No shell, exec or forwarding; no directories, links or paths outside the two folders. A file
written to inbound/ is processed when the client closes its handle (or renames it from a
dot-name); an upload whose session ended without that close was cut off, and is removed and
reported as incomplete, never processed as if it were the whole file.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import posixpath
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import structlog
from aiohttp import web
from asyncssh import SFTPAttrs, SFTPName, SFTPServer
from asyncssh.sftp import (
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPFailure,
    SFTPNoSuchFile,
    SFTPOpUnsupported,
    SFTPPermissionDenied,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.context import ENGINE, SEALER, SETTINGS
from gateway.intake.drop import Intake, run_intake
from gateway.private import open_private, private_folder
from gateway.settings import SftpSettings
from gateway.storage import claims as store
from gateway.storage import files as fs
from gateway.storage.folders import INBOUND_DIR, OUTBOUND_DIR, sftp_user_name_of, submitter_folder

log = structlog.get_logger("gateway.sftp")

_FOLDERS = (INBOUND_DIR.encode(), OUTBOUND_DIR.encode())


class KeyFileError(ValueError):
    """A public key file that cannot be read as an OpenSSH or RFC 4716 public key."""


def parse_public_key(text: str) -> tuple[str, str]:
    """(the key in OpenSSH one-line form without its comment, its SHA256 fingerprint)."""
    if "PRIVATE KEY" in text:
        raise KeyFileError("this is a private key: give the public key (the .pub file)")
    try:
        key = asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as error:
        raise KeyFileError(f"not a public key: {error}") from None
    line = key.export_public_key("openssh").decode().split()
    return f"{line[0]} {line[1]}", key.get_fingerprint("sha256")


def load_or_create_host_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    if path.is_file():
        return asyncssh.read_private_key(str(path)), False
    key = asyncssh.generate_private_key("ssh-ed25519")
    private_folder(path.parent)
    with os.fdopen(open_private(path, exclusive=True), "wb") as out:
        out.write(key.export_private_key())
    return key, True


class _Login(asyncssh.SSHServer):
    """Public keys only; the user name is the submitter's SFTP user name and the key its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        async with self.engine.connect() as conn:
            submitter = await store.submitter_by_sftp_key(conn, fingerprint)
            # The same derivation as the folders and `clearway submitters list` use.
            user = None if submitter is None else await sftp_user_name_of(conn, submitter.id)
        if submitter is None or user is None or user != username:
            log.info("sftp_login_refused", reason="unknown user or key")
            return False
        assert self.conn is not None
        self.conn.set_extra_info(submitter=submitter, sftp_user=user)
        log.info("sftp_login", submitter_id=submitter.id)
        return True


@dataclass
class _Handle:
    file: Any
    local: str
    folder: bytes  # inbound or outbound
    name: bytes
    writing: bool
    too_large: bool = False


class DropServer(SFTPServer):
    """Enforces the per-submitter view on top of asyncssh's chroot mapping."""

    def __init__(self, chan: asyncssh.SSHServerChannel, drop: SftpDrop) -> None:
        submitter = chan.get_connection().get_extra_info("submitter")
        if submitter is None:
            raise SFTPPermissionDenied("not logged in")
        self.submitter = submitter
        self.drop = drop
        user = chan.get_connection().get_extra_info("sftp_user")
        self.home = submitter_folder(drop.root, user).resolve()
        self._closing: list[_Handle] = []  # uploads closed, not yet known to be finished
        super().__init__(chan, chroot=str(self.home).encode())

    # Paths ------------------------------------------------------------------------------

    @staticmethod
    def _parts(path: bytes) -> tuple[bytes, ...]:
        normal = posixpath.normpath(posixpath.join(b"/", path))
        return tuple(p for p in normal.split(b"/") if p)

    def _file(self, path: bytes) -> tuple[bytes, bytes, str]:
        """(folder, name, local path) of a file directly inside inbound/ or outbound/."""
        parts = self._parts(path)
        if len(parts) != 2 or parts[0] not in _FOLDERS:
            raise SFTPPermissionDenied("only files inside inbound/ and outbound/ can be used")
        local = str(self.home / parts[0].decode() / os.fsdecode(parts[1]))
        if os.path.islink(local):
            raise SFTPPermissionDenied("links are not followed")
        return parts[0], parts[1], local

    def _dir(self, path: bytes) -> str:
        parts = self._parts(path)
        if len(parts) > 1 or (parts and parts[0] not in _FOLDERS):
            raise SFTPNoSuchFile("only /, /inbound and /outbound exist")
        return str(self.home.joinpath(*(p.decode() for p in parts)))

    def _local(self, path: bytes) -> str:
        parts = self._parts(path)
        return self._dir(path) if len(parts) < 2 else self._file(path)[2]

    def realpath(self, path: bytes) -> bytes:
        return posixpath.normpath(posixpath.join(b"/", path))

    # Files ------------------------------------------------------------------------------

    def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> _Handle:
        folder, name, local = self._file(path)
        writing = bool(pflags & (FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC))
        if writing and folder != INBOUND_DIR.encode():
            raise SFTPPermissionDenied("files are uploaded to inbound/; outbound/ is read-only")
        flags = os.O_NOFOLLOW
        if writing:
            flags |= os.O_RDWR if pflags & FXF_READ else os.O_WRONLY
            flags |= os.O_CREAT if pflags & FXF_CREAT else 0
            flags |= os.O_TRUNC if pflags & FXF_TRUNC else 0
            flags |= os.O_EXCL if pflags & FXF_EXCL else 0
            flags |= os.O_APPEND if pflags & FXF_APPEND else 0
        else:
            flags |= os.O_RDONLY
        try:
            descriptor = os.open(local, flags, 0o600)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise SFTPPermissionDenied("links are not followed") from None
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise SFTPPermissionDenied("not a regular file")
        return _Handle(
            os.fdopen(descriptor, "r+b" if writing else "rb", buffering=0),
            local,
            folder,
            name,
            writing,
        )

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        handle = _handle(file_obj)
        handle.file.seek(offset)
        return bytes(handle.file.read(size))

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        handle = _handle(file_obj)
        if handle.too_large or offset + len(data) > self.drop.settings.max_file_bytes:
            handle.too_large = True
            raise SFTPFailure(
                f"file larger than the {self.drop.settings.max_file_bytes}-byte limit: refused"
            )
        handle.file.seek(offset)
        return int(handle.file.write(data))

    def close(self, file_obj: object) -> None:
        handle = _handle(file_obj)
        handle.file.close()
        if not handle.writing:
            return
        if handle.too_large:
            # Never processed and not kept half-written.
            Path(handle.local).unlink(missing_ok=True)
            log.warning("sftp_upload_too_large", submitter_id=self.submitter.id)
            return
        if handle.name.startswith(b"."):
            return
        # Finished a moment later, not here: asyncssh also calls close() for every handle
        # still open when the session ends (the connection dropped mid-upload), and then exit()
        # straight away, before this event loop runs anything else. A close the client asked
        # for is finished on the loop's next turn; one made by the session's end is found
        # still waiting by exit(), and is an upload cut off.
        self._closing.append(handle)
        if len(self._closing) == 1:
            asyncio.get_running_loop().call_soon(self._finish_closed)

    def _finish_closed(self) -> None:
        closed, self._closing = self._closing, []
        for handle in closed:
            self._finished(handle.local)

    def exit(self) -> None:
        cut_off, self._closing = self._closing, []
        for handle in cut_off:
            self.drop.cut_off(Path(handle.local), self.submitter.id, os.fsdecode(handle.name))

    def _finished(self, local: str) -> None:
        try:
            self.drop.intake.accept(Path(local), self.submitter.id)
        except FileNotFoundError:
            return  # removed or renamed by the client in the meantime
        log.info("sftp_upload_finished", submitter_id=self.submitter.id)

    def fstat(self, file_obj: object) -> os.stat_result:
        return os.fstat(_handle(file_obj).file.fileno())

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("file attributes cannot be changed")

    def fsync(self, file_obj: object) -> None:
        os.fsync(_handle(file_obj).file.fileno())

    def fstatvfs(self, file_obj: object) -> Any:
        raise SFTPOpUnsupported("statvfs is not offered")

    # Names ------------------------------------------------------------------------------

    def lstat(self, path: bytes) -> os.stat_result:
        return os.lstat(self._local(path))

    def stat(self, path: bytes) -> os.stat_result:
        return os.lstat(self._local(path))  # links are never followed

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("file attributes cannot be changed")

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("file attributes cannot be changed")

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        local = self._dir(path)
        for name in (b".", b".."):
            yield SFTPName(name, attrs=SFTPAttrs.from_local(os.lstat(local)))
        with os.scandir(local) as entries:
            for entry in entries:
                if entry.is_symlink():
                    continue
                if local == str(self.home) and entry.name.encode() not in _FOLDERS:
                    continue
                attrs = SFTPAttrs.from_local(entry.stat(follow_symlinks=False))
                yield SFTPName(entry.name.encode(), attrs=attrs)

    def remove(self, path: bytes) -> None:
        _, _, local = self._file(path)
        os.unlink(local)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._rename(oldpath, newpath, replace=False)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._rename(oldpath, newpath, replace=True)

    def _rename(self, oldpath: bytes, newpath: bytes, *, replace: bool) -> None:
        old_folder, _, old = self._file(oldpath)
        new_folder, new_name, new = self._file(newpath)
        if old_folder != INBOUND_DIR.encode() or new_folder != INBOUND_DIR.encode():
            raise SFTPPermissionDenied("files can be renamed only within inbound/")
        if not os.path.isfile(old) or os.path.islink(old):
            raise SFTPNoSuchFile("no such file in inbound/")
        if not replace and os.path.lexists(new):
            raise SFTPFailure("a file of that name already exists")
        os.replace(old, new)
        # An upload written under a dot-name and then renamed is finished at the rename.
        if not new_name.startswith(b"."):
            self._finished(new)

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPPermissionDenied("folders cannot be created")

    def rmdir(self, path: bytes) -> None:
        raise SFTPPermissionDenied("folders cannot be removed")

    def readlink(self, path: bytes) -> bytes:
        raise SFTPPermissionDenied("links are not offered")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("links cannot be created")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise SFTPPermissionDenied("links cannot be created")

    def statvfs(self, path: bytes) -> Any:
        raise SFTPOpUnsupported("statvfs is not offered")


def _handle(file_obj: object) -> _Handle:
    if not isinstance(file_obj, _Handle):
        raise SFTPFailure("bad handle")
    return file_obj


class SftpDrop:
    """The listening SFTP server and the intake its finished uploads go to."""

    def __init__(self, settings: SftpSettings, engine: AsyncEngine, intake: Intake) -> None:
        self.settings = settings
        self.engine = engine
        self.intake = intake
        self.root = Path(settings.root)
        self.server: asyncssh.SSHAcceptor | None = None
        self._reporting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        key, created = load_or_create_host_key(Path(self.settings.host_key_file))
        if created:
            log.warning(
                "sftp_host_key_generated",
                key_file=self.settings.host_key_file,
                advice="keep this file: clients pin the host key on first connection",
            )
        private_folder(self.root)
        self.server = await asyncssh.listen(
            self.settings.host,
            self.settings.port,
            server_host_keys=[key],
            server_factory=lambda: _Login(self.engine),
            sftp_factory=lambda chan: DropServer(chan, self),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            # Only SFTP sessions: any shell or exec request is refused by asyncssh.
            session_factory=None,
            process_factory=None,
        )
        log.info("sftp_serving", host=self.settings.host, port=self.settings.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await asyncio.gather(*self._reporting, return_exceptions=True)

    def cut_off(self, upload: Path, submitter_id: str, name: str) -> None:
        """An upload whose session ended before the client closed it: reported, not taken."""
        task = asyncio.get_running_loop().create_task(
            self._report_cut_off(upload, submitter_id, name)
        )
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)

    async def _report_cut_off(self, upload: Path, submitter_id: str, name: str) -> None:
        """Keep what came (as a refused submission, within the quota), remove it from inbound/,
        and tell the submitter in its outbox (NAME.incomplete.json)."""
        try:
            received = await asyncio.to_thread(_read_and_remove, upload)
        except FileNotFoundError:
            return
        intake = self.intake
        note = {
            "file": name,
            "state": "incomplete",
            "received_bytes": len(received),
            "error": "the upload ended before the file was closed (the connection was lost or "
            "the client stopped): nothing of it was processed; send the whole file again",
        }
        stem = name.rsplit(".", 1)[0] or "upload"
        async with self.engine.begin() as conn:
            rejection_id = await store.record_rejection(
                conn,
                intake.sealer,
                submitter_id=submitter_id,
                channel="sftp",
                reason="incomplete-upload",
                errors=[{"pointer": "", "message": note["error"]}],
                content_type="application/edi-x12",
                body=received,
                body_size=len(received),
                body_sha256=hashlib.sha256(received).hexdigest(),
                quota=intake.refused_quota,
            )
            await fs.add_file(
                conn,
                intake.sealer,
                submitter_id=submitter_id,
                direction=fs.OUTBOUND,
                channel="sftp",
                kind="note",
                name=f"{stem}.incomplete.json",
                body=(json.dumps({**note, "rejection_id": rejection_id}, indent=2) + "\n").encode(),
                state=fs.PROCESSED,
                detail={"incomplete_upload": rejection_id},
            )
        log.warning(
            "sftp_upload_incomplete",
            submitter_id=submitter_id,
            rejection_id=rejection_id,
            received_bytes=len(received),
        )


def _read_and_remove(path: Path) -> bytes:
    with path.open("rb") as f:
        received = f.read()
    path.unlink()
    return received


SFTP_DROP = web.AppKey("sftp_drop", SftpDrop)


async def sftp_drop(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the SFTP server and its intake, when sftp.enabled is on."""
    settings = app[SETTINGS]
    if not settings.sftp.enabled:
        yield
        return
    intake = Intake(
        app[ENGINE],
        app[SEALER],
        settings.x12,
        root=Path(settings.sftp.root),
        channel="sftp",
        refused_quota=settings.server.refused_kept_bytes,
    )
    drop = SftpDrop(settings.sftp, app[ENGINE], intake)
    await drop.start()
    app[SFTP_DROP] = drop
    stop = asyncio.Event()
    task = asyncio.create_task(run_intake(intake, stop))
    yield
    stop.set()
    await drop.stop()
    await task
