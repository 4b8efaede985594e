"""The scrub step end to end: API intake, worker, SCRUBBED / SCRUB_REJECTED with findings."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import func, select

from gateway.context import ENGINE, PAYERS, SEALER
from gateway.pipeline.scrub import scrub_handler
from gateway.pipeline.worker import Worker
from gateway.settings import WorkerSettings
from gateway.storage.tables import claims, intake_rejections, jobs
from payers.pointer import resolve
from tests.conftest import EXAMPLES, auth, example

ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))


async def submit(client: Any, api_key: str, claim: dict[str, Any]) -> str:
    response = await client.post(
        "/v1/claims",
        data=json.dumps(claim),
        headers=auth(api_key, **{"Content-Type": "application/json"}),
    )
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


async def run_worker(client: Any) -> None:
    app = client.app
    # Only the scrub step: the batch jobs it queues are left for the test to look at.
    worker = Worker(
        app[ENGINE], app[SEALER], {"scrub": scrub_handler(app[PAYERS])}, WorkerSettings()
    )
    await worker.run_until_idle()


async def claim_view(client: Any, api_key: str, claim_id: str) -> dict[str, Any]:
    return dict(await (await client.get(f"/v1/claims/{claim_id}", headers=auth(api_key))).json())


async def test_examples_are_scrubbed_clean_and_queued_for_batching(
    client: Any, api_key: str
) -> None:
    ids = [await submit(client, api_key, example(name)) for name in ALL_EXAMPLES]
    await run_worker(client)
    for claim_id in ids:
        view = await claim_view(client, api_key, claim_id)
        assert view["status"] == "scrubbed", view["findings"]
        assert view["findings"] == []
        events = await (
            await client.get(f"/v1/claims/{claim_id}/events", headers=auth(api_key))
        ).json()
        assert [(e["kind"], e["to_status"]) for e in events["items"]] == [
            ("received", "received"),
            ("scrubbed", "scrubbed"),
        ]
    # One batch job per submitter, payer and claim type, not one per claim.
    groups = set()
    for name in ALL_EXAMPLES:
        claim = example(name)
        groups.add((claim["payer"]["payer_id"], claim["claim_type"]))
    async with client.app[ENGINE].connect() as conn:
        batch_jobs = (
            await conn.execute(
                select(jobs.c.claim_id, jobs.c.payload).where(jobs.c.kind == "batch")
            )
        ).all()
    assert all(claim_id is None for claim_id, _ in batch_jobs)
    assert sorted((p["payer_id"], p["claim_type"]) for _, p in batch_jobs) == sorted(groups)


async def test_an_error_finding_rejects_with_a_pointer_that_resolves(
    client: Any, api_key: str
) -> None:
    claim = example("professional-office-visit.json")
    claim["billing_provider"]["npi"] = "1234567890"  # fails the NPI check digit
    claim["service_lines"][1]["service_date"] = "2099-01-05"  # in the future
    claim_id = await submit(client, api_key, claim)
    await run_worker(client)
    view = await claim_view(client, api_key, claim_id)
    assert view["status"] == "scrub_rejected"
    codes = {f["code"]: f for f in view["findings"]}
    assert codes["NPI_CHECK_DIGIT"]["pointer"] == "/billing_provider/npi"
    assert codes["NPI_CHECK_DIGIT"]["severity"] == "error"
    assert codes["SERVICE_DATE_FUTURE"]["pointer"] == "/service_lines/1/service_date"
    for finding in view["findings"]:
        resolve(claim, finding["pointer"])  # raises if the pointer names nothing
        assert finding["message"]
    async with client.app[ENGINE].connect() as conn:
        assert (
            await conn.execute(select(func.count()).select_from(jobs).where(jobs.c.kind == "batch"))
        ).scalar_one() == 0


async def test_reused_control_number_and_likely_duplicate(client: Any, api_key: str) -> None:
    office = example("professional-office-visit.json")
    first = await submit(client, api_key, office)
    await run_worker(client)
    again = await submit(client, api_key, office)
    renamed = copy.deepcopy(office)
    renamed["patient_control_number"] = "PCN-2026-0999"
    likely = await submit(client, api_key, renamed)
    await run_worker(client)

    reused = await claim_view(client, api_key, again)
    assert reused["status"] == "scrub_rejected"
    (finding,) = [f for f in reused["findings"] if f["code"] == "DUPLICATE_CONTROL_NUMBER"]
    assert first in finding["message"]

    warned = await claim_view(client, api_key, likely)
    assert warned["status"] == "scrubbed"
    warnings = [f for f in warned["findings"] if f["code"] == "LIKELY_DUPLICATE"]
    assert all(w["severity"] == "warning" for w in warnings)
    assert any(first in w["message"] for w in warnings)


async def test_twins_sent_together_do_not_reject_each_other_twice(
    client: Any, api_key: str
) -> None:
    office = example("professional-office-visit.json")
    first = await submit(client, api_key, office)
    second = await submit(client, api_key, office)
    await run_worker(client)
    statuses = [(await claim_view(client, api_key, i))["status"] for i in (first, second)]
    assert statuses == ["scrubbed", "scrub_rejected"]


async def test_validate_checks_everything_and_stores_nothing(client: Any, api_key: str) -> None:
    headers = auth(api_key, **{"Content-Type": "application/json"})
    for name in ALL_EXAMPLES:
        good = await client.post(
            "/v1/claims/validate", data=json.dumps(example(name)), headers=headers
        )
        assert good.status == 200
        body = await good.json()
        assert (body["valid"], body["findings"], body["errors"]) == (True, [], 0)
        # The 837 that would be sent, checked by pyx12.
        assert body["x12"]["text"].startswith("ISA*")
        assert body["x12"]["pyx12_valid"] is True, body["x12"]["issues"]
        assert example(name)["patient_control_number"] in body["x12"]["text"]

    claim = example("professional-office-visit.json")
    claim["diagnoses"] = [{"code": "J20"}]  # a category header, not billable
    bad = await (
        await client.post("/v1/claims/validate", data=json.dumps(claim), headers=headers)
    ).json()
    assert bad["valid"] is False and bad["x12"] is None
    assert [(f["code"], f["pointer"]) for f in bad["findings"]] == [
        ("ICD10_NOT_BILLABLE", "/diagnoses/0/code")
    ]

    invalid = await client.post("/v1/claims/validate", data=b"{", headers=headers)
    assert invalid.status == 400
    async with client.app[ENGINE].connect() as conn:
        for table in (claims, intake_rejections, jobs):
            assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def test_payers_lists_every_profile_with_requirements(client: Any, api_key: str) -> None:
    listing = await (await client.get("/v1/payers", headers=auth(api_key))).json()
    ids = [p["payer_id"] for p in listing["items"]]
    assert ids == ["SIMCOM01", "SIMCOM02", "SIMMCD01", "SIMMCR01", "SIMWC01"]
    simcom = listing["items"][0]
    assert "27447" in simcom["requirements"]["prior_authorization_codes"]
    assert (await client.get("/v1/payers")).status == 401


async def test_a_payer_without_a_profile_is_rejected(client: Any, api_key: str) -> None:
    claim = example("professional-office-visit.json")
    claim["payer"]["payer_id"] = "SIMXX99"
    claim_id = await submit(client, api_key, claim)
    await run_worker(client)
    view = await claim_view(client, api_key, claim_id)
    assert view["status"] == "scrub_rejected"
    assert [(f["code"], f["pointer"]) for f in view["findings"]] == [
        ("PAYER_UNKNOWN", "/payer/payer_id")
    ]
