"""The SFTP drop driven by the real OpenSSH `sftp` client against the server inside the app.

837s go up to inbound/; the 999, and later the 277CA and 835, come back in outbound/. The
security tests try to leave the submitter's folder every way the protocol allows.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.read_ack import read_acknowledgments
from edi.write_837 import build_837
from gateway import store
from gateway.app import create_app
from gateway.context import ENGINE
from gateway.settings import PayersSettings, Settings, SftpSettings, SimulatorSettings
from gateway.sftp_server import SFTP_DROP, parse_public_key
from tests.conftest import auth, example
from tests.e2e.support import free_port, write_fast_profiles
from tests.e2e.test_claim_flow import drive

pytestmark = pytest.mark.skipif(
    not (shutil.which("sftp") and shutil.which("ssh-keygen")), reason="OpenSSH client missing"
)

LIMIT = 300_000  # max_file_bytes in these tests


@dataclass(frozen=True)
class Login:
    user: str
    key: Path
    api_key: str
    submitter_id: str


@pytest.fixture
def sftp_settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(
        settings,
        payers=PayersSettings(profiles_dir=str(write_fast_profiles(tmp_path / "profiles"))),
        simulator=SimulatorSettings(data_dir=str(tmp_path / "simulator")),
        sftp=SftpSettings(
            enabled=True,
            port=free_port(),
            root=str(tmp_path / "sftp"),
            host_key_file=str(tmp_path / "sftp-host-key"),
            max_file_bytes=LIMIT,
        ),
    )


@pytest.fixture
async def gateway(aiohttp_client: Any, sftp_settings: Settings) -> Any:
    client = await aiohttp_client(create_app(sftp_settings))
    from gateway.context import DELIVERY

    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    return client


async def keygen(path: Path) -> Path:
    process = await asyncio.create_subprocess_exec(
        "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(path)
    )
    assert await process.wait() == 0
    return path


async def login(client: Any, tmp_path: Path, name: str, *, register: bool = True) -> Login:
    async with client.app[ENGINE].begin() as conn:
        submitter, api_key = await store.create_submitter(conn, name)
        key = await keygen(tmp_path / f"{name}-key")
        if register:
            public_key, fingerprint = parse_public_key(key.with_suffix(".pub").read_text())
            await store.add_sftp_key(
                conn, submitter.id, public_key=public_key, fingerprint=fingerprint
            )
    return Login(name, key, api_key, submitter.id)


async def sftp(
    client: Any, who: Login, commands: str, *, user: str | None = None
) -> tuple[int, str]:
    """Run the OpenSSH client in batch mode; returns its exit status and all it printed."""
    port = client.app[SFTP_DROP].settings.port
    process = await asyncio.create_subprocess_exec(
        "sftp",
        "-b",
        "-",
        "-i",
        str(who.key),
        "-P",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        f"{user or who.user}@127.0.0.1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(commands.encode()), 60)
    return process.returncode or 0, output.decode(errors="replace")


def x12_file(name: str, control: int, pcn: str) -> str:
    data = example(name)
    data["patient_control_number"] = pcn
    params = EnvelopeParams(
        sender_id="SUB000101",
        receiver_id="CLEARWAY",
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    return build_837([claim_from_json(data)], params)


async def settled(client: Any) -> None:
    """Wait until every finished upload has been through the intake."""
    await asyncio.wait_for(client.app[SFTP_DROP].intake.idle.wait(), 60)


def folder(client: Any, who: Login, sub: str) -> Path:
    return Path(client.app[SFTP_DROP].settings.root) / who.user / sub


async def count(client: Any, table: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_upload_is_acknowledged_in_outbound(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "sunrise-billing")
    upload = tmp_path / "claims-1.x12"
    upload.write_text(x12_file("professional-office-visit.json", 11, "SFTP-0001"))
    status, output = await sftp(gateway, who, f"put {upload} inbound/claims-1.x12\n")
    assert status == 0, output
    await settled(gateway)
    await drive(gateway, lambda: _true())
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    kinds = sorted((f["direction"], f["kind"], f["channel"]) for f in listing["items"])
    assert kinds == [("inbound", "837", "sftp"), ("outbound", "999", "sftp")]
    download = tmp_path / "down"
    download.mkdir()
    status, output = await sftp(gateway, who, f"lcd {download}\nget outbound/*\n")
    assert status == 0, output
    (ack,) = download.glob("999-*.x12")
    (implementation,) = read_acknowledgments(ack.read_text()).implementation_acks
    assert implementation.status == "A"
    assert not list(folder(gateway, who, "inbound").iterdir())  # taken in, nothing left


async def _true() -> bool:
    return True
