"""Claims to their final status where one payer is reached over SFTP.

SIMCOM01's profile uses the sftp transport against an asyncssh server on 127.0.0.1. A small
fake payer stands behind that server: it hands each uploaded 837 to the payer simulator (over
its HTTP mailbox) and drops the simulator's 999, 277CA and 835s into the SFTP outbound folder,
the way a payer's system answers files it picks up. The other payers use the simulator directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.app import create_app
from gateway.context import DELIVERY, PAYERS
from gateway.delivery.transports import HttpMailbox
from gateway.settings import CredentialsSettings, PayersSettings, Settings, SimulatorSettings
from tests.conftest import new_submitter
from tests.e2e.support import predicted, varied_claims, write_fast_profiles
from tests.e2e.test_claim_flow import all_final, drive, get, submit
from tests.sftp_payer import SftpPayer, sftp_payer

SFTP_PAYER = "SIMCOM01"


@pytest.fixture
async def payer(tmp_path: Path) -> AsyncIterator[SftpPayer]:
    async with sftp_payer(tmp_path / "sftp") as running:
        yield running


@pytest.fixture
def sftp_settings(settings: Settings, tmp_path: Path, payer: SftpPayer) -> Settings:
    profiles = write_fast_profiles(tmp_path / "profiles")
    path = profiles / f"{SFTP_PAYER}.toml"
    text = re.sub(
        r'(?m)^transport = "simulator"$',
        f'transport = "sftp"\nhost = "127.0.0.1"\nport = {payer.port}\n'
        'credential = "simcom01"\ninbound_dir = "inbound"\noutbound_dir = "outbound"',
        path.read_text(),
    )
    path.write_text(text)
    credentials = tmp_path / "credentials.toml"
    credentials.write_text(payer.credentials_toml("simcom01"))
    return Settings(
        server=settings.server,
        database=settings.database,
        crypto=settings.crypto,
        logging=settings.logging,
        worker=settings.worker,
        payers=PayersSettings(profiles_dir=str(profiles)),
        credentials=CredentialsSettings(file=str(credentials)),
        x12=settings.x12,
        simulator=SimulatorSettings(data_dir=str(tmp_path / "simulator")),
        sftp=settings.sftp,  # off in tests: no fixed port to collide on
    )


def _drop(folder: Path, name: str, body: bytes) -> None:
    """Write like a payer does: a dot name first, so a half-written file is never listed."""
    temporary = folder / f".{name}.part"
    temporary.write_bytes(body)
    os.replace(temporary, folder / name)


async def fake_payer(payer: SftpPayer, simulator: HttpMailbox, received: list[str]) -> None:
    """Answer files uploaded over SFTP with what the simulator answers, until cancelled."""
    inbound, outbound = payer.root / "inbound", payer.root / "outbound"
    while True:
        for path in sorted(inbound.iterdir()):
            if path.name.startswith("."):
                continue  # still being uploaded
            received.append(path.name)
            for answer in await simulator.send(path.name, path.read_bytes()):
                _drop(outbound, f"{path.name}.999", answer.body)
            path.unlink()
        for name in await simulator.list_files():
            _drop(outbound, name, await simulator.read(name))
            await simulator.remove(name)
        await asyncio.sleep(0.05)


async def test_claims_reach_their_final_status_through_sftp(
    aiohttp_client: Any, sftp_settings: Settings, payer: SftpPayer
) -> None:
    client = await aiohttp_client(create_app(sftp_settings))
    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    _, api_key = await new_submitter(client)
    claims = varied_claims(10, prefix="SFTP")
    ids = [await submit(client, api_key, claim) for claim in claims]

    received: list[str] = []
    async with aiohttp.ClientSession() as session:
        simulator = HttpMailbox(
            session,
            str(client.make_url(f"/simulator/{SFTP_PAYER}")),
            headers={"Authorization": f"Bearer {client.app[DELIVERY].simulator_token}"},
        )
        relay = asyncio.create_task(fake_payer(payer, simulator, received))
        try:
            await drive(client, lambda: all_final(client, api_key, ids), seconds=90)
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay

    assert received and all(name.startswith("837") for name in received)
    profiles = client.app[PAYERS]
    through_sftp = 0
    for claim, claim_id in zip(claims, ids, strict=True):
        view = await get(client, api_key, f"/v1/claims/{claim_id}")
        assert view["status"] == predicted(claim, profiles), (claim["patient_control_number"], view)
        if claim["payer"]["payer_id"] == SFTP_PAYER:
            through_sftp += 1
            events = await get(client, api_key, f"/v1/claims/{claim_id}/events")
            kinds = [e["kind"] for e in events["items"]]
            assert kinds[:4] == ["received", "scrubbed", "translated", "submitted"], kinds
            assert "999_accepted" in kinds and any(k.startswith("277ca_") for k in kinds)
    assert through_sftp >= 2
    # Everything the payer left was collected and removed; one SSH connection served it all.
    assert [p.name for p in (payer.root / "outbound").iterdir()] == []
    assert payer.connections == ["open"]
