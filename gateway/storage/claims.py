"""Reads and writes of submitters, claims, claim events, claim batches and intake rejections.

Every function takes an open connection, so a pipeline step composes several of them into the
one transaction it commits. Sealed columns are sealed and opened here, nowhere else.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.remittance import ClaimPayment
from gateway.crypto import Sealer, hash_api_key, new_api_key
from gateway.storage import db, jobs
from gateway.storage.lifecycle import ClaimStatus, can_transition
from gateway.storage.tables import (
    api_keys,
    claim_batches,
    claim_events,
    claims,
    files,
    intake_rejections,
    interchange_claims,
    interchanges,
    remittances,
    sender_ids,
    sftp_keys,
    submitters,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Submitter:
    id: str
    name: str
    operator: bool = False


@dataclass(frozen=True)
class ClaimRecord:
    """A claim row without its sealed payload."""

    pk: int
    id: str
    submitter_id: str
    status: ClaimStatus
    version: int
    claim_type: str
    payer_id: str
    patient_control_number: str  # CLM01
    frequency_code: str  # CLM05-3
    total_charge: Decimal  # CLM02
    service_date_start: date
    service_date_end: date
    idempotency_key: str | None
    request_sha256: str
    duplicate_key: str | None  # keyed hash, see payers.duplicates
    payer_claim_number: str | None  # 277CA REF*1K / 835 CLP07, once the payer assigns one
    corrects_claim_id: str | None  # a replacement or void: the claim it corrects (REF*F8)
    received_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ClaimEvent:
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class ClaimFilter:
    status: tuple[ClaimStatus, ...] = ()
    payer_ids: tuple[str, ...] = ()  # any of these (a payer's id and its aliases)
    patient_control_number: str | None = None
    service_date_from: date | None = None
    service_date_to: date | None = None
    updated_from: date | None = None  # last status change on or after this day (UTC)
    updated_to: date | None = None  # ... on or before this day


class StaleClaim(Exception):
    """The claim changed since it was read (compare-and-set lost); reload and decide again."""


# Submitters ---------------------------------------------------------------------------------


async def create_submitter(
    conn: AsyncConnection, name: str, *, operator: bool = False
) -> tuple[Submitter, str]:
    """Create a submitter with its first API key; the key is returned once and stored hashed."""
    submitter = Submitter(new_id(), name, operator)
    now = utcnow()
    await conn.execute(
        insert(submitters).values(
            id=submitter.id, name=name, active=True, operator=operator, created_at=now
        )
    )
    api_key = await add_api_key(conn, submitter.id)
    return submitter, api_key


def api_key_prefix(api_key: str) -> str:
    """The key's first characters, kept in the clear to tell keys apart and to revoke one."""
    return api_key[:10]


async def add_api_key(conn: AsyncConnection, submitter_id: str) -> str:
    api_key = new_api_key()
    await conn.execute(
        insert(api_keys).values(
            id=new_id(),
            submitter_id=submitter_id,
            key_hash=hash_api_key(api_key),
            prefix=api_key_prefix(api_key),
            created_at=utcnow(),
        )
    )
    return api_key


# Built once: every API request runs it.
_SUBMITTER_BY_KEY_HASH = (
    select(submitters.c.id, submitters.c.name, submitters.c.operator)
    .join(api_keys, api_keys.c.submitter_id == submitters.c.id)
    .where(
        api_keys.c.key_hash == bindparam("key_hash"),
        api_keys.c.revoked_at.is_(None),
        submitters.c.active.is_(True),
    )
)


async def submitter_by_api_key(conn: AsyncConnection, api_key: str) -> Submitter | None:
    result = await conn.execute(_SUBMITTER_BY_KEY_HASH, {"key_hash": hash_api_key(api_key)})
    row = result.first()
    return Submitter(row.id, row.name, row.operator) if row else None


async def list_submitters(conn: AsyncConnection) -> list[Submitter]:
    rows = await conn.execute(
        select(submitters.c.id, submitters.c.name, submitters.c.operator).order_by(
            submitters.c.name
        )
    )
    return [Submitter(r.id, r.name, r.operator) for r in rows]


async def submitter_by_name(conn: AsyncConnection, name: str) -> Submitter | None:
    row = (
        await conn.execute(
            select(submitters.c.id, submitters.c.name, submitters.c.operator).where(
                submitters.c.name == name, submitters.c.active.is_(True)
            )
        )
    ).first()
    return Submitter(row.id, row.name, row.operator) if row else None


