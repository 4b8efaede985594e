"""POST /v1/claims/batch on SQLite and PostgreSQL: each claim checked on its own, the batch
kept as received, retries answered from the first time, and refusals stored."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from typing import Any

from sqlalchemy import func, select

from gateway.app import create_app
from gateway.context import ENGINE, SEALER
from gateway.intake.claim_schema import claim_errors
from gateway.settings import Settings
from gateway.storage import claims as store
from gateway.storage.tables import claim_batches, claim_events, claims, intake_rejections, jobs
from tests.conftest import auth, example, new_submitter
from tests.integration.test_scrub_pipeline import run_worker

OFFICE = example("professional-office-visit.json")
OUTPATIENT = example("institutional-outpatient.json")


def three_claims() -> list[dict[str, Any]]:
    """An office visit, the same visit with its first line's procedure missing, an outpatient
    claim; each with its own patient control number."""
    first = copy.deepcopy(OFFICE)
    broken = copy.deepcopy(OFFICE)
    broken["patient_control_number"] = "BATCH-BROKEN"
    del broken["service_lines"][0]["procedure"]
    broken["billing_provider"]["npi"] = "123"
    third = copy.deepcopy(OUTPATIENT)
    return [first, broken, third]


async def post_batch(client: Any, api_key: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        "/v1/claims/batch",
        data=data,
        headers=auth(api_key, **{"Content-Type": "application/json", **headers}),
    )


async def count(client: Any, table: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_each_claim_is_answered_and_the_valid_ones_are_received(
    client: Any, api_key: str
) -> None:
    sent = three_claims()
    body = json.dumps({"claims": sent}, indent=2).encode()
    response = await post_batch(client, api_key, body)
    assert response.status == 202, await response.text()
    answer = await response.json()
    assert answer["claims"] == {"read": 3, "accepted": 2, "rejected": 1}
    first, broken, third = answer["claim_results"]
    assert first["status"] == third["status"] == "received"
    assert first["index"] == 0 and third["index"] == 2
    assert first["patient_control_number"] == OFFICE["patient_control_number"]
    assert first["links"]["self"] == f"/v1/claims/{first['id']}"
    # The same problems a single POST names, under the claim's place in the batch.
    assert broken == {
        "index": 1,
        "status": "invalid",
        "errors": [
            {"pointer": "/claims/1" + e["pointer"], "message": e["message"]}
            for e in claim_errors(sent[1])
        ],
    }
    assert {"/claims/1/billing_provider/npi", "/claims/1/service_lines/0/procedure"} == {
        e["pointer"] for e in broken["errors"]
    }

    # The accepted claims read back like single ones, and each has its scrub job.
    got = await client.get(first["links"]["self"], headers=auth(api_key))
    assert got.status == 200
    assert (await got.json())["claim"]["patient_control_number"] == OFFICE["patient_control_number"]
    async with client.app[ENGINE].connect() as conn:
        queued = (await conn.execute(select(jobs.c.kind, jobs.c.claim_id))).all()
        details = (await conn.execute(select(claim_events.c.detail))).scalars().all()
        batch = (await conn.execute(select(claim_batches))).one()
        stored = await store.claim_batch_body(conn, client.app[SEALER], batch.id)
    assert sorted(queued) == sorted([("scrub", first["id"]), ("scrub", third["id"])])
    assert details == [{"channel": "api", "batch_id": answer["batch_id"]}] * 2
    # The whole request is kept as it came, sealed, with the answer given.
    assert stored == body
    assert OFFICE["subscriber"]["member_id"].encode() not in batch.body
    assert (batch.claims_read, batch.claims_accepted, batch.claims_rejected) == (3, 2, 1)
    assert batch.results[1]["errors"] == broken["errors"]
    assert await count(client, intake_rejections) == 0

    # The scrub step takes them from there, as it does single claims.
    await run_worker(client)
    for result in (first, third):
        view = await (await client.get(result["links"]["self"], headers=auth(api_key))).json()
        assert view["status"] == "scrubbed", view["findings"]


async def test_a_retried_batch_creates_nothing_twice(client: Any, api_key: str) -> None:
    batch = {"claims": three_claims()}
    first = await post_batch(client, api_key, batch, **{"Idempotency-Key": "eod-2026-11-23"})
    assert first.status == 202 and "Idempotent-Replayed" not in first.headers
    # The same content with other spacing and key order is the same request.
    again = await post_batch(
        client,
        api_key,
        json.dumps({"claims": [dict(reversed(list(c.items()))) for c in batch["claims"]]}).encode(),
        **{"Idempotency-Key": "eod-2026-11-23"},
    )
    assert again.status == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert await count(client, claims) == 2
    assert await count(client, jobs) == 2
    assert await count(client, claim_batches) == 1

    changed = copy.deepcopy(batch)
    changed["claims"].pop(1)
    conflict = await post_batch(client, api_key, changed, **{"Idempotency-Key": "eod-2026-11-23"})
    assert conflict.status == 409
    problem = await conflict.json()
    assert problem["batch_id"] == (await first.json())["batch_id"]
    assert problem["rejection_id"]
    assert await count(client, claims) == 2
    assert await count(client, intake_rejections) == 1

    # Batch keys and single-claim keys are separate, as are other submitters' keys.
    single = await client.post(
        "/v1/claims",
        data=json.dumps(OFFICE),
        headers=auth(
            api_key, **{"Content-Type": "application/json", "Idempotency-Key": "eod-2026-11-23"}
        ),
    )
    assert single.status == 202 and "Idempotent-Replayed" not in single.headers
    _, other_key = await new_submitter(client)
    other = await post_batch(client, other_key, batch, **{"Idempotency-Key": "eod-2026-11-23"})
    assert other.status == 202 and "Idempotent-Replayed" not in other.headers


async def test_concurrent_retries_create_the_claims_once(client: Any, api_key: str) -> None:
    batch = {"claims": three_claims()}
    answers = await asyncio.gather(
        *(post_batch(client, api_key, batch, **{"Idempotency-Key": "twice"}) for _ in range(3))
    )
    assert [a.status for a in answers] == [202, 202, 202]
    bodies = [await a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert sum("Idempotent-Replayed" in a.headers for a in answers) == 2
    assert await count(client, claims) == 2
    assert await count(client, claim_batches) == 1


async def test_a_batch_of_only_invalid_claims_is_kept_and_answered(
    client: Any, api_key: str
) -> None:
    response = await post_batch(client, api_key, {"claims": [{"claim_type": "dental"}, 7]})
    assert response.status == 202
    answer = await response.json()
    assert answer["claims"] == {"read": 2, "accepted": 0, "rejected": 2}
    pointers = {e["pointer"] for r in answer["claim_results"] for e in r["errors"]}
    assert {"/claims/0/claim_type", "/claims/0/submitter", "/claims/1"} <= pointers
    assert await count(client, claims) == 0
    assert await count(client, jobs) == 0
    assert await count(client, claim_batches) == 1


async def assert_refused(client: Any, response: Any, status: int, body: bytes | None) -> Any:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    async with client.app[ENGINE].connect() as conn:
        row = (
            await conn.execute(
                select(intake_rejections).where(intake_rejections.c.id == problem["rejection_id"])
            )
        ).one()
        stored = await store.rejection_body(conn, client.app[SEALER], row.id)
    assert stored == body
    assert row.reason == problem["type"].rsplit("/", 1)[-1]
    assert await count(client, claims) == 0
    assert await count(client, claim_batches) == 0
    return problem


async def test_bodies_that_are_not_a_batch_are_refused_and_stored(
    client: Any, api_key: str
) -> None:
    cases: list[tuple[bytes, int, list[dict[str, str]] | None]] = [
        (b'{"claims": [', 400, None),
        (b"[]", 422, [{"pointer": "", "message": 'must be an object: {"claims": [...]}'}]),
        (b"{}", 422, [{"pointer": "/claims", "message": "is required"}]),
        (b'{"claims": {}}', 422, [{"pointer": "/claims", "message": "must be an array"}]),
        (b'{"claims": []}', 422, [{"pointer": "/claims", "message": "must have at least 1 item"}]),
        (
            b'{"claims": [{}], "note": 1}',
            422,
            [{"pointer": "/note", "message": "is not a known field"}],
        ),
    ]
    for body, status, errors in cases:
        problem = await assert_refused(
            client, await post_batch(client, api_key, body), status, body
        )
        if errors is not None:
            assert problem["errors"] == errors
            assert problem["type"] == "/problems/invalid-batch"

    body = json.dumps({"claims": [OFFICE]}).encode()
    response = await client.post(
        "/v1/claims/batch", data=body, headers=auth(api_key, **{"Content-Type": "text/csv"})
    )
    await assert_refused(client, response, 415, body)


async def test_too_many_claims_and_too_large_a_body(
    aiohttp_client: Any, settings: Settings
) -> None:
    server = dataclasses.replace(settings.server, max_batch_claims=2)
    client = await aiohttp_client(create_app(dataclasses.replace(settings, server=server)))
    _, api_key = await new_submitter(client)
    body = json.dumps({"claims": [OFFICE] * 3}).encode()
    problem = await assert_refused(client, await post_batch(client, api_key, body), 422, body)
    assert problem["errors"][0]["pointer"] == "/claims"
    assert "at most 2 items" in problem["errors"][0]["message"]

    large = json.dumps({"claims": [OFFICE] * 200}).encode()  # past the tests' 256 KiB
    problem = await assert_refused(client, await post_batch(client, api_key, large), 413, None)
    assert "262144-byte limit" in problem["detail"]


async def test_the_readme_batch_example_answers_as_the_readme_says(
    client: Any, api_key: str
) -> None:
    from tests.conftest import EXAMPLES

    body = json.loads((EXAMPLES / "batches" / "eod-batch.json").read_text())
    response = await post_batch(client, api_key, body, **{"Idempotency-Key": "eod-2026-11-23"})
    assert response.status == 202
    answer = await response.json()
    assert answer["claims"] == {"read": 2, "accepted": 1, "rejected": 1}
    first, second = answer["claim_results"]
    assert (first["index"], first["status"]) == (0, "received") and first["links"]["self"]
    assert second == {
        "index": 1,
        "status": "invalid",
        "errors": [{"pointer": "/claims/1/service_lines/0/procedure", "message": "is required"}],
    }
