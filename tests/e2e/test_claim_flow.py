"""Claims from JSON to their final status through the in-process payer simulator.

The gateway app is served for real (the simulator is reached over HTTP at /simulator), and
workers run in the test's event loop. Payer profiles are the shipped ones with their response
delays set to zero, so outcomes come as fast as the worker can poll.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from edi.read_835 import read_835
from edi.validate import AckControl, validate
from gateway.app import create_app
from gateway.context import DELIVERY, ENGINE, PAYERS, SEALER, SETTINGS
from gateway.pipeline.poll import ensure_polls
from gateway.pipeline.steps import step_handlers
from gateway.pipeline.worker import Worker
from gateway.settings import PayersSettings, Settings, SimulatorSettings
from gateway.storage import interchanges as ix
from gateway.storage.tables import interchanges, submitters
from gateway.storage.tables import jobs as jobs_table
from tests.conftest import auth, example, new_submitter
from tests.e2e.support import FINAL, predicted, varied_claims, write_fast_profiles

CLAIMS = 120  # 1,000 run in benchmarks/bench_e2e.py


@pytest.fixture
def fast_profiles(tmp_path: Path) -> Path:
    return write_fast_profiles(tmp_path / "profiles")


@pytest.fixture
def flow_settings(settings: Settings, fast_profiles: Path, tmp_path: Path) -> Settings:
    return Settings(
        server=settings.server,
        database=settings.database,
        crypto=settings.crypto,
        logging=settings.logging,
        worker=settings.worker,
        payers=PayersSettings(profiles_dir=str(fast_profiles)),
        x12=settings.x12,
        simulator=SimulatorSettings(data_dir=str(tmp_path / "simulator")),
        sftp=settings.sftp,
    )


@pytest.fixture
async def gateway(aiohttp_client: Any, flow_settings: Settings) -> Any:
    client = await aiohttp_client(create_app(flow_settings))
    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    return client


async def drive(client: Any, done: Callable[[], Awaitable[bool]], *, seconds: float = 120) -> None:
    """Run the pipeline's steps in this event loop until `done()` is true."""
    app = client.app
    settings = app[SETTINGS]
    handlers = step_handlers(settings, app[PAYERS], app[DELIVERY])
    worker = Worker(app[ENGINE], app[SEALER], handlers, settings.worker)
    await ensure_polls(app[ENGINE], app[PAYERS])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not (await done() and await _only_polls_left(app)):
        assert loop.time() < deadline, "claims did not reach a final status in time"
        if await worker.run_once() == 0:
            await asyncio.sleep(0.05)


async def _only_polls_left(app: Any) -> bool:
    async with app[ENGINE].connect() as conn:
        pending = await conn.execute(
            select(jobs_table.c.kind).where(jobs_table.c.state.in_(["ready", "running"]))
        )
        return set(pending.scalars()) <= {"poll"}


async def submit(client: Any, api_key: str, claim: dict[str, Any]) -> str:
    response = await client.post(
        "/v1/claims",
        data=json.dumps(claim),
        headers=auth(api_key, **{"Content-Type": "application/json"}),
    )
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


async def get(client: Any, api_key: str, path: str) -> Any:
    response = await client.get(path, headers=auth(api_key))
    assert response.status == 200, await response.text()
    return await response.json()


async def all_final(client: Any, api_key: str, ids: list[str]) -> bool:
    for claim_id in ids:
        if (await get(client, api_key, f"/v1/claims/{claim_id}"))["status"] not in FINAL:
            return False
    return True


async def outbound_837s(client: Any) -> list[str]:
    async with client.app[ENGINE].connect() as conn:
        ids = (
            await conn.execute(
                select(interchanges.c.id).where(interchanges.c.direction == ix.OUTBOUND)
            )
        ).scalars()
        return [
            (await ix.interchange_body(conn, client.app[SEALER], i)).decode() for i in list(ids)
        ]


