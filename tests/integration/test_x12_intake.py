"""POST /v1/x12: raw 837 files answered with TA1/999; accepted sets' claims enter the pipeline."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.read_ack import read_acknowledgments
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from gateway.context import ENGINE
from gateway.storage.tables import claims, files
from tests.conftest import auth, example
from tests.unit.claims import INSTITUTIONAL_SHAPES, PROFESSIONAL_SHAPES
from tests.unit.loose import layouts


def x12_file(name: str, control: int, pcn: str | None = None) -> str:
    data = example(name)
    if pcn:
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


async def post_x12(client: Any, api_key: str, body: str | bytes) -> Any:
    return await client.post(
        "/v1/x12",
        data=body.encode() if isinstance(body, str) else body,
        headers=auth(api_key, **{"Content-Type": "application/edi-x12"}),
    )


async def count(client: Any, table: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_accepted_file_claims_enter_the_pipeline(client: Any, api_key: str) -> None:
    text = x12_file("professional-office-visit.json", 7)
    response = await post_x12(client, api_key, text)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    assert body["ta1"] is None
    assert body["ack_999"][0]["status"] == "A"
    # The 999 is real X12 that pyx12 accepts, acknowledging our group.
    ack = body["x12"]["999"]
    assert validate(ack, AckControl(1, 1, 1, datetime.now(UTC))).ok
    (implementation,) = read_acknowledgments(ack).implementation_acks
    assert implementation.group_control_number == 7
    # The claim is findable by its patient control number, received over the x12 channel.
    listing = await (
        await client.get("/v1/claims?patient_control_number=PCN-2026-0004", headers=auth(api_key))
    ).json()
    (claim,) = listing["items"]
    assert claim["status"] == "received"
    events = await (
        await client.get(f"/v1/claims/{claim['id']}/events", headers=auth(api_key))
    ).json()
    assert events["items"][0]["detail"] == {"channel": "api"}
    # Listed and downloadable as files: the 837 in, the 999 out.
    listed = await (await client.get("/v1/files", headers=auth(api_key))).json()
    assert [(f["direction"], f["kind"]) for f in listed["items"]] == [
        ("outbound", "999"),
        ("inbound", "837"),
    ]
    inbound = listed["items"][1]
    assert inbound["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    content = await client.get(f"/v1/files/{inbound['id']}/content", headers=auth(api_key))
    assert (await content.read()).decode() == text


async def test_the_same_file_twice_is_processed_once(client: Any, api_key: str) -> None:
    text = x12_file("institutional-outpatient.json", 8)
    first = await (await post_x12(client, api_key, text)).json()
    again = await post_x12(client, api_key, text)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["file_id"] == first["file_id"]
    assert await count(client, claims) == 1


async def test_a_rejected_set_enters_nothing_and_is_explained(client: Any, api_key: str) -> None:
    good = x12_file("professional-office-visit.json", 9)
    bad = x12_file("preoperative-clearance.json", 10).replace(
        "CLM*PCN-2026-0006*240", "CLM*PCN-2026-0006*24X0"
    )
    body = await (await post_x12(client, api_key, good + bad)).json()
    assert body["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    rejected = [s for s in body["transaction_sets"] if not s["accepted"]]
    assert len(rejected) == 1
    (error,) = rejected[0]["errors"]
    assert (error["segment_id"], error["loop"]) == ("CLM", "2300")
    assert error["elements"][0]["position"] == 2
    assert await count(client, claims) == 1


async def test_not_x12_is_refused_and_kept(client: Any, api_key: str) -> None:
    response = await post_x12(client, api_key, "PATIENT NAME: NOT AN X12 FILE")
    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "/problems/unreadable-x12"
    assert "ISA" in problem["detail"] and "offset 0" in problem["detail"]
    async with client.app[ENGINE].connect() as conn:
        state = (
            await conn.execute(select(files.c.state).where(files.c.id == problem["file_id"]))
        ).scalar_one()
    assert state == "rejected"
    assert await count(client, claims) == 0


async def test_wrong_content_type_and_empty_body(client: Any, api_key: str) -> None:
    response = await client.post(
        "/v1/x12",
        data=json.dumps({}),
        headers=auth(api_key, **{"Content-Type": "application/json"}),
    )
    assert response.status == 415
    assert (await post_x12(client, api_key, b"  ")).status == 400


async def test_files_are_private_to_their_submitter(client: Any, api_key: str) -> None:
    from tests.conftest import new_submitter

    body = await (
        await post_x12(client, api_key, x12_file("professional-office-visit.json", 11))
    ).json()
    _, other = await new_submitter(client)
    assert (await client.get(f"/v1/files/{body['file_id']}", headers=auth(other))).status == 404
    assert (
        await client.get(f"/v1/files/{body['file_id']}/content", headers=auth(other))
    ).status == 404
    assert (await (await client.get("/v1/files", headers=auth(other))).json())["items"] == []


async def test_a_rejected_group_enters_nothing(client: Any, api_key: str) -> None:
    # GE02 not matching GS06: the 999 accepts the set (IK5*A) but rejects its group (AK9*R).
    text = x12_file("professional-office-visit.json", 12).replace("GE*1*12~", "GE*1*399~")
    body = await (await post_x12(client, api_key, text)).json()
    assert body["ack_999"][0]["status"] == "R"
    (group_error,) = body["ack_999"][0]["group_errors"]
    assert group_error["code"] == "4" and "control number" in group_error["meaning"].lower()
    assert body["claims"] == {"read": 0, "accepted": 0, "rejected": 0}
    (refused,) = body["transaction_sets"]
    assert refused["accepted"] is False
    assert "AK9" in refused["reason"]
    assert await count(client, claims) == 0


async def test_a_claim_refused_at_intake_is_answered_by_a_277ca(client: Any, api_key: str) -> None:
    from edi.read_277ca import read_277ca

    # pyx12 accepts a 30-character CLM01 (the guide allows 38), so the 999 accepts the set; the
    # claim model allows 20, so the claim goes no further and the submitter must be told.
    long_pcn = "PCN-" + "7" * 26
    text = x12_file("professional-office-visit.json", 13).replace(
        "CLM*PCN-2026-0004*", f"CLM*{long_pcn}*"
    )
    body = await (await post_x12(client, api_key, text)).json()
    assert body["ack_999"][0]["status"] == "A"
    assert body["claims"] == {"read": 1, "accepted": 0, "rejected": 1}
    assert body["claim_results"][0]["status"] == "invalid"
    assert await count(client, claims) == 0
    listed = await (await client.get("/v1/files", headers=auth(api_key))).json()
    (answer,) = [f for f in listed["items"] if f["kind"] == "277CA"]
    content = await client.get(f"/v1/files/{answer['id']}/content", headers=auth(api_key))
    text_277 = (await content.read()).decode()
    assert validate(text_277, AckControl(1, 1, 1, datetime.now(UTC))).ok
    (ack,) = read_277ca(text_277)
    assert ack.receiver_trace == "000000013"  # 2200B TRN02: the file's own BHT03
    ((_, claim),) = list(ack.claims())
    assert (claim.patient_control_number, claim.category) == (long_pcn, "A7")
    assert "patient_control_number must be at most 20 characters" in claim.statuses[0].message


async def test_the_sample_file_for_several_payers_is_routed_to_each(
    client: Any, api_key: str
) -> None:
    from tests.unit.test_example_x12 import SAMPLE

    # Addressed to us (1000B CLEARWAY): each claim goes on to its payer, named as receiver.
    body = await (await post_x12(client, api_key, SAMPLE.read_text())).json()
    assert body["claims"] == {"read": 3, "accepted": 3, "rejected": 0}
    for result in body["claim_results"]:
        claim = await (await client.get(f"/v1/claims/{result['id']}", headers=auth(api_key))).json()
        assert "receiver" not in claim["claim"], claim


async def test_a_set_with_a_wrong_se_count_says_so(client: Any, api_key: str) -> None:
    text = x12_file("professional-office-visit.json", 14)
    se = next(seg for seg in text.split("~") if seg.startswith("SE*"))
    body = await (await post_x12(client, api_key, text.replace(se, "SE*3*0001"))).json()
    (verdict,) = body["ack_999"][0]["transaction_sets"]
    assert verdict["status"] == "R"
    assert [e["code"] for e in verdict["set_errors"]] == ["4"]
    assert "included segments" in verdict["set_errors"][0]["meaning"]


async def test_the_999_comes_back_from_whom_the_file_was_addressed_to(
    client: Any, api_key: str
) -> None:
    from edi.x12 import SegmentReader

    params = EnvelopeParams(
        sender_id="SUNRISE01",
        sender_qualifier="30",
        receiver_id="CLEARWAYDUNS",
        receiver_qualifier="01",
        application_sender="SUNAPP",
        application_receiver="CLEARWAYAPP",
        interchange_control_number=15,
        group_control_number=15,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    text = build_837([claim_from_json(example("professional-office-visit.json"))], params)
    body = await (await post_x12(client, api_key, text)).json()
    isa, gs = list(SegmentReader(body["x12"]["999"]))[:2]
    assert [isa[5], isa[6].strip(), isa[7], isa[8].strip()] == [
        "01",
        "CLEARWAYDUNS",
        "30",
        "SUNRISE01",
    ]
    assert gs[2:4] == ["CLEARWAYAPP", "SUNAPP"]


async def test_one_rejected_interchange_does_not_hold_back_the_others(
    client: Any, api_key: str
) -> None:
    # Two interchanges in one file; the first's IEA02 does not match its ISA13 (TA1 R 001).
    bad = x12_file("professional-office-visit.json", 16, pcn="TWO-ISA-1")
    bad = bad.replace("IEA*1*000000016~", "IEA*1*000000099~")
    good = x12_file("preoperative-clearance.json", 17, pcn="TWO-ISA-2")
    body = await (await post_x12(client, api_key, bad + good)).json()
    assert [(t["control_number"], t["status"]) for t in body["ta1"]] == [(16, "R"), (17, "A")]
    assert [a["group_control_number"] for a in body["ack_999"]] == [17]
    assert body["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    assert [r["patient_control_number"] for r in body["claim_results"]] == ["TWO-ISA-2"]
    refused = [s for s in body["transaction_sets"] if not s["accepted"]]
    assert len(refused) == 1 and "TA1" in refused[0]["reason"]
    listed = await (await client.get("/v1/files", headers=auth(api_key))).json()
    inbound = [f for f in listed["items"] if f["direction"] == "inbound"]
    assert [f["state"] for f in inbound] == ["processed"]


def _from(text: str, sender: str, application_sender: str | None = None) -> str:
    """The file as sent by another interchange sender id (ISA06 padded to 15, and GS02)."""
    isa = text[:106].split("*")
    old = isa[6].strip()
    isa[6] = sender.ljust(15)
    gs = f"GS*HC*{old}*"
    return "*".join(isa) + text[106:].replace(gs, f"GS*HC*{application_sender or sender}*", 1)


async def test_a_file_is_taken_only_from_its_submitters_own_sender_ids(client: Any) -> None:
    from gateway.storage import claims as store
    from tests.conftest import new_submitter

    a, key_a = await new_submitter(client, "Sender A")
    _, key_b = await new_submitter(client, "Sender B")
    first = await (
        await post_x12(client, key_a, x12_file("professional-office-visit.json", 31))
    ).json()
    assert first["claims"]["accepted"] == 1  # A's first file: its ISA06 becomes A's sender id
    async with client.app[ENGINE].connect() as conn:
        assert await store.sender_ids_of(conn, a.id) == ["SUB000101"]

    # B sends a file under A's sender id: rejected by its TA1, nothing admitted.
    stolen = await (
        await post_x12(client, key_b, x12_file("professional-office-visit.json", 32, "PCN-B-1"))
    ).json()
    assert stolen["ta1"] == [
        {
            "control_number": 32,
            "status": "R",
            "note_code": "006",
            "note": "Invalid interchange sender id",
        }
    ]
    assert stolen["claims"] == {"read": 0, "accepted": 0, "rejected": 0}
    assert [e["element"] for e in stolen["interchange_errors"]] == ["ISA06", "GS02"]
    assert "TA1" in stolen["x12"] and "999" not in stolen["x12"]

    # B under its own ISA06 but naming A's id as the group's application sender (GS02).
    own_isa = _from(x12_file("professional-office-visit.json", 33, "PCN-B-2"), "SUBB", "SUB000101")
    mixed = await (await post_x12(client, key_b, own_isa)).json()
    assert mixed["ta1"][0]["status"] == "R"
    assert [e["element"] for e in mixed["interchange_errors"]] == ["GS02"]

    # B's first accepted file makes SUBB its id; A cannot use it, and A's other ids need adding.
    good_b = _from(x12_file("professional-office-visit.json", 34, "PCN-B-3"), "SUBB")
    assert (await (await post_x12(client, key_b, good_b)).json())["claims"]["accepted"] == 1
    other = _from(x12_file("professional-office-visit.json", 35, "PCN-A-2"), "SUBA2")
    refused = await (await post_x12(client, key_a, other)).json()
    assert refused["ta1"][0]["note_code"] == "006"
    async with client.app[ENGINE].begin() as conn:
        await store.add_sender_id(conn, a.id, "SUBA2")
    again = _from(x12_file("professional-office-visit.json", 36, "PCN-A-3"), "SUBA2")
    assert (await (await post_x12(client, key_a, again)).json())["claims"]["accepted"] == 1
    assert await count(client, claims) == 3


async def test_an_isa_element_of_the_wrong_width_is_refused_by_its_ta1(
    client: Any, api_key: str
) -> None:
    text = x12_file("professional-office-visit.json", 41)
    isa = text[:106].split("*")
    isa[6] = "SUB000101"  # 9 characters, not 15: every later element moves
    body = await (await post_x12(client, api_key, "*".join(isa) + text[106:])).json()
    assert body["ta1"][0]["status"] == "R" and body["ta1"][0]["note_code"] == "006"
    (error,) = body["interchange_errors"]
    assert error["element"] == "ISA06" and "9 characters" in error["message"]
    assert body["claims"] == {"read": 0, "accepted": 0, "rejected": 0}
    assert await count(client, claims) == 0


async def test_a_file_sent_again_is_answered_as_the_first_time_with_todays_statuses(
    client: Any, api_key: str
) -> None:
    from gateway.context import DELIVERY, PAYERS, SEALER, SETTINGS
    from gateway.pipeline.steps import step_handlers
    from gateway.pipeline.worker import Worker

    text = x12_file("professional-office-visit.json", 51)
    first = await (await post_x12(client, api_key, text)).json()
    (result,) = first["claim_results"]
    assert result["status"] == "received"
    app = client.app
    handlers = step_handlers(app[SETTINGS], app[PAYERS], app[DELIVERY])
    scrub = Worker(app[ENGINE], app[SEALER], {"scrub": handlers["scrub"]}, app[SETTINGS].worker)
    await scrub.run_until_idle()  # the claim moves on: scrubbed

    again = await post_x12(client, api_key, text)
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    body = await again.json()
    assert body["replayed"] is True
    assert body["x12"] == first["x12"]  # the same 999, byte for byte
    assert body["ack_999"] == first["ack_999"] and body["claims"] == first["claims"]
    (replayed,) = body["claim_results"]
    assert replayed["status"] == "received"  # what the first answer said
    assert replayed["current_status"] == "scrubbed"  # where the claim is now, labelled so
    assert body["current_status_at"] > body["received_at"]


# --- Files as other systems write them ------------------------------------------------------


def _outcome(body: dict[str, Any]) -> dict[str, Any]:
    """What an answer says of the claims and sets, without what differs file to file (ids,
    control numbers of our 999, and the current_status a file sent again is also given: a
    loosening that changed nothing sends the plain file again)."""
    differs = ("id", "current_status")
    return {
        "claims": body["claims"],
        "transaction_sets": body["transaction_sets"],
        "results": [
            {k: v for k, v in r.items() if k not in differs} for r in body["claim_results"]
        ],
        "ack_999": [
            {k: v for k, v in a.items() if k != "group_control_number"} for a in body["ack_999"]
        ],
        "ta1": body["ta1"],
    }


async def test_a_bom_and_indented_segments_are_read_as_the_plain_file(
    client: Any, api_key: str
) -> None:
    from edi.x12 import SegmentReader
    from tests.unit.loose import loosened

    plain = await (
        await post_x12(client, api_key, x12_file("professional-office-visit.json", 18, "LOOSE-1"))
    ).json()
    loose_text = loosened(x12_file("professional-office-visit.json", 19, "LOOSE-1"), ("\r\n    ",))
    response = await post_x12(client, api_key, loose_text)
    assert response.status == 200, await response.text()
    loose = await response.json()
    assert _outcome(loose) == _outcome(plain)
    assert loose["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    assert loose["ack_999"][0]["status"] == "A" and loose["pyx12_issues"] == 0
    assert "warnings" not in loose
    # The header is read past the BOM: the 999 goes back to the sender, for its group.
    isa = next(iter(SegmentReader(loose["x12"]["999"])))
    assert isa[8].strip() == "SUB000101"
    assert loose["ack_999"][0]["group_control_number"] == 19


async def test_a_last_iea_without_its_terminator_is_accepted_with_a_warning(
    client: Any, api_key: str
) -> None:
    text = x12_file("institutional-outpatient.json", 20, "NOEND-1").removesuffix("~")
    response = await post_x12(client, api_key, text)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["claims"] == {"read": 1, "accepted": 1, "rejected": 0}
    assert body["ack_999"][0]["status"] == "A"
    (warning,) = body["warnings"]
    assert "IEA" in warning and "terminator" in warning
    # Kept with the file's answer.
    file = await (await client.get(f"/v1/files/{body['file_id']}", headers=auth(api_key))).json()
    assert file["state"] == "processed"


async def test_earlier_guides_are_accepted_with_a_warning(client: Any, api_key: str) -> None:
    for name, control, later, earlier in (
        ("professional-office-visit.json", 21, "005010X222A1", "005010X222"),
        ("institutional-outpatient.json", 22, "005010X223A2", "005010X223A1"),
    ):
        text = x12_file(name, control, f"OLD-{control}").replace(later, earlier)
        response = await post_x12(client, api_key, text)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["claims"] == {"read": 1, "accepted": 1, "rejected": 0}, body
        (warning,) = body["warnings"]
        assert earlier in warning and later in warning
        (implementation,) = read_acknowledgments(body["x12"]["999"]).implementation_acks
        assert implementation.version == earlier and implementation.status == "A"


@pytest.fixture(scope="module")
def intake_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A migrated SQLite database of its own and a submitter in it, for the property below
    (hypothesis runs many examples in one test, so function-scoped fixtures will not do)."""
    from gateway.settings import DatabaseSettings
    from gateway.storage import claims as store
    from gateway.storage import db

    url = f"sqlite:///{tmp_path_factory.mktemp('loose-intake') / 'clearway.db'}"

    async def setup() -> str:
        engine = db.create_engine(DatabaseSettings(url=url))
        try:
            await db.migrate(engine)
            async with engine.begin() as conn:
                submitter, _ = await store.create_submitter(conn, "loose-billing")
            return submitter.id
        finally:
            await engine.dispose()

    return url, asyncio.run(setup())


