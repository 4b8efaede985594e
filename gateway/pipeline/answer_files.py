"""X12 files the gateway writes for a submitter's outbox: its own 277CA for claims rejected in
scrubbing, and each submitter's share of the payers' 277CAs and 835s, re-enveloped from us.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.claim_ack import (
    ClaimAcknowledgment,
    ClaimStatus,
    Party,
    ProviderStatus,
    Status,
    StatusCode,
)
from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.remittance import ClaimPayment, Remittance
from edi.write_277ca import acknowledge_claims, billing_party, build_277ca, claim_status
from edi.write_835 import build_835
from edi.x12 import x12_text
from gateway.crypto import Sealer
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage import db
from gateway.storage import files as fs
from gateway.storage import interchanges as ix
from gateway.storage.claims import ClaimRecord
from gateway.storage.lifecycle import ClaimStatus as LifecycleStatus
from gateway.storage.tables import claim_events, claims, files, submitters

X12_KEY_PREFIX = "x12:"  # idempotency keys of claims that came in an 837 file (intake/x12.py)


@dataclasses.dataclass
class Forward:
    """What one applied response file said about each submitter's claims."""

    claim_statuses: dict[str, list[tuple[ClaimAcknowledgment, ProviderStatus, ClaimStatus]]] = (
        dataclasses.field(default_factory=dict)
    )
    payments: dict[str, list[tuple[Remittance, ClaimPayment]]] = dataclasses.field(
        default_factory=dict
    )


async def _receiver(conn: AsyncConnection, submitter_id: str) -> tuple[str, str]:
    """(name, interchange id) of the submitter: the ISA06 of its latest 837 file, or its name."""
    name = (
        await conn.execute(select(submitters.c.name).where(submitters.c.id == submitter_id))
    ).scalar_one()
    details = await conn.execute(
        select(files.c.detail)
        .where(files.c.submitter_id == submitter_id, files.c.direction == fs.INBOUND)
        .order_by(files.c.pk.desc())
        .limit(20)
    )
    for detail in details.scalars():
        sender = (detail or {}).get("interchange_sender")
        if sender:
            return name, str(sender)[:15]
    return name, "".join(c for c in name.upper() if c.isalnum())[:15] or "SUBMITTER"


async def _envelope(
    conn: AsyncConnection, x12: X12Settings, receiver_id: str, now: datetime
) -> EnvelopeParams:
    control = await ix.next_control_number(conn, x12.sender_id, receiver_id)
    return EnvelopeParams(
        sender_id=x12.sender_id,
        sender_qualifier=x12.sender_qualifier,
        receiver_id=receiver_id,
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=now,
    )


async def _record(
    conn: AsyncConnection,
    sealer: Sealer,
    submitter_id: str,
    kind: str,
    params: EnvelopeParams,
    content: str,
    detail: dict[str, object],
) -> fs.File:
    return await fs.add_file(
        conn,
        sealer,
        submitter_id=submitter_id,
        direction=fs.OUTBOUND,
        channel="gateway",
        kind=kind,
        name=f"{kind}-{params.interchange_control_number:09d}.x12",
        body=content.encode(),
        state=fs.PROCESSED,
        detail=detail,
    )


# STC01-3, the entity whose data is wrong, from where the first error points in the claim.
_ENTITIES = {"billing_provider": "85", "pay_to_address": "87", "rendering_provider": "82",
             "referring_provider": "DN", "attending_provider": "71", "service_facility": "77",
             "subscriber": "IL", "patient": "QC", "payer": "PR"}  # fmt: skip


# STC10-2 with A7:21, which needs a second code saying what is missing or invalid: from the
# field the first error points at (code source 508; 0 when none of these says it better).
_WHAT = (
    ("npi", "562"),  # Entity's NPI
    ("member_id", "164"),  # Entity's contract or member number
    ("diagnos", "447"),  # Diagnosis code
    ("procedure", "454"),  # Procedure code for services rendered
    ("modifiers", "454"),
    ("birth_date", "0"),  # (no code of ours says it)
    ("date", "187"),  # Date(s) of service
    ("statement_", "187"),
    ("place_of_service", "249"),  # Place of service code
    ("billing_provider/address", "458"),  # Entity's billing address
    ("other_payers", "479"),  # Previous payment information
    ("name", "145"),  # Entity's name
)


def what_is_wrong(pointer: str) -> str:
    """The claim status code (STC10-2) for the field `pointer` names."""
    return next((code for part, code in _WHAT if part in pointer), "0")


def rejection_status(error_codes: list[str], pointer: str = "") -> StatusCode:
    """A7 (rejected for invalid information) with 22 for a duplicate claim, else 21 (missing
    or invalid information): codes every billing system reads; the entity is the party whose
    data is wrong (85 billing provider, IL subscriber, ...), 41 (the submitter) for the claim's
    own data. The rule codes go in STC12."""
    duplicate = any("DUPLICATE" in code for code in error_codes)
    entity = _ENTITIES.get(pointer.split("/")[1] if pointer.count("/") else "", "41")
    return StatusCode("A7", "22" if duplicate else "21", entity)