@pytest.mark.parametrize(
    ("name", "pcn"),
    [
        # Acute bronchitis: J20.9, established patient visit 99213, chest X-ray 71046.
        ("professional-office-visit.json", "PCN-2026-0004"),
        # Pre-operative clearance: Z01.818 first, then the knee arthritis behind the surgery.
        ("preoperative-clearance.json", "PCN-2026-0006"),
    ],
)
async def test_worked_scenario_to_paid_with_patient_share(
    gateway: Any, name: str, pcn: str
) -> None:
    _, api_key = await new_submitter(gateway)
    claim = example(name)
    assert claim["patient_control_number"] == pcn
    claim_id = await submit(gateway, api_key, claim)
    await drive(gateway, lambda: all_final(gateway, api_key, [claim_id]))

    view = await get(gateway, api_key, f"/v1/claims/{claim_id}")
    assert view["status"] == "paid"
    assert view["payer_claim_number"]
    (sent,) = await outbound_837s(gateway)
    report = validate(sent, AckControl(1, 1, 1, datetime.now(UTC)))
    assert report.ok, report.issues
    assert f"CLM*{pcn}*" in sent

    remittance = await get(gateway, api_key, f"/v1/claims/{claim_id}/remittance")
    share = remittance["patient_responsibility"]
    assert Decimal(share["total"]) > 0
    assert {r["reason"] for r in share["by_reason"]} <= {"1", "2", "3"}
    assert any(r["reason_meaning"] != "unknown code" for r in share["by_reason"])
    charge = Decimal(remittance["total_charge"])
    adjusted = sum(Decimal(a["amount"]) for a in remittance["adjustments"])
    assert Decimal(remittance["paid"]) == charge - adjusted  # 835 balancing, as shown

    events = await get(gateway, api_key, f"/v1/claims/{claim_id}/events")
    kinds = [e["kind"] for e in events["items"]]
    assert kinds[:4] == ["received", "scrubbed", "translated", "submitted"]
    # One poll collects the 277CA and the 835 (no delays here): applied in that order.
    answers = [k for k in kinds if k.startswith(("999_", "277ca_", "835_"))]
    assert answers == ["999_accepted", "277ca_a2", "835_paid"], kinds
    a2 = next(e for e in events["items"] if e["kind"] == "277ca_a2")
    assert (a2["from_status"], a2["to_status"]) == ("accepted", "acknowledged")
    # The history says why, as the remittance does.
    paid = next(e for e in events["items"] if e["kind"] == "835_paid")
    said = {(r["group"], r["reason"], r["amount"]) for r in paid["detail"]["reasons"]}
    assert said == {(a["group"], a["reason"], a["amount"]) for a in remittance["adjustments"]}
    assert all(r["reason_meaning"] != "unknown code" for r in paid["detail"]["reasons"])


async def test_many_claims_reach_the_predicted_status(gateway: Any) -> None:
    _, api_key = await new_submitter(gateway)
    claims = varied_claims(CLAIMS)
    ids = [await submit(gateway, api_key, claim) for claim in claims]
    await drive(gateway, lambda: all_final(gateway, api_key, ids), seconds=600)

    profiles = gateway.app[PAYERS]
    paid_total = Decimal(0)
    for claim, claim_id in zip(claims, ids, strict=True):
        view = await get(gateway, api_key, f"/v1/claims/{claim_id}")
        assert view["status"] == predicted(claim, profiles), (claim["patient_control_number"], view)
        kinds = [
            e["kind"]
            for e in (await get(gateway, api_key, f"/v1/claims/{claim_id}/events"))["items"]
        ]
        assert kinds[:4] == ["received", "scrubbed", "translated", "submitted"], kinds
        assert "999_accepted" in kinds and any(k.startswith("277ca_") for k in kinds)
        if view["status"] != "payer_rejected":
            paid_total += Decimal(
                (await get(gateway, api_key, f"/v1/claims/{claim_id}/remittance"))["paid"]
            )

    # What the claims show as paid is what the 835s paid.
    async with gateway.app[ENGINE].connect() as conn:
        rows = (
            await conn.execute(
                select(interchanges.c.id).where(
                    interchanges.c.direction == ix.INBOUND, interchanges.c.state == ix.APPLIED
                )
            )
        ).scalars()
        bodies = [await ix.interchange_body(conn, gateway.app[SEALER], i) for i in list(rows)]
    remitted = sum(
        (r.payment.amount for body in bodies if b"*835*" in body for r in read_835(body)),
        Decimal(0),
    )
    assert paid_total == remitted


async def test_no_phi_in_logs_along_the_whole_pipeline(gateway: Any, caplog: Any) -> None:
    from structlog.testing import capture_logs

    caplog.set_level("DEBUG")
    _, api_key = await new_submitter(gateway)
    claim = example("professional-secondary.json")
    with capture_logs() as events:
        claim_id = await submit(gateway, api_key, claim)
        await drive(gateway, lambda: all_final(gateway, api_key, [claim_id]))
    kinds = {e["event"] for e in events}
    assert {"claim_scrubbed", "interchange_built", "interchange_sent", "response_applied"} <= kinds
    logged = json.dumps(events, default=str) + caplog.text
    for phi in (
        claim["subscriber"]["last_name"],
        claim["patient"]["first_name"],
        claim["subscriber"]["member_id"],
        claim["patient"]["birth_date"],
        claim["subscriber"]["birth_date"].replace("-", ""),
        claim["subscriber"]["address"]["line1"],
        claim["other_payers"][0]["subscriber"]["member_id"],
    ):
        assert phi not in logged, phi


