"""The batch step: one pending job per submitter/payer/claim type turns its scrubbed claims
into 837s of at most the payer's batch size, queueing the next run while claims remain."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from gateway.crypto import Sealer, parse_keys
from gateway.pipeline.batch import batch_handler
from gateway.pipeline.scrub import scrub_handler
from gateway.pipeline.worker import Worker
from gateway.settings import WorkerSettings, X12Settings
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage.lifecycle import ClaimStatus
from gateway.storage.tables import interchanges
from gateway.storage.tables import jobs as jobs_table
from payers.profile import PayerDirectory, load_profiles
from tests.conftest import TEST_KEYS, example, received_claims

SEALER = Sealer(parse_keys(TEST_KEYS))


def payers_with_batch_size(size: int) -> PayerDirectory:
    return PayerDirectory(
        dataclasses.replace(p, delivery=dataclasses.replace(p.delivery, batch_max_claims=size))
        for p in load_profiles().values()
    )


async def test_scrubbed_claims_go_out_in_batches_of_the_payers_size(engine: Any) -> None:
    data = example("professional-office-visit.json")
    claims = [{**data, "patient_control_number": f"BATCH-{n}"} for n in range(5)]
    ids = [r.id for r in await received_claims(engine, SEALER, "batch-test", claims)]
    payers = payers_with_batch_size(2)
    handlers = {"scrub": scrub_handler(payers), "batch": batch_handler(payers, X12Settings())}
    await Worker(engine, SEALER, handlers, WorkerSettings()).run_until_idle()

    async with engine.connect() as conn:
        records = await store.get_claims(conn, ids)
        sent = (
            await conn.execute(
                select(interchanges.c.id, interchanges.c.claim_count).order_by(interchanges.c.pk)
            )
        ).all()
        carried = [sorted(c for c, _ in await ix.claims_of(conn, i)) for i, _ in sent]
        batch_jobs = (
            await conn.execute(
                select(jobs_table.c.state, jobs_table.c.attempts).where(
                    jobs_table.c.kind == "batch"
                )
            )
        ).all()
        submits = (
            await conn.execute(select(jobs_table.c.payload).where(jobs_table.c.kind == "submit"))
        ).scalars()
        events = await store.claim_events_of(conn, ids[0])
    assert {r.status for r in records} == {ClaimStatus.TRANSLATED}
    assert [count for _, count in sent] == [2, 2, 1]  # oldest first, at most two per 837
    assert sorted(c for claims in carried for c in claims) == sorted(ids)
    assert sorted(p["interchange_id"] for p in submits) == sorted(i for i, _ in sent)
    # A full batch queued the next run; each job ran once and nothing is left pending.
    assert batch_jobs == [("done", 1)] * 3
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("received", None, "received"),
        ("scrubbed", "received", "scrubbed"),
        ("translated", "scrubbed", "translated"),
    ]


async def test_a_claim_pyx12_refuses_fails_alone_and_the_others_go_out_again(
    engine: Any,
) -> None:
    from sqlalchemy import update

    from gateway.delivery.connections import Delivery
    from gateway.pipeline.submit import submit_handler

    data = example("professional-office-visit.json")
    claims = [{**data, "patient_control_number": f"ISOLATE-{n}"} for n in range(3)]
    ids = [r.id for r in await received_claims(engine, SEALER, "isolate-test", claims)]
    payers = payers_with_batch_size(3)
    handlers = {"scrub": scrub_handler(payers), "batch": batch_handler(payers, X12Settings())}
    await Worker(engine, SEALER, handlers, WorkerSettings()).run_until_idle()
    async with engine.begin() as conn:
        (first,) = (await conn.execute(select(interchanges.c.id))).scalars()
        text = (await ix.interchange_body(conn, SEALER, first)).decode()
        # A value the writer let through but pyx12 refuses, inside the second claim only.
        start = text.index("CLM*ISOLATE-1*")
        date_at = text.index("DTP*472*D8*", start) + len("DTP*472*D8*")
        broken = text[:date_at] + "20261399" + text[date_at + 8 :]
        await conn.execute(
            update(interchanges)
            .where(interchanges.c.id == first)
            .values(body=SEALER.seal(broken.encode(), ix._aad(first)))
        )
    # Nothing listens at the payer: the second 837 is validated, then waits for a retry.
    submit = {"submit": submit_handler(payers, Delivery("http://127.0.0.1:9/simulator"))}
    await Worker(engine, SEALER, submit, WorkerSettings()).run_until_idle()

    async with engine.connect() as conn:
        records = {r.patient_control_number: r for r in await store.get_claims(conn, ids)}
        dead = await ix.get_interchange(conn, first)
        assert dead is not None and dead.state == ix.DEAD
        again = await ix.get_interchange(conn, dead.detail["claims_resent_in"])
        assert again is not None and again.claim_count == 2
        resent = sorted(c for c, _ in await ix.claims_of(conn, again.id))
        failed_events = await store.claim_events_of(conn, records["ISOLATE-1"].id)
        kept_events = await store.claim_events_of(conn, records["ISOLATE-0"].id)
    assert records["ISOLATE-1"].status is ClaimStatus.FAILED
    assert {records["ISOLATE-0"].status, records["ISOLATE-2"].status} == {ClaimStatus.TRANSLATED}
    assert resent == sorted([records["ISOLATE-0"].id, records["ISOLATE-2"].id])
    (issue,) = failed_events[-1].detail["issues"]
    assert (issue["segment_id"], issue["element_position"]) == ("DTP", 3)
    assert kept_events[-1].kind == "rebatched"
    assert kept_events[-1].detail["interchange_id"] == again.id