async def claims_scrubbed(
    conn: AsyncConnection, sealer: Sealer, x12: X12Settings, records: list[ClaimRecord]
) -> None:
    """Count scrubbed claims against the 837 files they came in (none for JSON claims, whose
    submitter reads the findings over the API); a file's last one makes the file's 277CA."""
    per_file = Counter(
        (r.idempotency_key or "").split(":")[1]
        for r in records
        if (r.idempotency_key or "").startswith(X12_KEY_PREFIX)
    )
    for file_id in sorted(per_file):  # one lock order for every transaction
        # The update locks the file row: the scrubs of its claims, and the intake finishing
        # it, take their turns, so exactly one of them sees the file complete.
        await conn.execute(
            update(files)
            .where(files.c.id == file_id)
            .values(claims_scrubbed=files.c.claims_scrubbed + per_file[file_id])
        )
        await file_scrubbed(conn, sealer, x12, file_id)


_READ_CHUNK = 1000  # claims per query, well under SQLite's limit on bound values


async def file_scrubbed(
    conn: AsyncConnection, sealer: Sealer, x12: X12Settings, file_id: str
) -> fs.File | None:
    """Our one 277CA for the claims of an 837 file rejected by the scrubber, made once the
    file is processed and the scrubber has judged every claim it admitted. Called with the
    file row locked (by the caller's update), from the scrub step and from the intake."""
    row = (
        await conn.execute(
            select(
                files.c.submitter_id,
                files.c.state,
                files.c.claims_accepted,
                files.c.claims_scrubbed,
                files.c.detail,
            ).where(files.c.id == file_id)
        )
    ).first()
    if row is None or row.state != fs.PROCESSED or row.claims_scrubbed < row.claims_accepted:
        return None
    detail = dict(row.detail or {})
    if "scrub_277ca" in detail:
        return None  # made already
    rejected = (
        await conn.execute(
            select(claims.c.id)
            .where(
                claims.c.submitter_id == row.submitter_id,
                claims.c.idempotency_key.startswith(f"{X12_KEY_PREFIX}{file_id}:"),
                claims.c.status == LifecycleStatus.SCRUB_REJECTED.value,
            )
            .order_by(claims.c.pk)
        )
    ).scalars()
    now = datetime.now(UTC)
    ids = list(rejected)
    statuses = []
    # Read a chunk at a time, not a claim at a time: a large file can have thousands.
    for start in range(0, len(ids), _READ_CHUNK):
        chunk = ids[start : start + _READ_CHUNK]
        payloads = await store.claim_payloads(conn, sealer, chunk)
        codes = await _rule_codes(conn, chunk)
        for claim_id in chunk:
            claim = claim_from_json(payloads[claim_id])
            found, pointer = codes[claim_id]
            message = ",".join(found) + (f" at {pointer}" if pointer else "")
            status = _rejected(
                claim,
                claim_id,
                rejection_status(found, pointer),
                message,
                now,
                pointer,
            )
            statuses.append((billing_party(claim), status))
    detail_277ca: dict[str, object] = {"claims": ids, "source": "scrub"}
    reference = detail.get("bht03")
    answer = await _gateway_277ca(
        conn, sealer, x12, row.submitter_id, statuses, now, detail_277ca, file_id, reference
    )
    await fs.update_file(
        conn, file_id, detail={**detail, "scrub_277ca": answer.id if answer else None}
    )
    return answer


async def intake_refusals_277ca(
    conn: AsyncConnection,
    sealer: Sealer,
    x12: X12Settings,
    submitter_id: str,
    file_id: str,
    refused: list[tuple[Claim, str, str]],
    batch_reference: str | None,
) -> fs.File | None:
    """Our 277CA for the claims of an 837 file that were read but are not valid claims (each
    with what is wrong): the 999 accepted their sets, so this is where the submitter learns
    that they went no further."""
    if not refused:
        return None
    now = datetime.now(UTC)
    statuses = []
    for claim, message, pointer in refused:
        code = rejection_status([], pointer)  # A7:21, the party whose data is wrong
        statuses.append((billing_party(claim), _rejected(claim, None, code, message, now, pointer)))
    detail = {"source": "intake", "claims_refused": len(refused)}
    return await _gateway_277ca(
        conn, sealer, x12, submitter_id, statuses, now, detail, file_id, batch_reference
    )