async def add_sftp_key(
    conn: AsyncConnection, submitter_id: str, *, public_key: str, fingerprint: str
) -> str:
    """Register a public key for the SFTP drop; IntegrityError when the key is already in use."""
    key_id = new_id()
    await conn.execute(
        insert(sftp_keys).values(
            id=key_id,
            submitter_id=submitter_id,
            fingerprint=fingerprint,
            public_key=public_key,
            created_at=utcnow(),
        )
    )
    return key_id


async def submitter_by_sftp_key(conn: AsyncConnection, fingerprint: str) -> Submitter | None:
    """The active submitter this live key is registered to (a fingerprint is registered once).
    The SFTP server then checks the user name against the one made from its name."""
    row = (
        await conn.execute(
            select(submitters.c.id, submitters.c.name, submitters.c.operator)
            .join(sftp_keys, sftp_keys.c.submitter_id == submitters.c.id)
            .where(
                submitters.c.active.is_(True),
                sftp_keys.c.fingerprint == fingerprint,
                sftp_keys.c.revoked_at.is_(None),
            )
        )
    ).first()
    return Submitter(row.id, row.name, row.operator) if row else None


async def sender_ids_of(conn: AsyncConnection, submitter_id: str) -> list[str]:
    """The interchange sender ids (ISA06/GS02) the submitter's X12 files may come from."""
    rows = await conn.execute(
        select(sender_ids.c.sender_id)
        .where(sender_ids.c.submitter_id == submitter_id)
        .order_by(sender_ids.c.sender_id)
    )
    return list(rows.scalars())


async def owners_of_sender_ids(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, str]:
    """sender id -> the submitter it is registered to, for those of `ids` that are."""
    if not ids:
        return {}
    rows = await conn.execute(
        select(sender_ids.c.sender_id, sender_ids.c.submitter_id).where(
            sender_ids.c.sender_id.in_(sorted(set(ids)))
        )
    )
    return {r.sender_id: r.submitter_id for r in rows}


async def add_sender_id(conn: AsyncConnection, submitter_id: str, sender_id: str) -> None:
    """Register an interchange sender id; IntegrityError when some submitter already has it."""
    await conn.execute(
        insert(sender_ids).values(
            sender_id=sender_id, submitter_id=submitter_id, created_at=utcnow()
        )
    )


async def remove_sender_id(conn: AsyncConnection, submitter_id: str, sender_id: str) -> bool:
    result = await conn.execute(
        delete(sender_ids).where(
            sender_ids.c.submitter_id == submitter_id, sender_ids.c.sender_id == sender_id
        )
    )
    return bool(result.rowcount)


# Claims -------------------------------------------------------------------------------------


def _payload_aad(claim_id: str) -> bytes:
    return f"claims.payload:{claim_id}".encode()


@dataclass(frozen=True)
class NewClaim:
    """A schema-checked claim, ready to be recorded as RECEIVED."""

    claim: Claim
    claim_json: dict[str, Any]
    request_sha256: str
    idempotency_key: str | None
    duplicate_key: str | None  # keyed hash, see payers.duplicates


def _received_values(
    sealer: Sealer, submitter_id: str, new: NewClaim, now: datetime
) -> dict[str, Any]:
    claim_id = new_id()
    claim = new.claim
    payload = json.dumps(new.claim_json, separators=(",", ":"), sort_keys=True).encode()
    return dict(
        id=claim_id,
        submitter_id=submitter_id,
        status=ClaimStatus.RECEIVED.value,
        version=1,
        claim_type=claim.claim_type,
        payer_id=claim.payer.payer_id,
        patient_control_number=claim.patient_control_number,
        frequency_code=claim.frequency_code,
        total_charge=claim.total_charge,
        service_date_start=claim.service_date_start,
        service_date_end=claim.service_date_end,
        payload=sealer.seal(payload, _payload_aad(claim_id)),
        idempotency_key=new.idempotency_key,
        request_sha256=new.request_sha256,
        duplicate_key=new.duplicate_key,
        payer_claim_number=None,
        corrects_claim_id=None,
        received_at=now,
        updated_at=now,
    )


# Built once: these run for every claim received, and building a statement per call costs
# more than executing it. Given a list of rows, each is one multi-row INSERT.
_INSERT_CLAIMS = insert(claims).returning(claims.c.pk, sort_by_parameter_order=True)
_INSERT_EVENTS = insert(claim_events)