async def test_a_void_takes_the_payment_back_and_a_replacement_is_paid_instead(
    gateway: Any,
) -> None:
    _, api_key = await new_submitter(gateway)
    originals = []
    for pcn in ("PCN-2026-0004", "PCN-2026-0014"):
        claim = example("professional-office-visit.json")
        claim["patient_control_number"] = pcn
        originals.append((claim, await submit(gateway, api_key, claim)))
    await drive(gateway, lambda: all_final(gateway, api_key, [i for _, i in originals]))
    corrections = []
    for (claim, claim_id), (suffix, frequency) in zip(
        originals, [("V", "8"), ("R", "7")], strict=True
    ):
        view = await get(gateway, api_key, f"/v1/claims/{claim_id}")
        assert view["status"] == "paid", view
        correction = {
            **claim,
            "patient_control_number": claim["patient_control_number"] + suffix,
            "frequency_code": frequency,
            "payer_claim_number": view["payer_claim_number"],
        }
        corrections.append(await submit(gateway, api_key, correction))

    async def settled() -> bool:
        views = [await get(gateway, api_key, f"/v1/claims/{i}") for _, i in originals]
        return all(v["status"] == "reversed" for v in views) and await all_final(
            gateway, api_key, corrections[1:]
        )

    await drive(gateway, settled)
    for _, claim_id in originals:
        remittance = await get(gateway, api_key, f"/v1/claims/{claim_id}/remittance")
        assert remittance["paid"] == "0.00"  # paid, then taken back
    void = await get(gateway, api_key, f"/v1/claims/{corrections[0]}")
    # The payer took the original's payment back: the void is done, and says so.
    assert void["status"] == "voided"
    events = await get(gateway, api_key, f"/v1/claims/{corrections[0]}/events")
    assert events["items"][-1]["kind"] == "voided"
    assert events["items"][-1]["detail"]["original_claim_id"] == originals[0][1]
    replacement = await get(gateway, api_key, f"/v1/claims/{corrections[1]}")
    assert replacement["status"] in ("paid", "partially_paid", "denied")
    # Each correction and its original lead to each other.
    for (_, original_id), correction_id, frequency in zip(
        originals, corrections, ("8", "7"), strict=True
    ):
        view = await get(gateway, api_key, f"/v1/claims/{correction_id}")
        assert view["corrects_claim_id"] == original_id
        original = await get(gateway, api_key, f"/v1/claims/{original_id}")
        assert original["corrected_by"] == [
            {"id": correction_id, "frequency_code": frequency, "status": view["status"]}
        ]


async def test_a_correction_naming_another_submitters_claim_is_refused(gateway: Any) -> None:
    """Practice B learns the payer's claim number of practice A's paid claim and sends a void
    (and a replacement) naming it: the gateway refuses both at the scrub, pointing at
    payer_claim_number, and A's payment stays where it is."""
    _, key_a = await new_submitter(gateway, "Practice A")
    _, key_b = await new_submitter(gateway, "Practice B")
    claim = example("professional-office-visit.json")
    paid_id = await submit(gateway, key_a, claim)
    await drive(gateway, lambda: all_final(gateway, key_a, [paid_id]))
    paid = await get(gateway, key_a, f"/v1/claims/{paid_id}")
    assert paid["status"] == "paid" and paid["payer_claim_number"]
    attempts = []
    for suffix, frequency in (("V", "8"), ("R", "7")):
        attack = {
            **claim,
            "patient_control_number": "PCN-2026-0004" + suffix,
            "frequency_code": frequency,
            "payer_claim_number": paid["payer_claim_number"],
        }
        attempts.append(await submit(gateway, key_b, attack))
    await drive(gateway, lambda: all_final(gateway, key_b, attempts))
    for attempt in attempts:
        view = await get(gateway, key_b, f"/v1/claims/{attempt}")
        assert view["status"] == "scrub_rejected"
        assert view["corrects_claim_id"] is None
        (finding,) = [f for f in view["findings"] if f["code"] == "CORRECTION_ORIGINAL_UNKNOWN"]
        assert finding["pointer"] == "/payer_claim_number"
    after = await get(gateway, key_a, f"/v1/claims/{paid_id}")
    assert after["status"] == "paid" and after["corrected_by"] == []
    remittance = await get(gateway, key_a, f"/v1/claims/{paid_id}/remittance")
    assert remittance["paid"] == "104.00"
    # Checking it first (POST /v1/claims/validate) says the same, storing nothing.
    response = await gateway.post(
        "/v1/claims/validate",
        data=json.dumps(
            {
                **claim,
                "frequency_code": "8",
                "payer_claim_number": paid["payer_claim_number"],
                "patient_control_number": "PCN-2026-0004X",
            }
        ),
        headers=auth(key_b, **{"Content-Type": "application/json"}),
    )
    checked = await response.json()
    assert checked["valid"] is False
    assert "CORRECTION_ORIGINAL_UNKNOWN" in [f["code"] for f in checked["findings"]]