async def _gateway_277ca(
    conn: AsyncConnection,
    sealer: Sealer,
    x12: X12Settings,
    submitter_id: str,
    statuses: list[tuple[Party, ClaimStatus]],
    now: datetime,
    detail: dict[str, object],
    file_id: str,
    batch_reference: str | None,
) -> fs.File | None:
    """A 277CA from the gateway itself about claims of the submitter's file `file_id`."""
    if not statuses:
        return None
    name, receiver_id = await _receiver(conn, submitter_id)
    params = await _envelope(conn, x12, receiver_id, now)
    ack = acknowledge_claims(
        statuses,
        reference=f"{params.interchange_control_number:09d}",
        created=now.date(),
        source=Party("CLEARWAY", x12.sender_id, "46"),
        receiver=Party(name[:60], receiver_id, "46"),
        # 2200B TRN02: the submitter's own batch reference (its file's BHT03) when known.
        receiver_trace=batch_reference or file_id[:30],
        source_is_clearinghouse=True,  # 2100A NM1*AY: our own answer, not a payer's
    )
    return await _record(
        conn,
        sealer,
        submitter_id,
        "277CA",
        params,
        build_277ca([ack], params),
        {**detail, "answers": file_id},
    )


async def _rule_codes(
    conn: AsyncConnection, claim_ids: list[str]
) -> dict[str, tuple[list[str], str]]:
    """Per claim, the codes of the error findings that rejected it (its last scrub event) and
    where the first of them points."""
    found: dict[str, tuple[list[str], str]] = {claim_id: ([], "") for claim_id in claim_ids}
    rows = await conn.execute(
        select(claim_events.c.claim_id, claim_events.c.detail)
        .where(
            db.among(conn, claim_events.c.claim_id, claim_ids),
            claim_events.c.kind == "scrub_rejected",
        )
        .order_by(claim_events.c.pk)
    )
    for claim_id, detail in rows:
        errors = [f for f in (detail or {}).get("findings", []) if f.get("severity") == "error"]
        pointer = str(errors[0].get("pointer") or "") if errors else ""
        found[claim_id] = (sorted({f["code"] for f in errors}), pointer)
    return found


def _rejected(
    claim: Claim,
    claim_id: str | None,
    code: StatusCode,
    message: str,
    now: datetime,
    pointer: str = "",
) -> ClaimStatus:
    # Code 21 (missing or invalid information) is followed by what is (STC10).
    additional = (StatusCode("A7", what_is_wrong(pointer), None),) if code.code == "21" else ()
    status = Status(
        code,
        now.date(),
        "U",
        claim.total_charge,
        additional=additional,
        message=x12_text(message)[:264],
    )
    trace = claim_id.replace("-", "")[:30] if claim_id else None
    return claim_status(claim, status, clearinghouse_trace=trace)


async def forward_responses(
    conn: AsyncConnection, sealer: Sealer, x12: X12Settings, forward: Forward, response_id: str
) -> list[fs.File]:
    """Each submitter's share of an applied payer 277CA/835, as files in its outbox."""
    now = datetime.now(UTC)
    recorded = []
    for submitter_id, statuses in forward.claim_statuses.items():
        name, receiver_id = await _receiver(conn, submitter_id)
        params = await _envelope(conn, x12, receiver_id, now)
        by_ack: dict[int, list[tuple[ClaimAcknowledgment, ProviderStatus, ClaimStatus]]] = {}
        for item in statuses:
            by_ack.setdefault(id(item[0]), []).append(item)
        acks = [
            acknowledge_claims(
                [(provider.provider, status) for _, provider, status in items],
                reference=items[0][0].reference,
                created=items[0][0].created,
                source=items[0][0].source,
                source_trace=items[0][0].source_trace,
                receiver=Party(name[:60], receiver_id, "46"),
                receiver_trace=items[0][0].receiver_trace,
            )
            for items in by_ack.values()
        ]
        recorded.append(
            await _record(
                conn,
                sealer,
                submitter_id,
                "277CA",
                params,
                build_277ca(acks, params),
                {"source": "payer", "response_id": response_id},
            )
        )
    for submitter_id, payments in forward.payments.items():
        _, receiver_id = await _receiver(conn, submitter_id)
        params = await _envelope(conn, x12, receiver_id, now)
        by_remittance: dict[int, tuple[Remittance, list[ClaimPayment]]] = {}
        for remittance, payment in payments:
            by_remittance.setdefault(id(remittance), (remittance, []))[1].append(payment)
        remittances = [_share(r, claims) for r, claims in by_remittance.values()]
        recorded.append(
            await _record(
                conn,
                sealer,
                submitter_id,
                "835",
                params,
                build_835(remittances, params),
                {"source": "payer", "response_id": response_id},
            )
        )
    return recorded


def _share(remittance: Remittance, claims: list[ClaimPayment]) -> Remittance:
    """The remittance as it concerns these claims. When it also pays other submitters' claims,
    the amount is theirs alone and provider-level adjustments (PLB), which belong to no one
    claim, are left out so that the copy still balances."""
    if len(claims) == len(remittance.claims):
        return dataclasses.replace(remittance, findings=(), envelope=None)
    paid = sum((c.paid for c in claims), Decimal(0))
    return dataclasses.replace(
        remittance,
        payment=dataclasses.replace(remittance.payment, amount=paid),
        claims=tuple(claims),
        provider_adjustments=(),
        findings=(),
        envelope=None,
    )