async def insert_received_claims(
    conn: AsyncConnection,
    sealer: Sealer,
    new: Sequence[NewClaim],
    *,
    submitter_id: str,
    event_detail: dict[str, Any],
) -> list[ClaimRecord]:
    """Record claims as RECEIVED, each with its first event and its scrub job, in `conn`'s
    transaction: three multi-row statements, however many claims."""
    if not new:
        return []
    now = utcnow()
    rows = [_received_values(sealer, submitter_id, item, now) for item in new]
    pks = (await conn.execute(_INSERT_CLAIMS, rows)).scalars().all()
    received = ClaimStatus.RECEIVED.value
    await conn.execute(
        _INSERT_EVENTS,
        [
            dict(
                claim_id=row["id"],
                at=now,
                kind="received",
                from_status=None,
                to_status=received,
                detail=event_detail,
            )
            for row in rows
        ],
    )
    await jobs.enqueue_many(conn, "scrub", [(row["id"], {}) for row in rows], at=now)
    records = []
    for pk, row in zip(pks, rows, strict=True):
        row.pop("payload")
        records.append(ClaimRecord(pk=pk, **{**row, "status": ClaimStatus.RECEIVED}))
    return records


async def claim_ids_by_idempotency_keys(
    conn: AsyncConnection, submitter_id: str, keys: Sequence[str]
) -> dict[str, str]:
    """key -> claim id for the keys already used by this submitter."""
    if not keys:
        return {}
    rows = await conn.execute(
        select(claims.c.idempotency_key, claims.c.id).where(
            claims.c.submitter_id == submitter_id, claims.c.idempotency_key.in_(list(keys))
        )
    )
    return {r.idempotency_key: r.id for r in rows}


_RECORD_COLUMNS = [c for c in claims.c if c.name != "payload"]


def _record(row: Row[Any]) -> ClaimRecord:
    return _record_of(row._asdict())


def _record_of(data: dict[str, Any]) -> ClaimRecord:
    data["status"] = ClaimStatus(data["status"])
    return ClaimRecord(**data)


# The API's reads, built once: building a statement costs more than running it on a small
# table, and a statement reused keeps its cache key.
_CLAIM_BY_ID = select(*_RECORD_COLUMNS).where(claims.c.id == bindparam("claim_id"))
_OWNED_CLAIM = _CLAIM_BY_ID.where(claims.c.submitter_id == bindparam("submitter_id"))
_OWNED_CLAIM_AND_PAYLOAD = _OWNED_CLAIM.add_columns(claims.c.payload)


async def get_claim(
    conn: AsyncConnection, claim_id: str, *, submitter_id: str | None = None
) -> ClaimRecord | None:
    """The claim, or None when absent or (with submitter_id) owned by another submitter."""
    if submitter_id is None:
        result = await conn.execute(_CLAIM_BY_ID, {"claim_id": claim_id})
    else:
        result = await conn.execute(
            _OWNED_CLAIM, {"claim_id": claim_id, "submitter_id": submitter_id}
        )
    row = result.first()
    return _record(row) if row else None


async def owned_claim_and_payload(
    conn: AsyncConnection, sealer: Sealer, claim_id: str, submitter_id: str
) -> tuple[ClaimRecord, dict[str, Any]] | None:
    """The submitter's claim with its opened payload, in one query; None as `get_claim`."""
    row = (
        await conn.execute(
            _OWNED_CLAIM_AND_PAYLOAD, {"claim_id": claim_id, "submitter_id": submitter_id}
        )
    ).first()
    if row is None:
        return None
    data = row._asdict()
    sealed = data.pop("payload")
    return _record_of(data), json.loads(sealer.open(sealed, _payload_aad(claim_id)))


async def get_claims(
    conn: AsyncConnection, claim_ids: Sequence[str], *, lock: bool = False
) -> list[ClaimRecord]:
    """The claims with these ids that exist, in the order they arrived. With `lock`, on
    PostgreSQL they are also locked, in id order as `lock_claims` does, in the same query."""
    if not claim_ids:
        return []
    query = select(*_RECORD_COLUMNS).where(db.among(conn, claims.c.id, claim_ids))
    if lock and conn.dialect.name == "postgresql":
        rows = await conn.execute(query.order_by(claims.c.id).with_for_update())
        return [_record(r) for r in sorted(rows, key=lambda r: r.pk)]
    return [_record(r) for r in await conn.execute(query.order_by(claims.c.pk))]


async def claim_by_idempotency_key(
    conn: AsyncConnection, submitter_id: str, idempotency_key: str
) -> ClaimRecord | None:
    row = (
        await conn.execute(
            select(*_RECORD_COLUMNS).where(
                claims.c.submitter_id == submitter_id, claims.c.idempotency_key == idempotency_key
            )
        )
    ).first()
    return _record(row) if row else None


async def claim_payload(conn: AsyncConnection, sealer: Sealer, claim_id: str) -> dict[str, Any]:
    sealed = (
        await conn.execute(select(claims.c.payload).where(claims.c.id == claim_id))
    ).scalar_one()
    return json.loads(sealer.open(sealed, _payload_aad(claim_id)))


