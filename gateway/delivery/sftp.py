"""The SFTP transport: 837s uploaded to the payer's inbound folder, answers read from its outbound.

One SSH connection per payer is opened on first use and kept for the process; any failure
drops it, so the next call reconnects. Host keys are always checked, against the credential's
known_hosts file or its pinned host key.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncssh

from gateway.delivery.credentials import Credential, CredentialsError
from gateway.delivery.transports import InboundFile, RejectedByPayer, TransportError

T = TypeVar("T")


@dataclass(frozen=True)
class SftpTarget:
    """Where and as whom: the profile's [delivery] facts with the credential they name."""

    payer_id: str
    host: str
    port: int
    inbound_dir: str
    outbound_dir: str
    credential: Credential
    timeout: float = 30.0


def check_credential(credential: Credential, *, payer_id: str) -> None:
    """Fail at start-up, naming the key, when a credential cannot log in over SFTP."""
    where = f"payer {payer_id}: credential {credential.id}"
    if not credential.username:
        raise CredentialsError(f"{where}: username is required for sftp")
    if not (credential.private_key or credential.password):
        raise CredentialsError(f"{where}: private_key or password is required for sftp")
    if not (credential.known_hosts or credential.host_key):
        raise CredentialsError(
            f"{where}: known_hosts or host_key is required for sftp (the payer's host key)"
        )
    if credential.host_key and not credential.host_key.startswith("SHA256:"):
        try:
            asyncssh.import_public_key(credential.host_key)
        except (asyncssh.KeyImportError, ValueError):
            raise CredentialsError(
                f"{where}: host_key must be an OpenSSH public key or a SHA256: fingerprint"
            ) from None


class _PinnedHostKey(asyncssh.SSHClient):
    """Accepts exactly the host key whose SHA256 fingerprint the credential pins."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return bool(key.get_fingerprint("sha256") == self.fingerprint)


class SftpMailbox:
    """The Transport protocol over SFTP; one instance (and connection) per payer."""

    def __init__(self, target: SftpTarget) -> None:
        self.target = target
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._connecting = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SftpMailbox({self.target.host!r}, {self.target.port})"

    async def send(self, name: str, body: bytes) -> list[InboundFile]:
        final = posixpath.join(self.target.inbound_dir, name)
        # A dot name the payer skips until the rename, so it never picks up half a file.
        temporary = posixpath.join(self.target.inbound_dir, f".{name}.part")

        async def upload(sftp: asyncssh.SFTPClient) -> None:
            async with sftp.open(temporary, "wb") as f:
                await f.write(body)
            await self._replace(sftp, temporary, final)

        await self._run(upload)
        return []

    @staticmethod
    async def _replace(sftp: asyncssh.SFTPClient, source: str, target: str) -> None:
        """Rename over an existing file (a resend of the same interchange keeps its name)."""
        try:
            await sftp.posix_rename(source, target)
        except asyncssh.SFTPOpUnsupported:
            # Plain SFTP v3 rename refuses an existing target; that file is our earlier copy
            # of the same bytes, so removing it first loses nothing.
            if await sftp.exists(target):
                await sftp.remove(target)
            await sftp.rename(source, target)

    async def list_files(self) -> list[str]:
        async def listing(sftp: asyncssh.SFTPClient) -> list[str]:
            names = await sftp.readdir(self.target.outbound_dir)
            return sorted(
                str(n.filename)
                for n in names
                if not str(n.filename).startswith(".")
                and n.attrs.type in (asyncssh.FILEXFER_TYPE_REGULAR, None)
            )

        return await self._run(listing)

    async def read(self, name: str) -> bytes:
        async def fetch(sftp: asyncssh.SFTPClient) -> bytes:
            async with sftp.open(self._outbound(name), "rb") as f:
                return bytes(await f.read())

        return await self._run(fetch)

    async def remove(self, name: str) -> None:
        async def unlink(sftp: asyncssh.SFTPClient) -> None:
            # Already gone: removed by an earlier poll that died before noting it.
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await sftp.remove(self._outbound(name))

        await self._run(unlink)

    async def close(self) -> None:
        sftp, conn = self._sftp, self._conn
        self._sftp = self._conn = None
        if sftp is not None:
            sftp.exit()
        if conn is not None:
            conn.close()
            await conn.wait_closed()

    def _outbound(self, name: str) -> str:
        if "/" in name or name in (".", ".."):
            raise RejectedByPayer("mailbox file name is not a plain file name")
        return posixpath.join(self.target.outbound_dir, name)

    async def _run(self, operation: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """One operation with the timeout, mapping SSH and SFTP failures to the transport's
        two errors. Messages name the failure, never the credential or a file's content."""
        target = self.target
        try:
            async with asyncio.timeout(target.timeout):
                return await operation(await self._client())
        except asyncssh.PermissionDenied:
            await self.close()
            raise RejectedByPayer(
                f"SFTP login to {target.host} refused for credential {target.credential.id}"
            ) from None
        except asyncssh.HostKeyNotVerifiable:
            await self.close()
            # Not retried: sending claims to a server we cannot identify is never safe.
            raise RejectedByPayer(
                f"SFTP host key of {target.host} is not the one in credential "
                f"{target.credential.id} (known_hosts / host_key)"
            ) from None
        except asyncssh.SFTPPermissionDenied:
            raise RejectedByPayer(f"SFTP server {target.host} denied access to a file") from None
        except asyncssh.SFTPNoSuchFile:
            raise RejectedByPayer(
                f"no such file or folder on {target.host} "
                "(check delivery.inbound_dir and outbound_dir)"
            ) from None
        except (asyncssh.Error, OSError, TimeoutError, EOFError) as error:
            await self.close()
            raise TransportError(f"{type(error).__name__} talking to {target.host}") from None

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._connecting:
            if self._sftp is None:
                self._conn = await asyncssh.connect(**self._connect_options())
                self._sftp = await self._conn.start_sftp_client()
            return self._sftp

    def _connect_options(self) -> dict[str, Any]:
        target, credential = self.target, self.target.credential
        options: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "username": credential.username,
            "password": credential.password,
            # Only what the credential says: no ~/.ssh/config, default keys or agent of the
            # account the gateway happens to run under.
            "client_keys": [str(credential.private_key)] if credential.private_key else None,
            "agent_path": None,
            "config": None,
            "connect_timeout": target.timeout,
        }
        if credential.known_hosts:
            options["known_hosts"] = str(credential.known_hosts)
        elif credential.host_key and credential.host_key.startswith("SHA256:"):
            fingerprint = credential.host_key
            # No trusted keys, so asyncssh asks the client object, which checks the pin.
            options["known_hosts"] = ([], [], [])
            options["client_factory"] = lambda: _PinnedHostKey(fingerprint)
        elif credential.host_key:
            options["known_hosts"] = ([asyncssh.import_public_key(credential.host_key)], [], [])
        return options
