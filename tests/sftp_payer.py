"""A payer's SFTP server for tests: asyncssh on 127.0.0.1, chrooted to a temporary folder.

Keys are generated per test; the server accepts one user with one public key (or password)
and counts connections, so tests can see the transport reuse one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

USER = "clearway"
PASSWORD = "sftp-test-password"  # a test value, not a real secret


@dataclass
class SftpPayer:
    root: Path  # what the client sees as "/"
    port: int
    host_key: asyncssh.SSHKey
    client_key_path: Path
    known_hosts_path: Path
    connections: list[str] = field(default_factory=list)

    def credentials_toml(self, cred_id: str = "pay01", **override: str) -> str:
        values = {
            "username": USER,
            "private_key": str(self.client_key_path),
            "known_hosts": str(self.known_hosts_path),
            **override,
        }
        body = "".join(f'{k} = "{v}"\n' for k, v in values.items() if v)
        return f"[{cred_id}]\n{body}"


@asynccontextmanager
async def sftp_payer(folder: Path) -> AsyncIterator[SftpPayer]:
    root = folder / "sftp-root"
    for sub in ("inbound", "outbound"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = folder / "client_ed25519"
    client_key.write_private_key(str(client_key_path))
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    connections: list[str] = []

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            connections.append("open")

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return username == USER and password == PASSWORD

    def sftp_factory(chan: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_factory=Server,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        sftp_factory=sftp_factory,
        allow_scp=False,
    )
    port = int(server.sockets[0].getsockname()[1])
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n")
    payer = SftpPayer(root, port, host_key, client_key_path, known_hosts, connections)
    try:
        yield payer
    finally:
        server.close()
        await server.wait_closed()