async def test_two_practices_with_the_same_account_number_get_their_own_answers(
    aiohttp_client: Any, flow_settings: Settings, fast_profiles: Path
) -> None:
    """Two submitters send the same CLM01 to the same payer at the same time; the payer does
    not echo the batch reference in its 277CA and gives its claim numbers only there. Each
    practice's claim gets its own 277CA status, its own payment (different amounts) and its
    own answer files; nothing is applied to the wrong claim or held as unmatched."""
    profile = fast_profiles / "SIMCOM01.toml"
    profile.write_text(
        profile.read_text().replace("[simulator]\n", "[simulator]\necho_batch_reference = false\n")
    )
    gateway = await aiohttp_client(create_app(flow_settings))
    gateway.app[DELIVERY].simulator_url = str(gateway.make_url("/simulator"))
    a, key_a = await new_submitter(gateway, "Maple Street")
    b, key_b = await new_submitter(gateway, "Oak Avenue")
    claim_a = example("professional-office-visit.json")
    claim_b = example("professional-office-visit.json")  # same CLM01 PCN-2026-0004
    claim_b["billing_provider"] = {
        **claim_b["billing_provider"],
        "organization_name": "OAK AVENUE PEDIATRICS",
        "npi": "1544332210",
        "tax_id": "222334444",
    }
    claim_b["service_lines"] = claim_b["service_lines"][:1]  # one line: a different payment
    claim_b["total_charge"] = claim_b["service_lines"][0]["charge"]
    id_a = await submit(gateway, key_a, claim_a)
    id_b = await submit(gateway, key_b, claim_b)
    await drive(
        gateway,
        lambda: _both_final(gateway, [(key_a, id_a), (key_b, id_b)]),
    )
    view_a = await get(gateway, key_a, f"/v1/claims/{id_a}")
    view_b = await get(gateway, key_b, f"/v1/claims/{id_b}")
    assert view_a["status"] == view_b["status"] == "paid"
    assert view_a["payer_claim_number"] != view_b["payer_claim_number"]
    paid_a = await get(gateway, key_a, f"/v1/claims/{id_a}/remittance")
    paid_b = await get(gateway, key_b, f"/v1/claims/{id_b}/remittance")
    assert (paid_a["paid"], paid_a["patient_responsibility"]["total"]) == ("104.00", "76.00")
    assert paid_b["total_charge"] == claim_b["total_charge"]
    assert paid_b["paid"] != paid_a["paid"] and len(paid_b["payments"]) == 1
    for key, claim_id in ((key_a, id_a), (key_b, id_b)):
        kinds = [
            e["kind"] for e in (await get(gateway, key, f"/v1/claims/{claim_id}/events"))["items"]
        ]
        assert kinds.count("277ca_a2") == 1 and kinds.count("835_paid") == 1, kinds
    # Each practice's outbox holds the payer's answers for its own claim only.
    for submitter, key, npi in ((a, key_a, "1234567893"), (b, key_b, "1544332210")):
        files = (await get(gateway, key, "/v1/files?direction=outbound"))["items"]
        remits = [f for f in files if f["kind"] == "835"]
        assert remits, submitter.name
        for f in remits:
            body = await gateway.get(f"/v1/files/{f['id']}/content", headers=auth(key))
            (remittance,) = read_835(await body.text())
            assert remittance.payee.npi == npi
    async with gateway.app[ENGINE].connect() as conn:
        states = (
            await conn.execute(
                select(interchanges.c.state).where(interchanges.c.direction == ix.INBOUND)
            )
        ).scalars()
        assert ix.UNMATCHED not in set(states)