async def claim_payloads(
    conn: AsyncConnection, sealer: Sealer, claim_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    if not claim_ids:
        return {}
    rows = await conn.execute(
        select(claims.c.id, claims.c.payload).where(db.among(conn, claims.c.id, claim_ids))
    )
    return {r.id: json.loads(sealer.open(r.payload, _payload_aad(r.id))) for r in rows}


async def list_claims(
    conn: AsyncConnection,
    submitter_id: str,
    claim_filter: ClaimFilter,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[ClaimRecord], str | None]:
    """Newest first; returns the page and the cursor for the next one (None at the end)."""
    conditions = [claims.c.submitter_id == submitter_id]
    if claim_filter.status:
        conditions.append(claims.c.status.in_([s.value for s in claim_filter.status]))
    if claim_filter.payer_ids:
        conditions.append(claims.c.payer_id.in_(claim_filter.payer_ids))
    if claim_filter.patient_control_number:
        conditions.append(claims.c.patient_control_number == claim_filter.patient_control_number)
    # A claim matches a date range when any of its service dates falls inside it.
    if claim_filter.service_date_from:
        conditions.append(claims.c.service_date_end >= claim_filter.service_date_from)
    if claim_filter.service_date_to:
        conditions.append(claims.c.service_date_start <= claim_filter.service_date_to)
    # "Denied last week": the day of the claim's last status change, whole UTC days.
    if claim_filter.updated_from:
        since = datetime.combine(claim_filter.updated_from, time(), UTC)
        conditions.append(claims.c.updated_at >= since)
    if claim_filter.updated_to:
        before = datetime.combine(claim_filter.updated_to + timedelta(days=1), time(), UTC)
        conditions.append(claims.c.updated_at < before)
    if cursor is not None:
        conditions.append(claims.c.pk < decode_cursor(CLAIMS_CURSOR, cursor))
    rows = (
        await conn.execute(
            select(*_RECORD_COLUMNS)
            .where(and_(*conditions))
            .order_by(claims.c.pk.desc())
            .limit(limit + 1)
        )
    ).all()
    page, next_cursor = page_of(rows, limit, CLAIMS_CURSOR)
    return [_record(r) for r in page], next_cursor


# Each listing's cursors start with its own letter, so one listing's cursor is refused by
# another rather than silently skipping to an unrelated place in it.
CLAIMS_CURSOR = "c"
# Primary keys are BIGINT: more digits would overflow the comparison on PostgreSQL.
_CURSOR_PK = re.compile(r"[0-9]{1,18}")


def page_of(
    rows: Sequence[Row[Any]], limit: int, kind: str
) -> tuple[Sequence[Row[Any]], str | None]:
    """Up to `limit + 1` rows read newest first (by pk) -> the page and the cursor for the next
    one (None at the end): the extra row only tells that there is a next page."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(kind, rows[limit - 1].pk)


def encode_cursor(kind: str, pk: int) -> str:
    """An opaque cursor for listing `kind`: its next page starts after the row with this pk."""
    return base64.urlsafe_b64encode(f"{kind}{pk}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int:
    """The pk in a cursor of listing `kind`. Raises ValueError for a cursor this gateway did
    not issue for that listing."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor issued by this gateway") from None
    pk = text.removeprefix(kind)
    if not text.startswith(kind) or not _CURSOR_PK.fullmatch(pk):
        raise ValueError("not a cursor issued by this gateway")
    return int(pk)


async def earlier_claims(
    conn: AsyncConnection,
    submitter_id: str,
    *,
    patient_control_numbers: Sequence[str],
    duplicate_keys: Sequence[str],
    received_since: datetime,
) -> list[ClaimRecord]:
    """The submitter's claims with one of these patient control numbers (any age) or one of
    these duplicate keys (received since `received_since`), oldest first."""
    match = db.among(conn, claims.c.patient_control_number, patient_control_numbers)
    if duplicate_keys:
        match = or_(
            match,
            and_(
                db.among(conn, claims.c.duplicate_key, duplicate_keys),
                claims.c.received_at >= received_since,
            ),
        )
    query = (
        select(*_RECORD_COLUMNS)
        .where(claims.c.submitter_id == submitter_id, match)
        .order_by(claims.c.pk)
    )
    return [_record(r) for r in await conn.execute(query)]


