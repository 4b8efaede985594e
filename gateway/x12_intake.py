"""The raw X12 intake step: an 837 file from a submitter is stored, acknowledged (TA1, 999),
and the claims of its accepted transaction sets enter the same pipeline as JSON claims.

The file is stored sealed before anything reads it; the same file sent again is recognised by
its sha256 and answered with the first answer, not processed twice. pyx12 runs in a worker
thread, off the event loop. The 999 (and a TA1 for a rejected interchange) also go to the
submitter's outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from edi import codes
from edi.ack import ImplementationAck, InterchangeAck
from edi.claim import Claim
from edi.claim_json import claim_to_json
from edi.envelope import EnvelopeParams
from edi.errors import EdiError
from edi.read_837 import UnreadableClaim, read_837
from edi.read_envelope import single_set_interchanges
from edi.validate import AckControl, validate
from edi.write_ack import ack_from_report, build_999, build_ta1, ta1_from_report
from edi.x12 import isa_elements
from gateway import file_store as fs
from gateway import interchange_store as ix
from gateway import store
from gateway.apply_step import describe_segment_error
from gateway.claim_schema import claim_errors
from gateway.crypto import Sealer
from gateway.errors import ProblemError
from gateway.intake import request_digest
from gateway.settings import X12Settings
from payers.duplicates import duplicate_fingerprint

log = structlog.get_logger("gateway.x12_intake")


class UnreadableFile(ProblemError):
    status, slug, title = 422, "unreadable-x12", "The file is not an X12 interchange we can read"


@dataclass(frozen=True)
class X12Received:
    file: fs.File
    response: dict[str, Any]
    replayed: bool


def _isa(text: str) -> dict[str, str]:
    elements = isa_elements(text)
    if elements is None or len(elements) < 17:
        return {}
    return {
        "sender": elements[6],
        "usage": elements[15],
        "ack": elements[14],
        "date": elements[9],
        "time": elements[10],
        "control": elements[13],
    }


def _readable_header(isa: dict[str, str]) -> InterchangeAck | None:
    """A TA1 rejecting the interchange (024, invalid content) when its ISA can be read."""
    try:
        control = int(isa["control"])
        when = datetime.strptime(isa["date"] + isa["time"], "%y%m%d%H%M")
    except (KeyError, ValueError):
        return None
    if not 1 <= control <= 999_999_999:
        return None
    return InterchangeAck(control, when.date(), when.time(), "R", "024")


async def _record_unreadable_answer(
    conn: AsyncConnection,
    sealer: Sealer,
    x12: X12Settings,
    received: fs.File,
    isa: dict[str, str],
    control: int,
    now: datetime,
    error: str,
    *,
    channel: str,
) -> str:
    """The answer to a file we cannot read goes to the outbox like any other: a TA1 when the
    interchange header is readable, else a short JSON note naming the file and the problem."""
    ta1 = _readable_header(isa)
    if ta1 is not None:
        params = EnvelopeParams(
            sender_id=x12.sender_id,
            sender_qualifier=x12.sender_qualifier,
            receiver_id=(isa.get("sender") or "SUBMITTER")[:15],
            interchange_control_number=control,
            group_control_number=control,
            transaction_control_number=1,
            created=now,
            usage_indicator="P" if isa.get("usage") == "P" else "T",
        )
        kind, name, body = "TA1", f"TA1-{control:09d}.x12", build_ta1([ta1], params).encode()
    else:
        note = {
            "file": received.name,
            "file_id": received.id,
            "sha256": received.sha256,
            "state": fs.REJECTED,
            "error": f"not an X12 interchange we can read: {error[:500]}",
        }
        stem = received.name.rsplit(".", 1)[0] or "upload"
        kind, name = "note", f"{stem}.rejected.json"
        body = (json.dumps(note, indent=2) + "\n").encode()
    await fs.add_file(
        conn,
        sealer,
        submitter_id=received.submitter_id,
        direction=fs.OUTBOUND,
        channel=channel,
        kind=kind,
        name=name,
        body=body,
        state=fs.PROCESSED,
        detail={"answers": received.id},
    )
    return kind


async def receive_x12(
    engine: AsyncEngine,
    sealer: Sealer,
    x12: X12Settings,
    *,
    submitter_id: str,
    body: bytes,
    name: str,
    channel: str,
) -> X12Received:
    digest = hashlib.sha256(body).hexdigest()
    async with engine.connect() as conn:
        twin = await fs.processed_twin(conn, submitter_id, digest)
    if twin is not None:
        return X12Received(twin, twin.detail.get("response", {}), replayed=True)
    async with engine.begin() as conn:
        received = await fs.add_file(
            conn,
            sealer,
            submitter_id=submitter_id,
            direction=fs.INBOUND,
            channel=channel,
            kind="837",
            name=name,
            body=body,
            state=fs.PROCESSING,
        )
    text = body.decode("utf-8", errors="replace")
    isa = _isa(text)
    sender = (isa.get("sender") or "SUBMITTER")[:15]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        control = await ix.next_control_number(conn, x12.sender_id, sender)
    try:
        report = await asyncio.to_thread(validate, text, AckControl(control, control, 1, now))
    except EdiError as error:
        async with engine.begin() as conn:
            answer = await _record_unreadable_answer(
                conn, sealer, x12, received, isa, control, now, str(error), channel=channel
            )
            await fs.update_file(
                conn,
                received.id,
                state=fs.REJECTED,
                detail={"error": str(error)[:2000], "answer": answer},
            )
        raise UnreadableFile(str(error)[:500], file_id=received.id) from None

    params = EnvelopeParams(
        sender_id=x12.sender_id,
        sender_qualifier=x12.sender_qualifier,
        receiver_id=sender,
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=now,
        usage_indicator="P" if isa.get("usage") == "P" else "T",
    )
    ta1s = ta1_from_report(text, report)
    interchange_rejected = any(t.status == "R" for t in ta1s)
    acks = () if interchange_rejected else ack_from_report(text, report, params)
    response = await _admit_claims(
        engine, sealer, received, text, acks, submitter_id=submitter_id, channel=channel
    )
    outbox = []
    if interchange_rejected or isa.get("ack") == "1":
        outbox.append(("TA1", build_ta1(list(ta1s), params)))
    if acks:
        outbox.append(("999", build_999(list(acks), params)))
    response.update(
        {
            "file_id": received.id,
            "ta1": _ta1_json(ta1s) if outbox and outbox[0][0] == "TA1" else None,
            "ack_999": _999_json(acks) if acks else None,
            "x12": {kind: content for kind, content in outbox},
            "pyx12_issues": len(report.issues),
        }
    )
    async with engine.begin() as conn:
        for kind, content in outbox:
            await fs.add_file(
                conn,
                sealer,
                submitter_id=submitter_id,
                direction=fs.OUTBOUND,
                channel=channel,
                kind=kind,
                name=f"{kind}-{control:09d}.x12",
                body=content.encode(),
                state=fs.PROCESSED,
                detail={"answers": received.id},
            )
        counts = response["claims"]
        await fs.update_file(
            conn,
            received.id,
            state=fs.REJECTED if interchange_rejected else fs.PROCESSED,
            claims_read=counts["read"],
            claims_accepted=counts["accepted"],
            claims_rejected=counts["rejected"],
            detail={"response": _without_x12(response), "interchange_sender": sender},
        )
        stored = await fs.get_file(conn, received.id, submitter_id)
    assert stored is not None
    log.info("x12_file_received", file_id=received.id, **counts)
    return X12Received(stored, response, replayed=False)


async def _admit_claims(
    engine: AsyncEngine,
    sealer: Sealer,
    received: fs.File,
    text: str,
    acks: tuple[ImplementationAck, ...],
    *,
    submitter_id: str,
    channel: str,
) -> dict[str, Any]:
    # A file may hold several interchanges: a set is known by its group's GS06 and its ST02.
    verdicts = {
        (str(a.group_control_number), s.control_number): s for a in acks for s in a.transaction_sets
    }
    claims: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    read = accepted = rejected = 0
    for gs06, st01, st02, one_set in single_set_interchanges(text):
        verdict = verdicts.get((gs06.lstrip("0") or "0", st02))
        if st01 != "837" or verdict is None or not verdict.accepted:
            sets.append(
                {
                    "transaction_control_number": st02,
                    "accepted": False,
                    "reason": "not an 837" if st01 != "837" else "rejected by the 999",
                    "errors": [describe_segment_error(e) for e in verdict.errors]
                    if verdict
                    else [],
                }
            )
            continue
        sets.append({"transaction_control_number": st02, "accepted": True})
        async with engine.begin() as conn:
            for n, item in enumerate(read_837(one_set)):
                read += 1
                outcome = await _admit_one(
                    conn,
                    sealer,
                    item,
                    submitter_id=submitter_id,
                    channel=channel,
                    key=f"x12:{received.id}:{st02}:{n}",
                )
                accepted += outcome["status"] == "received"
                rejected += outcome["status"] != "received"
                claims.append(outcome)
    return {
        "claims": {"read": read, "accepted": accepted, "rejected": rejected},
        "transaction_sets": sets,
        "claim_results": claims,
    }


async def _admit_one(
    conn: Any,
    sealer: Sealer,
    item: Claim | UnreadableClaim,
    *,
    submitter_id: str,
    channel: str,
    key: str,
) -> dict[str, Any]:
    if isinstance(item, UnreadableClaim):
        return {"status": "unreadable", "error": str(item.error)[:500]}
    data = claim_to_json(item)
    errors = claim_errors(data)
    if errors:
        return {
            "patient_control_number": item.patient_control_number,
            "status": "invalid",
            "errors": errors,
        }
    # The key names the claim's place in this file: an earlier run over the same file that was
    # interrupted has already admitted it.
    record = await store.claim_by_idempotency_key(conn, submitter_id, key)
    if record is None:
        record = await store.insert_received_claim(
            conn,
            sealer,
            submitter_id=submitter_id,
            claim=item,
            claim_json=data,
            request_sha256=request_digest(data),
            idempotency_key=key,
            duplicate_key=sealer.lookup_hash(duplicate_fingerprint(item)),
            channel=channel,
        )
    return {
        "patient_control_number": item.patient_control_number,
        "status": "received",
        "id": record.id,
    }


def _ta1_json(ta1s: tuple[InterchangeAck, ...]) -> list[dict[str, Any]]:
    return [
        {
            "control_number": t.control_number,
            "status": t.status,
            "note_code": t.note_code,
            "note": codes.describe("ta105", t.note_code),
        }
        for t in ta1s
    ]


def _999_json(acks: tuple[ImplementationAck, ...]) -> list[dict[str, Any]]:
    return [
        {
            "group_control_number": a.group_control_number,
            "status": a.status,
            "sets_included": a.sets_included,
            "sets_accepted": a.sets_accepted,
            "transaction_sets": [
                {
                    "transaction_control_number": s.control_number,
                    "status": s.status,
                    "errors": [describe_segment_error(e) for e in s.errors],
                }
                for s in a.transaction_sets
            ],
        }
        for a in acks
    ]


def _without_x12(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "x12"}