async def _both_final(gateway: Any, claims: list[tuple[str, str]]) -> bool:
    return all([await all_final(gateway, key, [claim_id]) for key, claim_id in claims])


async def test_an_answer_that_fits_two_practices_claims_is_held_for_a_person(
    aiohttp_client: Any, flow_settings: Settings, fast_profiles: Path
) -> None:
    """Two submitters send the very same claim (same CLM01, provider, charge and dates) to a
    payer that does not echo the batch reference: its 277CA and 835 fit both, so neither is
    applied to a guess; they wait, unmatched, where an operator sees them."""
    profile = fast_profiles / "SIMCOM01.toml"
    profile.write_text(
        profile.read_text().replace("[simulator]\n", "[simulator]\necho_batch_reference = false\n")
    )
    gateway = await aiohttp_client(create_app(flow_settings))
    gateway.app[DELIVERY].simulator_url = str(gateway.make_url("/simulator"))
    _, key_a = await new_submitter(gateway, "Billing Office One")
    _, key_b = await new_submitter(gateway, "Billing Office Two")
    _, operator = await new_submitter(gateway)
    async with gateway.app[ENGINE].begin() as conn:
        await conn.execute(
            submitters.update().where(submitters.c.name.like("submitter-%")).values(operator=True)
        )
    claim = example("professional-office-visit.json")
    ids = [await submit(gateway, key_a, claim), await submit(gateway, key_b, claim)]

    async def held() -> bool:
        listed = await get(gateway, operator, "/v1/interchanges?unmatched=true")
        return {i["kind"] for i in listed["items"]} >= {"277CA", "835"}

    with capture_logs() as logged:
        await drive(gateway, held)
    applied = [e for e in logged if e["event"] == "response_applied" and e["unmatched"]]
    assert applied and "PCN-2026-0004" not in repr(logged)  # counts, not account numbers
    listed = (await get(gateway, operator, "/v1/interchanges?unmatched=true"))["items"]
    for item in listed:
        (reason,) = item["detail"]["unmatched"]
        assert "claim 1 in the file: it fits 2 claims equally" in reason.replace(
            "status ", ""
        ).replace("payment ", "")
        assert all(claim_id in reason for claim_id in ids)
        assert "PCN-2026-0004" not in reason  # our ids, not the patient's account number
    for key, claim_id in zip((key_a, key_b), ids, strict=True):
        view = await get(gateway, key, f"/v1/claims/{claim_id}")
        assert view["status"] == "accepted"  # the 999 is ours alone; the rest waits
        kinds = [
            e["kind"] for e in (await get(gateway, key, f"/v1/claims/{claim_id}/events"))["items"]
        ]
        assert not [k for k in kinds if k.startswith(("277ca", "835"))]


async def test_the_simulator_answers_only_the_gateway(
    aiohttp_client: Any, flow_settings: Settings, tmp_path: Path
) -> None:
    """Its mailboxes hold answers full of PHI: without the gateway's token a request is refused,
    and a gateway whose payers are all real does not mount it at all."""
    gateway = await aiohttp_client(create_app(flow_settings))
    for path in ("/simulator/SIMCOM01/outbound", "/simulator/SIMCOM01/ledger"):
        assert (await gateway.get(path)).status == 401
        wrong = await gateway.get(path, headers={"Authorization": "Bearer guessed"})
        assert wrong.status == 401
        token = gateway.app[DELIVERY].simulator_token
        right = await gateway.get(path, headers={"Authorization": f"Bearer {token}"})
        assert right.status == 200
    deleted = await gateway.delete("/simulator/SIMCOM01/outbound/0000000000000-x.x12")
    assert deleted.status == 401
    # Its health check needs no token and shows nothing of anyone's.
    health = await gateway.get("/simulator/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"

    real = _delivered_by_directory(Path(flow_settings.payers.profiles_dir), tmp_path / "real")
    settings = dataclasses.replace(flow_settings, payers=PayersSettings(profiles_dir=str(real)))
    without = await aiohttp_client(create_app(settings))
    assert (await without.get("/simulator/SIMCOM01/outbound")).status == 404


def _delivered_by_directory(profiles: Path, into: Path) -> Path:
    """The profiles, each payer reached through a drop folder instead of the simulator."""
    into.mkdir()
    for profile in profiles.glob("*.toml"):
        text = profile.read_text().replace('transport = "simulator"', 'transport = "directory"')
        (into / profile.name).write_text(text)
    return into