async def claims_by_payer_claim_number(
    conn: AsyncConnection, submitter_id: str, payer_ids: Sequence[str], payer_claim_number: str
) -> list[ClaimRecord]:
    """The submitter's claims sent to one of `payer_ids` (a payer and its aliases) that the
    payer knows by this number (277CA REF*1K, 835 CLP07), most recent first: what a
    correction naming it in REF*F8 may correct. Never another submitter's claims."""
    rows = await conn.execute(
        select(*_RECORD_COLUMNS)
        .where(
            claims.c.submitter_id == submitter_id,
            claims.c.payer_claim_number == payer_claim_number[:50],
            claims.c.payer_id.in_(list(payer_ids)),
        )
        .order_by(claims.c.pk.desc())
    )
    return [_record(r) for r in rows]


async def link_corrections(conn: AsyncConnection, links: Mapping[str, str]) -> None:
    """Record, for each correction's claim id, the id of the claim it corrects."""
    if not links:
        return
    await conn.execute(
        update(claims)
        .where(claims.c.id == bindparam("claim_id"))
        .values(corrects_claim_id=bindparam("original_id")),
        [{"claim_id": c, "original_id": o} for c, o in sorted(links.items())],
    )


async def corrections_of(conn: AsyncConnection, claim_ids: Sequence[str]) -> list[ClaimRecord]:
    """The claims that correct any of these (replacements and voids), oldest first."""
    if not claim_ids:
        return []
    rows = await conn.execute(
        select(*_RECORD_COLUMNS)
        .where(db.among(conn, claims.c.corrects_claim_id, sorted(set(claim_ids))))
        .order_by(claims.c.pk)
    )
    return [_record(r) for r in rows]


