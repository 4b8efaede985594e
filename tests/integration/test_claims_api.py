"""The claims API against real SQLite and PostgreSQL: intake, read back, list, bad input."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.context import ENGINE, SEALER
from gateway.storage import claims as store
from gateway.storage.tables import claim_events, claims, intake_rejections, jobs
from tests.conftest import auth, example, new_submitter

OFFICE = example("professional-office-visit.json")


async def post_claim(client: Any, api_key: str, claim: Any, **headers: str) -> Any:
    return await client.post(
        "/v1/claims",
        data=json.dumps(claim),
        headers=auth(api_key, **{"Content-Type": "application/json", **headers}),
    )


async def count(client: Any, table: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_submit_and_read_back_with_events(client: Any, api_key: str) -> None:
    response = await post_claim(client, api_key, OFFICE)
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "received"
    assert response.headers["Location"] == f"/v1/claims/{body['id']}"
    assert body["total_charge"] == "225.00"
    assert body["service_date_start"] == body["service_date_end"] == "2026-11-02"

    got = await client.get(f"/v1/claims/{body['id']}", headers=auth(api_key))
    assert got.status == 200
    detail = await got.json()
    assert detail["status"] == "received"
    assert detail["claim"]["subscriber"]["member_id"] == OFFICE["subscriber"]["member_id"]
    assert detail["claim"]["service_lines"][0]["charge"] == "150.00"

    events = await (
        await client.get(f"/v1/claims/{body['id']}/events", headers=auth(api_key))
    ).json()
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in events["items"]] == [
        ("received", None, "received")
    ]
    assert events["items"][0]["detail"] == {"channel": "api"}


async def test_claim_row_event_and_scrub_job_written_together(client: Any, api_key: str) -> None:
    response = await post_claim(client, api_key, example("institutional-outpatient.json"))
    claim_id = (await response.json())["id"]
    async with client.app[ENGINE].connect() as conn:
        job = (await conn.execute(select(jobs).where(jobs.c.claim_id == claim_id))).one()
    assert (job.kind, job.state) == ("scrub", "ready")
    assert await count(client, claim_events) == 1


async def test_payload_is_sealed_at_rest(client: Any, api_key: str) -> None:
    claim = example("professional-secondary.json")
    claim_id = (await (await post_claim(client, api_key, claim)).json())["id"]
    async with client.app[ENGINE].connect() as conn:
        raw = (
            await conn.execute(select(claims.c.payload).where(claims.c.id == claim_id))
        ).scalar_one()
        opened = await store.claim_payload(conn, client.app[SEALER], claim_id)
    assert opened["patient"]["first_name"] == "QUINN"
    for phi in ("EXAMPLEPARENT", "QUINN", "SIMD00042", "2015-06-01", "FICTION AVENUE", "GRP2002"):
        assert phi.encode() not in raw
    assert raw[0] == 1 and not raw.startswith(b"{") and len(raw) > 100  # format byte, not JSON


async def test_idempotency_key_replays_and_conflicts(client: Any, api_key: str) -> None:
    first = await post_claim(client, api_key, OFFICE, **{"Idempotency-Key": "batch-7-claim-1"})
    # Same content with other whitespace and key order is the same request.
    again = await client.post(
        "/v1/claims",
        data=json.dumps(dict(reversed(list(OFFICE.items()))), indent=4),
        headers=auth(
            api_key, **{"Content-Type": "application/json", "Idempotency-Key": "batch-7-claim-1"}
        ),
    )
    assert again.status == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == (await first.json())["id"]
    assert await count(client, claims) == 1

    changed = copy.deepcopy(OFFICE)
    changed["patient_control_number"] = "PCN-OTHER"
    conflict = await post_claim(client, api_key, changed, **{"Idempotency-Key": "batch-7-claim-1"})
    assert conflict.status == 409
    problem = await conflict.json()
    assert problem["claim_id"] == (await first.json())["id"]
    assert problem["rejection_id"]
    assert await count(client, claims) == 1
    assert await count(client, intake_rejections) == 1

    # The same key used by another submitter is independent.
    _, other_key = await new_submitter(client)
    other = await post_claim(client, other_key, OFFICE, **{"Idempotency-Key": "batch-7-claim-1"})
    assert other.status == 202 and "Idempotent-Replayed" not in other.headers


async def test_without_idempotency_key_each_post_is_a_new_claim(client: Any, api_key: str) -> None:
    await post_claim(client, api_key, OFFICE)
    await post_claim(client, api_key, OFFICE)
    assert await count(client, claims) == 2


async def test_tenant_isolation(client: Any, api_key: str) -> None:
    claim_id = (await (await post_claim(client, api_key, OFFICE)).json())["id"]
    _, other_key = await new_submitter(client)
    for path in (f"/v1/claims/{claim_id}", f"/v1/claims/{claim_id}/events"):
        response = await client.get(path, headers=auth(other_key))
        assert response.status == 404
        assert response.content_type == "application/problem+json"
        # Indistinguishable from a claim that does not exist at all.
        missing = await client.get(path.replace(claim_id, "no-such-claim"), headers=auth(other_key))
        assert (await response.json())["title"] == (await missing.json())["title"]
    listing = await (await client.get("/v1/claims", headers=auth(other_key))).json()
    assert listing["items"] == []


async def test_list_filters_and_cursor_pagination(client: Any, api_key: str) -> None:
    ids = []
    for n in range(5):
        claim = copy.deepcopy(OFFICE)
        claim["patient_control_number"] = f"PCN-{n}"
        claim["payer"]["payer_id"] = "SIMCOM01" if n % 2 == 0 else "SIMCOM02"
        for line in claim["service_lines"]:
            line["service_date"] = f"2026-10-0{n + 1}"
        ids.append((await (await post_claim(client, api_key, claim)).json())["id"])

    seen, cursor = [], None
    while True:
        query = "/v1/claims?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(query, headers=auth(api_key))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    async def listed(query: str) -> list[str]:
        page = await (await client.get(f"/v1/claims?{query}", headers=auth(api_key))).json()
        return sorted(item["patient_control_number"] for item in page["items"])

    assert await listed("payer_id=SIMCOM02") == ["PCN-1", "PCN-3"]
    assert await listed("patient_control_number=PCN-4") == ["PCN-4"]
    assert await listed("service_date_from=2026-10-02&service_date_to=2026-10-03") == [
        "PCN-1",
        "PCN-2",
    ]
    assert await listed("status=received") == [f"PCN-{n}" for n in range(5)]
    assert await listed("status=paid,denied") == []
    summary = (await (await client.get("/v1/claims", headers=auth(api_key))).json())["items"][0]
    assert "claim" not in summary  # listings carry no PHI payload


async def test_bad_query_parameters_are_listed(client: Any, api_key: str) -> None:
    response = await client.get(
        "/v1/claims?status=lost&limit=0&service_date_from=yesterday&cursor=zzz&colour=red",
        headers=auth(api_key),
    )
    assert response.status == 400
    problem = await response.json()
    assert {e["parameter"] for e in problem["errors"]} == {
        "status",
        "limit",
        "service_date_from",
        "cursor",
        "colour",
    }


async def assert_rejected(
    client: Any, response: Any, status: int, *, stored_body: bytes | None
) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == status and problem["detail"]
    assert "Traceback" not in json.dumps(problem)
    assert await count(client, claims) == 0
    assert await count(client, jobs) == 0
    async with client.app[ENGINE].connect() as conn:
        row = (
            await conn.execute(
                select(intake_rejections).where(intake_rejections.c.id == problem["rejection_id"])
            )
        ).one()
        body = await store.rejection_body(conn, client.app[SEALER], row.id)
    assert body == stored_body
    assert row.reason == problem["type"].rsplit("/", 1)[-1]
    return problem


async def test_malformed_json(client: Any, api_key: str) -> None:
    body = b'{"claim_type": "professional",\n "total_charge": }'
    response = await client.post(
        "/v1/claims", data=body, headers=auth(api_key, **{"Content-Type": "application/json"})
    )
    problem = await assert_rejected(client, response, 400, stored_body=body)
    assert "line 2, column 18" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests"),  # past the decoder's recursion limit
        (b'{"total_charge": ' + b"1" * 5000 + b"}", "too many digits"),  # int digit limit
    ],
)
async def test_json_the_decoder_cannot_take(
    client: Any, api_key: str, body: bytes, said: str
) -> None:
    for path in ("/v1/claims", "/v1/claims/batch"):
        response = await client.post(
            path, data=body, headers=auth(api_key, **{"Content-Type": "application/json"})
        )
        problem = await assert_rejected(client, response, 400, stored_body=body)
        assert said in json.dumps(problem)


async def test_a_key_with_a_byte_that_is_not_text_is_just_not_valid(client: Any) -> None:
    # aiohttp keeps the byte as a surrogate; it must not reach the key's hashing as text.
    request = (
        b"GET /v1/payers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\r\n"
        b"Connection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"Traceback" not in answer


async def test_non_utf8(client: Any, api_key: str) -> None:
    body = b'{"claim_type": "profession\xe9al"}'
    response = await client.post(
        "/v1/claims", data=body, headers=auth(api_key, **{"Content-Type": "application/json"})
    )
    problem = await assert_rejected(client, response, 400, stored_body=body)
    assert "UTF-8" in problem["detail"] and "offset 26" in problem["detail"]


async def test_schema_errors_listed_by_pointer(client: Any, api_key: str) -> None:
    claim = copy.deepcopy(OFFICE)
    claim["total_charge"] = 225
    claim["billing_provider"]["npi"] = "123"
    del claim["subscriber"]["member_id"]
    claim["nickname"] = "x"
    response = await post_claim(client, api_key, claim)
    problem = await assert_rejected(client, response, 422, stored_body=json.dumps(claim).encode())
    assert {e["pointer"] for e in problem["errors"]} == {
        "/total_charge",
        "/billing_provider/npi",
        "/subscriber/member_id",
        "/nickname",
    }


async def test_wrong_types_and_not_an_object(client: Any, api_key: str) -> None:
    response = await post_claim(client, api_key, ["not", "a", "claim"])
    problem = await assert_rejected(client, response, 422, stored_body=b'["not", "a", "claim"]')
    assert problem["errors"] == [{"pointer": "", "message": "must be an object"}]


async def test_wrong_content_type(client: Any, api_key: str) -> None:
    body = json.dumps(OFFICE).encode()
    response = await client.post(
        "/v1/claims", data=body, headers=auth(api_key, **{"Content-Type": "text/plain"})
    )
    await assert_rejected(client, response, 415, stored_body=body)


async def test_oversized_body(client: Any, api_key: str) -> None:
    body = b'{"pad": "' + b"x" * (300 * 1024) + b'"}'
    response = await client.post(
        "/v1/claims", data=body, headers=auth(api_key, **{"Content-Type": "application/json"})
    )
    problem = await assert_rejected(client, response, 413, stored_body=None)
    assert "262144-byte limit" in problem["detail"]
    async with client.app[ENGINE].connect() as conn:
        size = (await conn.execute(select(intake_rejections.c.body_size))).scalar_one()
    assert size == len(body)


async def test_bad_idempotency_key(client: Any, api_key: str) -> None:
    response = await post_claim(client, api_key, OFFICE, **{"Idempotency-Key": "has space"})
    problem = await assert_rejected(client, response, 400, stored_body=json.dumps(OFFICE).encode())
    assert problem["errors"][0]["header"] == "Idempotency-Key"


async def test_missing_and_wrong_api_keys(client: Any, api_key: str) -> None:
    for headers in ({}, {"Authorization": "Bearer cw_wrong"}, {"Authorization": "Basic abc"}):
        response = await client.post(
            "/v1/claims",
            data=json.dumps(OFFICE),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await client.get("/v1/claims", headers=headers)).status == 401
    assert await count(client, claims) == 0
    # Unauthenticated bodies are not stored: they belong to no submitter.
    assert await count(client, intake_rejections) == 0


async def test_unknown_route_and_method_are_problems(client: Any, api_key: str) -> None:
    response = await client.get("/v1/nothing", headers=auth(api_key))
    assert response.status == 404 and response.content_type == "application/problem+json"
    response = await client.delete("/v1/claims", headers=auth(api_key))
    assert response.status == 405 and response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"]


async def test_request_id_is_echoed(client: Any) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert response.headers["X-Request-ID"] == "trace-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id with spaces"


async def test_health_ready_and_metrics(client: Any, api_key: str) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"]["database"] == "ok"
    await post_claim(client, api_key, OFFICE)
    text = await (await client.get("/metrics")).text()
    assert 'clearway_claims_received_total{channel="api",claim_type="professional"} 1.0' in text
    assert 'route="/v1/claims",status="202"' in text


async def test_claims_listed_by_the_day_of_their_last_change(client: Any, api_key: str) -> None:
    from datetime import UTC, datetime, timedelta

    created = await post_claim(client, api_key, OFFICE)
    claim_id = (await created.json())["id"]
    today = datetime.now(UTC).date()
    for query, found in [
        (f"updated_from={today}", [claim_id]),
        (f"updated_to={today}", [claim_id]),
        (f"updated_from={today + timedelta(days=1)}", []),
        (f"updated_to={today - timedelta(days=1)}", []),
        (f"status=received&updated_from={today - timedelta(days=7)}", [claim_id]),
    ]:
        listing = await (await client.get(f"/v1/claims?{query}", headers=auth(api_key))).json()
        assert [c["id"] for c in listing["items"]] == found, query
    bad = await client.get("/v1/claims?updated_from=last-week", headers=auth(api_key))
    assert bad.status == 400
    assert (await bad.json())["errors"][0]["parameter"] == "updated_from"


async def test_a_claim_sent_under_a_payer_alias_is_listed_under_the_payer(
    client: Any, api_key: str
) -> None:
    claim = copy.deepcopy(OFFICE)
    claim["payer"]["payer_id"] = "SIMCOMA"  # SIMCOM01's alias
    claim_id = (await (await post_claim(client, api_key, claim)).json())["id"]
    for payer_id in ("SIMCOM01", "SIMCOMA"):
        query = f"/v1/claims?payer_id={payer_id}"
        listing = await (await client.get(query, headers=auth(api_key))).json()
        assert [c["id"] for c in listing["items"]] == [claim_id], payer_id


async def test_a_whole_amount_is_answered_with_cents_at_once(client: Any, api_key: str) -> None:
    claim = copy.deepcopy(OFFICE)
    claim["total_charge"] = str(int(float(claim["total_charge"])))  # "225"
    created = await (await post_claim(client, api_key, claim)).json()
    shown = await (await client.get(f"/v1/claims/{created['id']}", headers=auth(api_key))).json()
    assert created["total_charge"] == shown["total_charge"] == "225.00"
