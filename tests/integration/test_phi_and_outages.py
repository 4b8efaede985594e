"""No PHI in logs for a claim full of it; a database that is down answers 503, not a hang."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.settings import DatabaseSettings, Settings
from tests.conftest import auth, example

PHI = {
    "subscriber_last": "ZZPHILASTNAME",
    "subscriber_first": "ZZPHIFIRST",
    "member": "ZZMEMBER998877",
    "birth": "1961-07-19",
    "street": "77 ZZPHI STREET",
    "patient_last": "ZZPATIENTLAST",
    "diagnosis": "J20.9",
    "group": "ZZGROUP55",
}


def phi_claim() -> dict[str, Any]:
    claim = copy.deepcopy(example("professional-secondary.json"))
    claim["subscriber"].update(
        last_name=PHI["subscriber_last"],
        first_name=PHI["subscriber_first"],
        member_id=PHI["member"],
        birth_date=PHI["birth"],
        group_number=PHI["group"],
    )
    claim["subscriber"]["address"]["line1"] = PHI["street"]
    claim["patient"]["last_name"] = PHI["patient_last"]
    claim["diagnoses"] = [{"code": PHI["diagnosis"]}]
    return claim


async def test_no_phi_in_any_log_event(client: Any, api_key: str, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    claim = phi_claim()
    with capture_logs() as events:
        created = await client.post(
            "/v1/claims",
            data=json.dumps(claim),
            headers=auth(api_key, **{"Content-Type": "application/json"}),
        )
        claim_id = (await created.json())["id"]
        await client.get(f"/v1/claims/{claim_id}", headers=auth(api_key))
        await client.get(f"/v1/claims/{claim_id}/events", headers=auth(api_key))
        await client.get("/v1/claims?patient_control_number=PCN-2026-0002", headers=auth(api_key))
        # A rejected claim full of PHI must not leak through error messages either.
        bad = copy.deepcopy(claim)
        bad["subscriber"]["birth_date"] = "1961-19-07"
        bad["subscriber"]["gender"] = PHI["subscriber_first"]
        rejected = await client.post(
            "/v1/claims",
            data=json.dumps(bad),
            headers=auth(api_key, **{"Content-Type": "application/json"}),
        )
        assert rejected.status == 422
        assert PHI["subscriber_first"] not in await rejected.text()
        # Nor through a batch's answer for each of its claims.
        batch = await client.post(
            "/v1/claims/batch",
            data=json.dumps({"claims": [claim, bad]}),
            headers=auth(api_key, **{"Content-Type": "application/json"}),
        )
        assert batch.status == 202
        assert PHI["subscriber_first"] not in await batch.text()
    assert any(e["event"] == "claim_received" for e in events)
    assert any(e["event"] == "claim_batch_received" for e in events)
    logged = json.dumps(events, default=str) + caplog.text
    for value in PHI.values():
        assert value not in logged, value
    assert "1961-19-07" not in logged


@pytest.fixture
def down_settings(settings: Settings) -> Settings:
    # Nothing listens on port 9 of the loopback: connections are refused at once.
    database = DatabaseSettings(
        url="postgresql://postgres@127.0.0.1:9/clearway",
        auto_migrate=False,
        connect_timeout_seconds=2,
    )
    return Settings(
        server=settings.server,
        database=database,
        crypto=settings.crypto,
        logging=settings.logging,
        sftp=settings.sftp,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_database_down_is_503_not_a_hang(
    aiohttp_client: Any, down_settings: Settings
) -> None:
    client = await aiohttp_client(create_app(down_settings))
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["checks"] == {"database": "unavailable"}
    post = await client.post(
        "/v1/claims",
        data=json.dumps(example("professional-office-visit.json")),
        headers=auth("cw_anything", **{"Content-Type": "application/json"}),
    )
    assert post.status == 503
    assert post.headers["Retry-After"] == "5"
    problem = await post.json()
    assert "nothing was stored" in problem["detail"]
    assert (await client.get("/healthz")).status == 200  # the process itself is alive
    # A request without a key is refused before any connection is tried.
    for path in ("/v1/claims", "/v1/claims/x", "/v1/claims/x/events", "/v1/claims/x/remittance"):
        assert (await client.get(path)).status == 401
    structlog.contextvars.clear_contextvars()


async def test_a_request_aiohttp_cannot_parse_is_logged_without_its_headers(
    client: Any, api_key: str
) -> None:
    from gateway.logs import _LibraryRecords

    # aiohttp refuses a control character in a header and logs the whole header line, key
    # and all; our handler writes the record's template, the error type and where, only.
    request = (
        f"GET /v1/payers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_key}\x01\r\n"
        f"X-Note: {PHI['patient_last']}\x01\r\nConnection: close\r\n\r\n"
    ).encode()
    server_log = logging.getLogger("aiohttp.server")
    handler = _LibraryRecords()
    server_log.addHandler(handler)
    try:
        with capture_logs() as events:
            reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
            writer.write(request)
            answer = await reader.read()
            writer.close()
    finally:
        server_log.removeHandler(handler)
    assert answer.split(b" ", 2)[1] == b"400"
    (event,) = [e for e in events if e.get("logger") == "aiohttp.server"]
    assert event["error_type"] == "BadHttpMessage" and event["where"]
    logged = json.dumps(events, default=str)
    assert api_key not in logged and PHI["patient_last"] not in logged
