"""Reads and writes of interchanges (X12 files in and out), their claims, and control numbers.

Bodies are sealed here; control numbers come from a per sender/receiver sequence row that is
incremented inside the caller's transaction, so a number is never handed out twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.crypto import Sealer
from gateway.storage.claims import decode_cursor, new_id, page_of, utcnow
from gateway.storage.tables import control_numbers, interchange_claims, interchanges

OUTBOUND, INBOUND = "outbound", "inbound"
# Outbound: ready (stored, not yet accepted by the transport), sent, dead (gave up).
# Inbound: received (stored, not yet applied), applied, unmatched, duplicate, unreadable.
READY, SENT, DEAD = "ready", "sent", "dead"
RECEIVED, APPLIED, UNMATCHED, DUPLICATE, UNREADABLE = (
    "received",
    "applied",
    "unmatched",
    "duplicate",
    "unreadable",
)
CURSOR = "i"  # the first letter of the listing's cursors (see store.decode_cursor)


@dataclass(frozen=True)
class Interchange:
    id: str
    direction: str
    payer_id: str
    submitter_id: str | None
    kind: str
    control_number: int | None
    state: str
    sha256: str
    size: int
    claim_count: int
    attempts: int
    last_error: str | None
    detail: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


_COLUMNS = [c for c in interchanges.c if c.name not in ("pk", "body")]


def _aad(interchange_id: str) -> bytes:
    return f"interchanges.body:{interchange_id}".encode()


async def next_control_number(conn: AsyncConnection, sender_id: str, receiver_id: str) -> int:
    """The next ISA13 for this pair: 1..999,999,999, then wrapping (X12 allows reuse only
    after a long time, which a billion interchanges per pair gives)."""
    # One upsert, so two transactions taking a pair's first number never collide.
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        upsert(control_numbers)
        .values(sender_id=sender_id, receiver_id=receiver_id, last_value=1)
        .on_conflict_do_update(
            index_elements=[control_numbers.c.sender_id, control_numbers.c.receiver_id],
            set_={"last_value": control_numbers.c.last_value % 999_999_999 + 1},
        )
        .returning(control_numbers.c.last_value)
    )
    return int((await conn.execute(statement)).scalar_one())


async def insert_interchange(
    conn: AsyncConnection,
    sealer: Sealer,
    *,
    direction: str,
    payer_id: str,
    kind: str,
    body: bytes,
    state: str,
    control_number: int | None = None,
    submitter_id: str | None = None,
    claim_count: int = 0,
    detail: dict[str, Any] | None = None,
) -> Interchange:
    interchange_id = new_id()
    now = utcnow()
    values = dict(
        id=interchange_id,
        direction=direction,
        payer_id=payer_id,
        submitter_id=submitter_id,
        kind=kind,
        control_number=control_number,
        state=state,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        claim_count=claim_count,
        attempts=0,
        last_error=None,
        detail=detail or {},
        created_at=now,
        updated_at=now,
        sent_at=None,
    )
    await conn.execute(
        insert(interchanges).values(**values, body=sealer.seal(body, _aad(interchange_id)))
    )
    return Interchange(**values)  # type: ignore[arg-type]


async def link_claims(
    conn: AsyncConnection, interchange_id: str, claims: list[tuple[str, str]]
) -> None:
    """Record which claims an interchange carries: (claim id, ST02 of its transaction set)."""
    await conn.execute(
        insert(interchange_claims),
        [
            {"interchange_id": interchange_id, "claim_id": c, "transaction_control_number": st02}
            for c, st02 in claims
        ],
    )


async def get_interchange(conn: AsyncConnection, interchange_id: str) -> Interchange | None:
    row = (await conn.execute(select(*_COLUMNS).where(interchanges.c.id == interchange_id))).first()
    return Interchange(**row._asdict()) if row else None


async def interchange_body(conn: AsyncConnection, sealer: Sealer, interchange_id: str) -> bytes:
    sealed = (
        await conn.execute(select(interchanges.c.body).where(interchanges.c.id == interchange_id))
    ).scalar_one()
    return sealer.open(sealed, _aad(interchange_id))


async def set_state(
    conn: AsyncConnection,
    interchange_id: str,
    state: str,
    *,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
    sent_at: datetime | None = None,
    attempts: int | None = None,
    kind: str | None = None,
) -> None:
    values: dict[str, Any] = {"state": state, "updated_at": utcnow(), "last_error": error}
    if kind is not None:
        values["kind"] = kind
    if detail is not None:
        values["detail"] = detail
    if sent_at is not None:
        values["sent_at"] = sent_at
    if attempts is not None:
        values["attempts"] = attempts
    await conn.execute(
        update(interchanges).where(interchanges.c.id == interchange_id).values(**values)
    )


async def claims_of(conn: AsyncConnection, interchange_id: str) -> list[tuple[str, str]]:
    """(claim id, ST02) of every claim an outbound interchange carries."""
    rows = await conn.execute(
        select(interchange_claims.c.claim_id, interchange_claims.c.transaction_control_number)
        .where(interchange_claims.c.interchange_id == interchange_id)
        .order_by(interchange_claims.c.claim_id)
    )
    return [(r.claim_id, r.transaction_control_number) for r in rows]


async def seen_inbound(conn: AsyncConnection, payer_id: str, sha256: str) -> Interchange | None:
    """An inbound file already stored with the same content, if any."""
    row = (
        await conn.execute(
            select(*_COLUMNS)
            .where(
                interchanges.c.direction == INBOUND,
                interchanges.c.payer_id == payer_id,
                interchanges.c.sha256 == sha256,
                interchanges.c.state != DUPLICATE,
            )
            .limit(1)
        )
    ).first()
    return Interchange(**row._asdict()) if row else None


async def outbound_by_control_number(
    conn: AsyncConnection, payer_id: str, control_number: int
) -> Interchange | None:
    row = (
        await conn.execute(
            select(*_COLUMNS)
            .where(
                interchanges.c.direction == OUTBOUND,
                interchanges.c.payer_id == payer_id,
                interchanges.c.control_number == control_number,
            )
            .order_by(interchanges.c.pk.desc())
            .limit(1)
        )
    ).first()
    return Interchange(**row._asdict()) if row else None


async def list_interchanges(
    conn: AsyncConnection,
    *,
    direction: str | None = None,
    states: tuple[str, ...] = (),
    payer_id: str | None = None,
    submitter_id: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Interchange], str | None]:
    """Newest first; with submitter_id, only that submitter's files. Returns the page and the
    cursor for the next one (None at the end)."""
    query = select(interchanges.c.pk, *_COLUMNS).order_by(interchanges.c.pk.desc()).limit(limit + 1)
    if submitter_id:
        query = query.where(interchanges.c.submitter_id == submitter_id)
    if direction:
        query = query.where(interchanges.c.direction == direction)
    if states:
        query = query.where(interchanges.c.state.in_(states))
    if payer_id:
        query = query.where(interchanges.c.payer_id == payer_id)
    if cursor is not None:
        query = query.where(interchanges.c.pk < decode_cursor(CURSOR, cursor))
    rows, next_cursor = page_of((await conn.execute(query)).all(), limit, CURSOR)
    page = [Interchange(**{k: v for k, v in r._asdict().items() if k != "pk"}) for r in rows]
    return page, next_cursor


async def outbound_counts(conn: AsyncConnection) -> dict[str, dict[str, int]]:
    """Outbound interchanges per payer and state (ready, sent, dead)."""
    rows = await conn.execute(
        select(interchanges.c.payer_id, interchanges.c.state, func.count())
        .where(interchanges.c.direction == OUTBOUND)
        .group_by(interchanges.c.payer_id, interchanges.c.state)
    )
    counts: dict[str, dict[str, int]] = {}
    for payer_id, state, n in rows:
        counts.setdefault(payer_id, {})[state] = int(n)
    return counts