async def claims_for_batch(
    conn: AsyncConnection, *, submitter_id: str, payer_id: str, claim_type: str, limit: int
) -> list[ClaimRecord]:
    """SCRUBBED claims of one submitter for one payer and claim type, oldest first. On
    PostgreSQL they are locked, skipping rows another worker is batching right now."""
    query = (
        select(*_RECORD_COLUMNS)
        .where(
            claims.c.status == ClaimStatus.SCRUBBED.value,
            claims.c.submitter_id == submitter_id,
            claims.c.payer_id == payer_id,
            claims.c.claim_type == claim_type,
        )
        .order_by(claims.c.pk)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [_record(r) for r in await conn.execute(query)]


_EVENT_COLUMNS = (
    claim_events.c.at,
    claim_events.c.kind,
    claim_events.c.from_status,
    claim_events.c.to_status,
    claim_events.c.detail,
)
_LATEST_EVENT = (
    select(*_EVENT_COLUMNS)
    .where(
        claim_events.c.claim_id == bindparam("claim_id"),
        claim_events.c.kind.in_(bindparam("kinds", expanding=True)),
    )
    .order_by(claim_events.c.pk.desc())
    .limit(1)
)


async def latest_event(
    conn: AsyncConnection, claim_id: str, kinds: tuple[str, ...]
) -> ClaimEvent | None:
    result = await conn.execute(_LATEST_EVENT, {"claim_id": claim_id, "kinds": list(kinds)})
    row = result.first()
    return ClaimEvent(**row._asdict()) if row else None


class StatusChanges:
    """Status changes and events of many claims, planned in memory and written by `write` in
    a few statements: one compare-and-set UPDATE per target status, one INSERT of events."""

    def __init__(self) -> None:
        self._read: dict[str, ClaimRecord] = {}  # as read: the version compared on write
        self._now: dict[str, ClaimRecord] = {}  # as planned so far
        self._events: list[dict[str, Any]] = []

    def current(self, record: ClaimRecord) -> ClaimRecord:
        """The record with the changes planned so far."""
        return self._now.get(record.id, record)

    def change(
        self, record: ClaimRecord, new_status: ClaimStatus, kind: str, detail: dict[str, Any]
    ) -> ClaimRecord:
        """Plan a move along the state machine; ValueError for a transition it refuses."""
        record = self.current(record)
        if not can_transition(record.status, new_status):
            raise ValueError(f"claim {record.id}: {record.status} -> {new_status} is not allowed")
        self._read.setdefault(record.id, record)
        moved = replace(record, status=new_status, version=record.version + 1)
        self._now[record.id] = moved
        self._events.append(
            {
                "claim_id": record.id,
                "kind": kind,
                "from_status": record.status.value,
                "to_status": new_status.value,
                "detail": detail,
            }
        )
        return moved

    def note(self, claim_id: str, kind: str, detail: dict[str, Any]) -> None:
        """An event that moves nothing (an answer the state machine does not allow)."""
        self._events.append(
            {"claim_id": claim_id, "kind": kind, "from_status": None, "to_status": None}
            | {"detail": detail}
        )

    async def write(self, conn: AsyncConnection) -> datetime:
        """Write every planned change; StaleClaim when any claim moved since it was read."""
        now = utcnow()
        groups: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for claim_id, read in self._read.items():
            last = self._now[claim_id]
            key = (last.status.value, last.version - read.version)
            groups.setdefault(key, []).append((claim_id, read.version))
        for (status, steps), keys in groups.items():
            keys.sort()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                result = await conn.execute(
                    update(claims)
                    # The plain id list lets PostgreSQL use one index scan, not an OR per pair.
                    .where(
                        db.among(conn, claims.c.id, [c for c, _ in chunk]),
                        db.pairs_among(conn, claims.c.id, claims.c.version, chunk),
                    )
                    .values(status=status, version=claims.c.version + steps, updated_at=now)
                    .returning(claims.c.id)
                )
                matched = set(result.scalars())
                if len(matched) != len(chunk):
                    raise StaleClaim(next(c for c, _ in chunk if c not in matched))
        if self._events:
            await conn.execute(insert(claim_events), [{**e, "at": now} for e in self._events])
        return now


_CHUNK = 500  # claims per UPDATE: two bound values each, well inside every driver's limit


async def change_status(
    conn: AsyncConnection,
    record: ClaimRecord,
    new_status: ClaimStatus,
    kind: str,
    detail: dict[str, Any],
) -> ClaimRecord:
    """Move one claim along the state machine with compare-and-set on its version."""
    changes = StatusChanges()
    moved = changes.change(record, new_status, kind, detail)
    return replace(moved, updated_at=await changes.write(conn))


async def add_event(
    conn: AsyncConnection,
    claim_id: str,
    kind: str,
    from_status: ClaimStatus | None,
    to_status: ClaimStatus | None,
    detail: dict[str, Any],
    *,
    at: datetime,
) -> None:
    await conn.execute(
        insert(claim_events).values(
            claim_id=claim_id,
            at=at,
            kind=kind,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            detail=detail,
        )
    )


_EVENTS_OF_CLAIM = (
    select(*_EVENT_COLUMNS)
    .where(claim_events.c.claim_id == bindparam("claim_id"))
    .order_by(claim_events.c.pk)
)


async def claim_events_of(conn: AsyncConnection, claim_id: str) -> list[ClaimEvent]:
    rows = await conn.execute(_EVENTS_OF_CLAIM, {"claim_id": claim_id})
    return [ClaimEvent(**r._asdict()) for r in rows]


# Intake rejections --------------------------------------------------------------------------


async def record_rejection(
    conn: AsyncConnection,
    sealer: Sealer,
    *,
    submitter_id: str,
    channel: str,
    reason: str,
    errors: list[dict[str, Any]],
    content_type: str | None,
    body: bytes | None,
    body_size: int,
    body_sha256: str | None,
    quota: int,
) -> str:
    """Keep what was received and why it was refused, so nothing sent is ever lost: whole
    while the submitter's refused bodies kept stay within `quota` bytes, else its first
    REFUSED_HEAD_BYTES (its size and sha256 always)."""
    rejection_id = new_id()
    kept = None
    if (
        body is not None
        and len(body) > REFUSED_HEAD_BYTES
        and await refused_bytes_kept(conn, submitter_id) + len(body) > quota
    ):
        body = body[:REFUSED_HEAD_BYTES]
        kept = len(body)
    await conn.execute(
        insert(intake_rejections).values(
            id=rejection_id,
            submitter_id=submitter_id,
            received_at=utcnow(),
            channel=channel,
            reason=reason,
            errors=errors,
            content_type=(content_type or "")[:120] or None,
            body_size=body_size,
            body_sha256=body_sha256,
            body=None
            if body is None
            else sealer.seal(body, f"intake_rejections.body:{rejection_id}".encode()),
            kept_bytes=kept,
        )
    )
    return rejection_id


REFUSED_HEAD_BYTES = 65_536  # what is kept of a refused body past its submitter's quota


def _kept(size: Any, kept: Any) -> Any:
    return func.coalesce(func.sum(func.coalesce(kept, size)), 0)


async def refused_bytes_kept(conn: AsyncConnection, submitter_id: str) -> int:
    """Bytes of refused bodies kept for the submitter: its intake rejections and its 837
    files refused whole (what counts against server.refused_kept_bytes)."""
    rejected = select(_kept(intake_rejections.c.body_size, intake_rejections.c.kept_bytes)).where(
        intake_rejections.c.submitter_id == submitter_id, intake_rejections.c.body.is_not(None)
    )
    refused_files = select(_kept(files.c.size, files.c.kept_bytes)).where(
        files.c.submitter_id == submitter_id,
        files.c.direction == "inbound",
        files.c.state == "rejected",
    )
    return int((await conn.execute(rejected)).scalar_one()) + int(
        (await conn.execute(refused_files)).scalar_one()
    )


async def refused_totals(conn: AsyncConnection) -> dict[str, int]:
    """For /metrics: refused bodies kept whole and cut to their head, and the bytes kept."""
    out = {"whole": 0, "head": 0, "bytes": 0}
    for table, size, wanted in (
        (intake_rejections, intake_rejections.c.body_size, intake_rejections.c.body.is_not(None)),
        (files, files.c.size, and_(files.c.direction == "inbound", files.c.state == "rejected")),
    ):
        row = (
            await conn.execute(
                select(
                    func.count().filter(table.c.kept_bytes.is_(None)),
                    func.count().filter(table.c.kept_bytes.is_not(None)),
                    _kept(size, table.c.kept_bytes),
                ).where(wanted)
            )
        ).one()
        out["whole"] += int(row[0])
        out["head"] += int(row[1])
        out["bytes"] += int(row[2])
    return out


async def rejection_body(conn: AsyncConnection, sealer: Sealer, rejection_id: str) -> bytes | None:
    sealed = (
        await conn.execute(
            select(intake_rejections.c.body).where(intake_rejections.c.id == rejection_id)
        )
    ).scalar_one()
    if sealed is None:
        return None
    return sealer.open(sealed, f"intake_rejections.body:{rejection_id}".encode())


# Claim batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimBatch:
    """A batch as answered: the result for each claim (its id, or what was wrong with it)."""

    id: str
    request_sha256: str
    received_at: datetime
    claims_read: int
    claims_accepted: int
    claims_rejected: int
    results: list[dict[str, Any]]


def _batch_aad(batch_id: str) -> bytes:
    return f"claim_batches.body:{batch_id}".encode()


async def insert_claim_batch(
    conn: AsyncConnection,
    sealer: Sealer,
    batch: ClaimBatch,
    *,
    submitter_id: str,
    idempotency_key: str | None,
    body: bytes,
) -> None:
    """Keep the batch as received with its answer; IntegrityError when the submitter already
    used this Idempotency-Key for a batch."""
    await conn.execute(
        insert(claim_batches).values(
            id=batch.id,
            submitter_id=submitter_id,
            idempotency_key=idempotency_key,
            request_sha256=batch.request_sha256,
            received_at=batch.received_at,
            claims_read=batch.claims_read,
            claims_accepted=batch.claims_accepted,
            claims_rejected=batch.claims_rejected,
            results=batch.results,
            body_size=len(body),
            body=sealer.seal(body, _batch_aad(batch.id)),
        )
    )


async def claim_batch_by_idempotency_key(
    conn: AsyncConnection, submitter_id: str, idempotency_key: str
) -> ClaimBatch | None:
    row = (
        await conn.execute(
            select(
                claim_batches.c.id,
                claim_batches.c.request_sha256,
                claim_batches.c.received_at,
                claim_batches.c.claims_read,
                claim_batches.c.claims_accepted,
                claim_batches.c.claims_rejected,
                claim_batches.c.results,
            ).where(
                claim_batches.c.submitter_id == submitter_id,
                claim_batches.c.idempotency_key == idempotency_key,
            )
        )
    ).first()
    return ClaimBatch(**row._asdict()) if row else None


async def claim_batch_body(conn: AsyncConnection, sealer: Sealer, batch_id: str) -> bytes:
    sealed = (
        await conn.execute(select(claim_batches.c.body).where(claim_batches.c.id == batch_id))
    ).scalar_one()
    return sealer.open(sealed, _batch_aad(batch_id))


# Payer answers -------------------------------------------------------------------------------


async def sent_claims_by_pcns(
    conn: AsyncConnection, payer_id: str, patient_control_numbers: Sequence[str]
) -> dict[str, list[tuple[ClaimRecord, int | None]]]:
    """Per CLM01, the claims sent to `payer_id` under it, most recently sent first, with the
    ISA13 of the interchange that carried them."""
    if not patient_control_numbers:
        return {}
    # Three look-ups, each by an index: the claims, their links, the interchanges. As one
    # join, PostgreSQL, going by statistics from when the interchanges table was small,
    # hashed every outbound claim link for each answer file, so applying a file took longer
    # with every claim sent before it.
    rows = await conn.execute(
        select(*_RECORD_COLUMNS).where(
            claims.c.payer_id == payer_id,
            db.among(conn, claims.c.patient_control_number, sorted(set(patient_control_numbers))),
        )
    )
    records = {row.id: _record(row) for row in rows}
    if not records:
        return {}
    links = (
        await conn.execute(
            select(interchange_claims.c.claim_id, interchange_claims.c.interchange_id).where(
                db.among(conn, interchange_claims.c.claim_id, sorted(records))
            )
        )
    ).all()
    if not links:
        return {}
    claims_in: dict[str, list[str]] = {}
    for link in links:
        claims_in.setdefault(link.interchange_id, []).append(link.claim_id)
    # Most recently sent first: a later interchange has a higher pk.
    sent = await conn.execute(
        select(interchanges.c.id, interchanges.c.control_number)
        .where(
            db.among(conn, interchanges.c.id, sorted(claims_in)),
            interchanges.c.direction == "outbound",
        )
        .order_by(interchanges.c.pk.desc())
    )
    out: dict[str, list[tuple[ClaimRecord, int | None]]] = {}
    for interchange in sent:
        for claim_id in claims_in[interchange.id]:
            record = records[claim_id]
            out.setdefault(record.patient_control_number, []).append(
                (record, interchange.control_number)
            )
    return out


async def lock_claims(
    conn: AsyncConnection,
    *,
    ids: Sequence[str] = (),
    payer_id: str | None = None,
    pcns: Sequence[str] = (),
) -> None:
    """On PostgreSQL, lock these claims in id order before changing them, so that two files
    about the same claims (a 277CA and an 835) never wait on each other in a cycle."""
    if conn.dialect.name != "postgresql" or not (ids or pcns):
        return
    match = db.among(conn, claims.c.id, sorted(ids)) if ids else None
    if pcns and payer_id:
        by_pcn = and_(
            claims.c.payer_id == payer_id, db.among(conn, claims.c.patient_control_number, pcns)
        )
        match = by_pcn if match is None else or_(match, by_pcn)
    if match is not None:
        await conn.execute(select(claims.c.id).where(match).order_by(claims.c.id).with_for_update())


async def set_payer_claim_numbers(
    conn: AsyncConnection, numbers: dict[str, str], records: Mapping[str, ClaimRecord]
) -> None:
    """Record the payer's claim number (277CA REF*1K, 835 CLP07) of each claim id, where it
    differs from the one its record holds (an 835 usually repeats its 277CA's)."""
    changed = [
        {"claim_id": c, "number": n[:50]}
        for c, n in sorted(numbers.items())
        if records[c].payer_claim_number != n[:50]
    ]
    if not changed:
        return
    await conn.execute(
        update(claims)
        .where(claims.c.id == bindparam("claim_id"))
        .values(payer_claim_number=bindparam("number")),
        changed,
    )


RemittanceKey = tuple[str, str, str, Decimal]  # claim id, trace number, CLP02, CLP04


async def remittances_seen(conn: AsyncConnection, claim_ids: Sequence[str]) -> set[RemittanceKey]:
    """The payments already recorded for these claims, to tell a re-sent 835 payment."""
    if not claim_ids:
        return set()
    rows = await conn.execute(
        select(
            remittances.c.claim_id,
            remittances.c.trace_number,
            remittances.c.status_code,
            remittances.c.paid,
        ).where(db.among(conn, remittances.c.claim_id, sorted(set(claim_ids))))
    )
    return {(r.claim_id, r.trace_number or "", r.status_code, r.paid) for r in rows}


def remittance_key(claim_id: str, trace_number: str, payment: ClaimPayment) -> RemittanceKey:
    return claim_id, trace_number[:50], payment.status, payment.paid


@dataclass(frozen=True)
class NewRemittance:
    """One 835 claim payment (CLP loop) to record against a claim."""

    claim_id: str
    interchange_id: str
    payment: ClaimPayment
    payment_date: date | None  # BPR16
    trace_number: str  # TRN02
    detail: dict[str, Any]


async def add_remittances(conn: AsyncConnection, new: list[NewRemittance]) -> None:
    if not new:
        return
    now = utcnow()
    await conn.execute(
        insert(remittances),
        [
            {
                "claim_id": r.claim_id,
                "interchange_id": r.interchange_id,
                "status_code": r.payment.status,
                "total_charge": r.payment.total_charge,
                "paid": r.payment.paid,
                "patient_responsibility": r.payment.patient_responsibility or Decimal(0),
                "payer_claim_number": r.payment.payer_claim_control_number,
                "payment_date": r.payment_date,
                "trace_number": r.trace_number[:50],
                "detail": r.detail,
                "received_at": now,
            }
            for r in new
        ],
    )


async def remittances_of(conn: AsyncConnection, claim_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(remittances).where(remittances.c.claim_id == claim_id).order_by(remittances.c.pk)
    )
    return [r._asdict() for r in rows]
