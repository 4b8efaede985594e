"""A payer that refuses our credentials: the claims fail after one send, with no retry storm."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.app import create_app
from gateway.context import DELIVERY
from gateway.settings import CredentialsSettings, PayersSettings, Settings, SimulatorSettings
from tests.conftest import new_submitter
from tests.e2e.support import varied_claims, write_fast_profiles
from tests.e2e.test_claim_flow import all_final, drive, get, submit

PAYER = "SIMCOM01"


async def test_a_401_fails_the_claims_after_one_request(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, tmp_path: Path
) -> None:
    requests: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        requests.append(f"{request.method} {request.path}")
        return web.Response(status=401, text="bad token")

    payer = web.Application()
    payer.router.add_route("*", "/{tail:.*}", refuse)
    server = await aiohttp_server(payer)

    profiles = write_fast_profiles(tmp_path / "profiles")
    path = profiles / f"{PAYER}.toml"
    path.write_text(
        re.sub(
            r'(?m)^transport = "simulator"$',
            f'transport = "http"\nurl = "{server.make_url("/mailbox")}"\ncredential = "pay"',
            path.read_text(),
        )
    )
    credentials = tmp_path / "credentials.toml"
    credentials.write_text('[pay]\ntoken = "expired-token"\n')
    client = await aiohttp_client(
        create_app(
            Settings(
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
        )
    )
    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    _, api_key = await new_submitter(client)
    claim = next(c for c in varied_claims(5, prefix="REF") if c["payer"]["payer_id"] == PAYER)
    ids = [await submit(client, api_key, claim)]
    await drive(client, lambda: all_final(client, api_key, ids), seconds=60)

    for claim_id in ids:
        view = await get(client, api_key, f"/v1/claims/{claim_id}")
        assert view["status"] == "failed"
        events = (await get(client, api_key, f"/v1/claims/{claim_id}/events"))["items"]
        assert "credentials" in str(events[-1]) and "expired-token" not in str(events)
    sends = [r for r in requests if r.startswith("POST")]
    assert len(sends) == 1, requests  # sent once, never retried
