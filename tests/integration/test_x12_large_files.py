"""Large 837 files: read as a stream, claims admitted in chunks with their progress visible,
an interrupted run resumed without a claim twice, and POST /v1/x12 answering 202 for them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from gateway.app import create_app
from gateway.context import ENGINE, SEALER, SETTINGS
from gateway.intake import x12 as x12_intake
from gateway.settings import ServerSettings, Settings
from gateway.storage.tables import claims, files
from tests.conftest import auth, example

CLAIMS = 23  # five chunks of five claims, the last one short
CHUNK = 5

QUOTA = ServerSettings().refused_kept_bytes


def many_claims_file(count: int = CLAIMS, control: int = 41) -> str:
    base = example("professional-office-visit.json")
    params = EnvelopeParams(
        sender_id="SUB000101",
        receiver_id="CLEARWAY",
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    batch = [
        claim_from_json({**base, "patient_control_number": f"BIG-{control}-{i:05d}"})
        for i in range(count)
    ]
    return build_837(batch, params)


class Pause:
    """Holds the claim reader (a worker thread) before it hands over chunk `before`, so the
    test can look at the file while the run is half done."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before: int) -> None:
        self.reached = threading.Event()
        self.go_on = threading.Event()
        real = x12_intake._read_claims

        def paused(*args: Any) -> Iterator[list[Any]]:
            for n, batch in enumerate(real(*args)):
                if n == before:
                    self.reached.set()
                    self.go_on.wait(30)
                yield batch

        monkeypatch.setattr(x12_intake, "_read_claims", paused)


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch: pytest.MonkeyPatch, chunks: int) -> None:
    real = x12_intake._read_claims

    def cut(*args: Any) -> Iterator[list[Any]]:
        for n, batch in enumerate(real(*args)):
            if n == chunks:
                raise Interrupted("the process went away")
            yield batch

    monkeypatch.setattr(x12_intake, "_read_claims", cut)


def chunked(settings: Settings, **x12: Any) -> Settings:
    return replace(settings, x12=replace(settings.x12, claims_per_transaction=CHUNK, **x12))


async def file_row(client: Any, api_key: str, file_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/files/{file_id}", headers=auth(api_key))
    assert response.status == 200
    return dict(await response.json())


async def claim_count(client: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(claims))).scalar_one())


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.fixture
async def big_client(aiohttp_client: Any, settings: Settings) -> Any:
    # Every POST above 2 kB is processed in the background.
    return await aiohttp_client(create_app(chunked(settings, answer_within_bytes=2048)))


async def test_a_large_post_is_answered_202_and_shows_its_progress(
    big_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import new_submitter

    _, api_key = await new_submitter(big_client)
    pause = Pause(monkeypatch, before=2)
    text = many_claims_file()
    response = await big_client.post(
        "/v1/x12?name=big.x12",
        data=text.encode(),
        headers=auth(api_key, **{"Content-Type": "application/edi-x12"}),
    )
    assert response.status == 202, await response.text()
    body = await response.json()
    file_id = body["file_id"]
    assert response.headers["Location"] == f"/v1/files/{file_id}"
    assert body["file"]["state"] == "processing"

    assert await asyncio.to_thread(pause.reached.wait, 60)
    midway = await file_row(big_client, api_key, file_id)
    assert midway["state"] == "processing"
    assert midway["claims"] == {"read": 2 * CHUNK, "accepted": 2 * CHUNK, "rejected": 0}
    pause.go_on.set()

    for _ in range(600):
        done = await file_row(big_client, api_key, file_id)
        if done["state"] != "processing":
            break
        await asyncio.sleep(0.05)
    assert done["state"] == "processed"
    assert done["claims"] == {"read": CLAIMS, "accepted": CLAIMS, "rejected": 0}
    assert done["detail"]["response"]["ack_999"][0]["status"] == "A"
    assert await claim_count(big_client) == CLAIMS
    # The 999 went to the outbox; the upload left nothing behind in the spool.
    listed = await (await big_client.get("/v1/files", headers=auth(api_key))).json()
    assert [(f["direction"], f["kind"]) for f in listed["items"]] == [
        ("outbound", "999"),
        ("inbound", "837"),
    ]
    content = await big_client.get(f"/v1/files/{file_id}/content", headers=auth(api_key))
    assert (await content.read()).decode() == text
    uploads = Path(big_client.app[SETTINGS].x12.upload_dir)
    for _ in range(100):
        left = await asyncio.to_thread(files_under, uploads)
        if not left:
            break
        await asyncio.sleep(0.05)
    assert left == []


async def test_small_posts_keep_their_synchronous_999(big_client: Any) -> None:
    from tests.conftest import new_submitter
    from tests.integration.test_x12_intake import post_x12, x12_file

    _, api_key = await new_submitter(big_client)
    text = x12_file("professional-office-visit.json", 51)
    assert len(text) <= 2048
    response = await post_x12(big_client, api_key, text)
    assert response.status == 200
    assert (await response.json())["claims"] == {"read": 1, "accepted": 1, "rejected": 0}


async def test_an_interrupted_run_resumes_without_a_claim_twice(
    client: Any, api_key: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import new_submitter

    submitter, _ = await new_submitter(client, "resumer")
    path = tmp_path / "big.x12"
    path.write_text(many_claims_file(control=42))
    x12 = chunked(settings).x12
    engine, sealer = client.app[ENGINE], client.app[SEALER]

    interrupt_after(monkeypatch, chunks=3)
    with pytest.raises(Interrupted):
        await x12_intake.receive_x12(
            engine,
            sealer,
            x12,
            submitter_id=submitter.id,
            path=path,
            name="big.x12",
            channel="sftp",
            refused_quota=QUOTA,
        )
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(files).where(files.c.direction == "inbound"))).all()
    assert (row.state, row.claims_read) == ("processing", 3 * CHUNK)
    assert await claim_count(client) == 3 * CHUNK

    monkeypatch.undo()
    again = await x12_intake.receive_x12(
        engine,
        sealer,
        x12,
        submitter_id=submitter.id,
        path=path,
        name="big.x12",
        channel="sftp",
        refused_quota=QUOTA,
    )
    assert again.file.id == row.id and not again.replayed
    assert again.file.state == "processed"
    assert again.response["claims"] == {"read": CLAIMS, "accepted": CLAIMS, "rejected": 0}
    assert await claim_count(client) == CLAIMS
    async with engine.connect() as conn:
        keys = (await conn.execute(select(claims.c.idempotency_key))).scalars().all()
    assert len(set(keys)) == CLAIMS
    # A third run is a replay of the stored answer.
    third = await x12_intake.receive_x12(
        engine,
        sealer,
        x12,
        submitter_id=submitter.id,
        path=path,
        name="big.x12",
        channel="sftp",
        refused_quota=QUOTA,
    )
    assert third.replayed and third.file.id == row.id
    assert await claim_count(client) == CLAIMS


