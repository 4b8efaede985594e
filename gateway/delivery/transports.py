"""Transports: how an 837 reaches a payer and how the payer's response files come back.

Each transport sends a file (returning any response the payer gives at once, such as a 999)
and lists, reads and removes files in the payer's mailbox. `TransportError` is a temporary
failure worth retrying; `RejectedByPayer` is a refusal that resending will not change.
The sftp transport lives in gateway/delivery/sftp.py; docs/operations.md describes them all.

Clearway's HTTP mailbox protocol (spoken by the payer simulator and the `http` transport):
    POST   {url}/inbound?name=NAME   body: the X12 file; 200 with a body: an immediate
                                     acknowledgment (999 or TA1); 202: accepted, nothing yet
    GET    {url}/outbound            {"files": [{"name": ..., "size": ...}]}
    GET    {url}/outbound/NAME       the file
    DELETE {url}/outbound/NAME       remove it once stored
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import aiohttp

from gateway.private import write_private


class TransportError(Exception):
    """The payer could not be reached or failed (5xx, timeout, dropped connection): retry."""


class RejectedByPayer(Exception):
    """The payer refused the request (4xx other than 408/429): resending will not help."""


@dataclass(frozen=True)
class InboundFile:
    name: str
    body: bytes


class Transport(Protocol):
    async def send(self, name: str, body: bytes) -> list[InboundFile]: ...

    async def list_files(self) -> list[str]: ...

    async def read(self, name: str) -> bytes: ...

    async def remove(self, name: str) -> None: ...


class HttpMailbox:
    """The HTTP mailbox protocol above, over one shared aiohttp client session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # Authorization lives here, per payer, not on the shared session: one session talks
        # to every payer, and one payer's secret must never reach another.
        self.headers = dict(headers or {})
        self.tls = tls

    def __repr__(self) -> str:
        return f"HttpMailbox({self.url!r})"  # never the headers: they carry the secret

    async def send(self, name: str, body: bytes) -> list[InboundFile]:
        status, answer = await self._request(
            "POST",
            f"/inbound?name={quote(name)}",
            data=body,
            headers={"Content-Type": "application/edi-x12"},
        )
        return [InboundFile(f"{name}.ack", answer)] if status == 200 and answer.strip() else []

    async def list_files(self) -> list[str]:
        _, answer = await self._request("GET", "/outbound")
        try:
            return [str(f["name"]) for f in json.loads(answer)["files"]]
        except (ValueError, KeyError, TypeError):
            raise TransportError("mailbox listing is not the expected JSON") from None

    async def read(self, name: str) -> bytes:
        return (await self._request("GET", f"/outbound/{quote(name)}"))[1]

    async def remove(self, name: str) -> None:
        await self._request("DELETE", f"/outbound/{quote(name)}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        try:
            async with self.session.request(
                method,
                self.url + path,
                data=data,
                headers={**self.headers, **(headers or {})},
                timeout=self.timeout,
                ssl=self.tls if self.tls is not None else True,
            ) as response:
                body = await response.read()
                if response.status >= 500 or response.status in (408, 429):
                    raise TransportError(f"payer answered HTTP {response.status}")
                if response.status in (401, 403):
                    # Resending with the same secret cannot succeed: stop, and say what to fix.
                    raise RejectedByPayer(
                        f"payer refused our credentials with HTTP {response.status}"
                    )
                if response.status >= 400:
                    raise RejectedByPayer(f"payer refused with HTTP {response.status}")
                return response.status, body
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TransportError(f"{type(error).__name__} talking to the payer") from None


class DirectoryMailbox:
    """Drop and pick-up folders: files for the payer go to `to-payer/`, answers appear in
    `from-payer/`. Writes are atomic (a hidden temporary name, then a rename), and files
    whose names start with a dot are taken for unfinished uploads and left alone."""

    def __init__(self, base: Path) -> None:
        self.outgoing = base / "to-payer"
        self.incoming = base / "from-payer"

    async def send(self, name: str, body: bytes) -> list[InboundFile]:
        await asyncio.to_thread(self._write, name, body)
        return []

    def _write(self, name: str, body: bytes) -> None:
        temporary = self.outgoing / f".{name}.part"
        with _folder_fault("write to the drop folder"):
            write_private(temporary, body)
            os.replace(temporary, self.outgoing / name)

    async def list_files(self) -> list[str]:
        with _folder_fault("list the pick-up folder"):
            if not self.incoming.is_dir():
                return []
            return sorted(
                p.name
                for p in self.incoming.iterdir()
                if p.is_file() and not p.name.startswith(".")
            )

    async def read(self, name: str) -> bytes:
        with _folder_fault(f"read {name} from the pick-up folder"):
            return await asyncio.to_thread((self.incoming / name).read_bytes)

    async def remove(self, name: str) -> None:
        with _folder_fault(f"remove {name} from the pick-up folder"):
            await asyncio.to_thread((self.incoming / name).unlink, True)


@contextlib.contextmanager
def _folder_fault(doing: str) -> Iterator[None]:
    # A folder that cannot be used is the payer link's problem, not the job's: a poll logs it
    # and comes back, a send retries, rather than spending their retries on an OSError.
    try:
        yield
    except OSError as error:
        raise TransportError(f"cannot {doing}: {error.strerror}") from None