_SHAPES = sorted(
    [("P", k) for k in PROFESSIONAL_SHAPES if k != "twelve-diagnoses-fifty-lines"]
    + [("I", k) for k in INSTITUTIONAL_SHAPES if k != "many-lines"]
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(_SHAPES), layout=layouts(), control=st.integers(100, 10**8))
def test_any_837_we_write_is_taken_in_the_same_loosened(
    intake_db: tuple[str, str], shape: tuple[str, str], layout: dict[str, Any], control: int
) -> None:
    """Through the intake (POST /v1/x12, SFTP and drop folders share it): the same claims read,
    admitted or refused, the same 999 verdicts; a missing last terminator adds its warning."""
    from gateway.crypto import Sealer, parse_keys
    from gateway.intake.x12 import receive_x12
    from gateway.settings import DatabaseSettings, X12Settings
    from gateway.storage import db
    from tests.conftest import TEST_KEYS
    from tests.unit.loose import loosened

    url, submitter_id = intake_db
    claim = (PROFESSIONAL_SHAPES if shape[0] == "P" else INSTITUTIONAL_SHAPES)[shape[1]]
    params = EnvelopeParams(
        sender_id="SUB000101",
        receiver_id="CLEARWAY",
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    plain = build_837([replace(claim, patient_control_number=f"L{control}")], params)
    folder = Path(tempfile.mkdtemp(dir=Path(url.removeprefix("sqlite:///")).parent))

    async def run() -> list[dict[str, Any]]:
        engine = db.create_engine(DatabaseSettings(url=url))
        sealer = Sealer(parse_keys(TEST_KEYS))
        x12 = X12Settings(upload_dir=str(folder))
        answers = []
        try:
            for n, text in enumerate((plain, loosened(plain, **layout))):
                path = folder / f"{n}.x12"
                path.write_text(text, newline="")
                received = await receive_x12(
                    engine, sealer, x12, submitter_id=submitter_id, path=path,
                    name=path.name, channel="api", refused_quota=1 << 30,
                )  # fmt: skip
                answers.append(received.response)
        finally:
            await engine.dispose()
        return answers

    plain_answer, loose_answer = asyncio.run(run())
    assert _outcome(loose_answer) == _outcome(plain_answer)
    assert plain_answer["claims"]["read"] == 1
    assert len(loose_answer.get("warnings", [])) == (0 if layout["last"] else 1)