async def test_claim_results_are_capped_but_counts_cover_every_claim(
    client: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import new_submitter

    monkeypatch.setattr(x12_intake, "_RESULTS_KEPT", 7)
    submitter, _ = await new_submitter(client)
    path = tmp_path / "big.x12"
    path.write_text(many_claims_file(control=43))
    received = await x12_intake.receive_x12(
        client.app[ENGINE],
        client.app[SEALER],
        chunked(settings).x12,
        submitter_id=submitter.id,
        path=path,
        name="big.x12",
        channel="folder",
        refused_quota=QUOTA,
    )
    assert received.response["claims"]["read"] == CLAIMS
    assert len(received.response["claim_results"]) == 7
    assert received.response["claim_results_omitted"] == CLAIMS - 7


async def test_one_277ca_answers_the_scrub_rejections_of_a_file(client: Any, api_key: str) -> None:
    from edi.read_277ca import read_277ca
    from gateway.context import PAYERS
    from gateway.pipeline.scrub import scrub_handler
    from gateway.pipeline.worker import Worker
    from gateway.settings import WorkerSettings
    from tests.integration.test_x12_intake import post_x12

    text = many_claims_file(4, control=44)
    segments = text.split("~")
    claims_seen = 0
    for i, segment in enumerate(segments):
        claims_seen += segment.startswith("CLM*")
        if claims_seen in (2, 4) and segment.startswith("NM1*82*"):
            # The rendering provider's NPI fails its check digit: a scrub error for the claim.
            npi = segment.rsplit("*", 1)[1]
            segments[i] = segment[: -len(npi)] + npi[:-1] + str((int(npi[-1]) + 1) % 10)
    bad = "~".join(segments)
    assert bad != text
    response = await post_x12(client, api_key, bad)
    assert response.status == 200, await response.text()
    assert (await response.json())["claims"]["accepted"] == 4
    worker = Worker(
        client.app[ENGINE],
        client.app[SEALER],
        {"scrub": scrub_handler(client.app[PAYERS])},
        WorkerSettings(),
    )
    await worker.run_until_idle()
    listed = await (await client.get("/v1/files", headers=auth(api_key))).json()
    answers = [f for f in listed["items"] if f["kind"] == "277CA"]
    assert len(answers) == 1
    content = await client.get(f"/v1/files/{answers[0]['id']}/content", headers=auth(api_key))
    text = (await content.read()).decode()
    assert validate(text, AckControl(1, 1, 1, datetime.now(UTC))).ok
    (ack,) = read_277ca(text)
    assert ack.source_is_clearinghouse  # 2100A NM1*AY: from us, not a payer
    rejected = {claim.patient_control_number: claim.category for _, claim in ack.claims()}
    assert rejected == {"BIG-44-00001": "A7", "BIG-44-00003": "A7"}
    for _, claim in ack.claims():
        # The rendering provider's data is wrong (STC01-3 82), and STC12 says where.
        assert claim.statuses[0].status.entity == "82"
        # A7:21 is followed by what is invalid: STC10 562, the entity's NPI.
        assert [(c.category, c.code) for c in claim.statuses[0].additional] == [("A7", "562")]
        assert claim.statuses[0].message == "NPI_CHECK_DIGIT at /rendering_provider/npi"


def test_an_unreadable_claim_is_answered_with_its_place() -> None:
    from edi.read_837 import UnreadableClaim

    item = x12_intake._Read(
        "x12:file-id:0001:4", UnreadableClaim("PCN-9", "cannot read SV1", "SV1", 19, 700)
    )
    assert x12_intake._outcome(item, {}) == {
        "patient_control_number": "PCN-9",
        "status": "unreadable",
        "error": "cannot read SV1",
        "transaction_control_number": "0001",
        "segment_id": "SV1",
        "position_in_set": 17,
    }
