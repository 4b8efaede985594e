"""Reads and writes of files exchanged with submitters (their 837s in, our answers out): small
files sealed whole in files.body, files stored from disk sealed a chunk at a time (file_chunks),
so neither storing nor reading one holds it whole in memory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.crypto import Sealer, SealError
from gateway.storage import jobs
from gateway.storage.claims import decode_cursor, new_id, page_of, utcnow
from gateway.storage.tables import file_chunks, files

INBOUND, OUTBOUND = "inbound", "outbound"
RECEIVED, PROCESSING, PROCESSED, REJECTED = "received", "processing", "processed", "rejected"
DELIVER_JOB = "deliver_file"  # writes an outbound file into the submitter's outbox folders
CURSOR = "f"  # the first letter of the listing's cursors (see store.decode_cursor)


@dataclass(frozen=True)
class File:
    id: str
    submitter_id: str
    direction: str
    channel: str
    kind: str
    name: str
    state: str
    sha256: str
    size: int
    chunks: int  # 0: sealed whole in files.body, else the number of file_chunks rows
    claims_read: int
    claims_accepted: int
    claims_rejected: int
    claims_scrubbed: int
    detail: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    kept_bytes: int | None = None  # a refused file past its submitter's quota: its head only

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "channel": self.channel,
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "sha256": self.sha256,
            "size": self.size,
            # Refused past the submitter's quota: the content download gives this much of it.
            **({"kept_bytes": self.kept_bytes} if self.kept_bytes is not None else {}),
            "claims": {
                "read": self.claims_read,
                "accepted": self.claims_accepted,
                "rejected": self.claims_rejected,
            },
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "links": {"self": f"/v1/files/{self.id}", "content": f"/v1/files/{self.id}/content"},
        }


_COLUMNS = [c for c in files.c if c.name not in ("pk", "body")]


CHUNK_BYTES = 1 << 20


def _aad(file_id: str) -> bytes:
    return f"files.body:{file_id}".encode()


def _chunk_aad(file_id: str, seq: int, last: bool) -> bytes:
    # The place and whether it ends the file are sealed in: swapped, reordered or missing
    # chunks (a file cut short included) do not open.
    return f"file_chunks.body:{file_id}:{seq}:{'last' if last else 'more'}".encode()


def _new_row(
    *,
    submitter_id: str,
    direction: str,
    channel: str,
    kind: str,
    name: str,
    state: str,
    sha256: str,
    size: int,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """A new file's row, without its body; counts start at zero."""
    now = utcnow()
    return dict(
        id=new_id(),
        submitter_id=submitter_id,
        direction=direction,
        channel=channel,
        kind=kind,
        name=name[:255],
        state=state,
        sha256=sha256,
        size=size,
        chunks=0,
        claims_read=0,
        claims_accepted=0,
        claims_rejected=0,
        claims_scrubbed=0,
        detail=detail,
        created_at=now,
        updated_at=now,
    )


async def add_file(
    conn: AsyncConnection,
    sealer: Sealer,
    *,
    submitter_id: str,
    direction: str,
    channel: str,
    kind: str,
    name: str,
    body: bytes,
    state: str,
    detail: dict[str, Any] | None = None,
) -> File:
    values = _new_row(
        submitter_id=submitter_id,
        direction=direction,
        channel=channel,
        kind=kind,
        name=name,
        state=state,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        detail=detail or {},
    )
    file_id = values["id"]
    await conn.execute(insert(files).values(**values, body=sealer.seal(body, _aad(file_id))))
    if direction == OUTBOUND:
        # Queued with the file itself: a file recorded for a submitter always reaches its outbox.
        await jobs.enqueue(conn, DELIVER_JOB, payload={"file_id": file_id})
    return File(**values)


async def add_file_from_path(
    conn: AsyncConnection,
    sealer: Sealer,
    *,
    submitter_id: str,
    channel: str,
    kind: str,
    name: str,
    path: Path,
    sha256: str,
    state: str,
) -> File:
    """An inbound file stored from disk, sealed CHUNK_BYTES at a time (`sha256` is the
    caller's, computed in its own pass). All or nothing: it is one transaction."""
    values = _new_row(
        submitter_id=submitter_id,
        direction=INBOUND,
        channel=channel,
        kind=kind,
        name=name,
        state=state,
        sha256=sha256,
        size=0,
        detail={},
    )
    file_id = values["id"]
    await conn.execute(insert(files).values(**values, body=b""))
    with path.open("rb") as f:
        chunk = await asyncio.to_thread(f.read, CHUNK_BYTES)
        seq = 0
        while True:
            following = await asyncio.to_thread(f.read, CHUNK_BYTES) if chunk else b""
            last = not following
            sealed = await asyncio.to_thread(sealer.seal, chunk, _chunk_aad(file_id, seq, last))
            await conn.execute(insert(file_chunks).values(file_id=file_id, seq=seq, body=sealed))
            values["size"] += len(chunk)
            seq += 1
            if last:
                break
            chunk = following
    values["chunks"] = seq
    await conn.execute(
        update(files).where(files.c.id == file_id).values(size=values["size"], chunks=seq)
    )
    return File(**values)


async def keep_head(conn: AsyncConnection, sealer: Sealer, file_id: str, head: int) -> int:
    """Keep only the first `head` bytes of a stored file (a refused one past its submitter's
    quota), sealed whole; its size and sha256 stay the original's. Returns the bytes kept."""
    kept = b""
    async with contextlib.aclosing(file_parts(conn, sealer, file_id)) as parts:
        async for part in parts:
            kept += part[: head - len(kept)]
            if len(kept) >= head:
                break
    await conn.execute(delete(file_chunks).where(file_chunks.c.file_id == file_id))
    await conn.execute(
        update(files)
        .where(files.c.id == file_id)
        .values(body=sealer.seal(kept, _aad(file_id)), chunks=0, kept_bytes=len(kept))
    )
    return len(kept)


async def get_file(conn: AsyncConnection, file_id: str, submitter_id: str | None) -> File | None:
    """The file, if it belongs to `submitter_id` (None: whoever it belongs to)."""
    query = select(*_COLUMNS).where(files.c.id == file_id)
    if submitter_id is not None:
        query = query.where(files.c.submitter_id == submitter_id)
    row = (await conn.execute(query)).first()
    return File(**row._asdict()) if row else None


async def file_body(conn: AsyncConnection, sealer: Sealer, file_id: str) -> bytes:
    return b"".join([part async for part in file_parts(conn, sealer, file_id)])


async def file_parts(conn: AsyncConnection, sealer: Sealer, file_id: str) -> AsyncIterator[bytes]:
    """The file's content, opened a chunk at a time (one part for a file sealed whole).
    Raises SealError when a part does not open in its place, or one is missing."""
    row = (
        await conn.execute(select(files.c.body, files.c.chunks).where(files.c.id == file_id))
    ).one()
    if row.chunks == 0:
        yield sealer.open(row.body, _aad(file_id))
        return
    for seq in range(row.chunks):
        sealed = (
            await conn.execute(
                select(file_chunks.c.body).where(
                    file_chunks.c.file_id == file_id, file_chunks.c.seq == seq
                )
            )
        ).scalar_one_or_none()
        if sealed is None:
            raise SealError(f"file {file_id} is missing chunk {seq} of {row.chunks}")
        yield sealer.open(sealed, _chunk_aad(file_id, seq, seq == row.chunks - 1))


async def inbound_twin(conn: AsyncConnection, submitter_id: str, sha256: str) -> File | None:
    """The first inbound file of this submitter with the same content: answered (processed or
    rejected), or still processing when a run over it was interrupted."""
    row = (
        await conn.execute(
            select(*_COLUMNS)
            .where(
                files.c.submitter_id == submitter_id,
                files.c.direction == INBOUND,
                files.c.sha256 == sha256,
                files.c.state.in_([PROCESSED, REJECTED, PROCESSING]),
            )
            .order_by(files.c.pk)
            .limit(1)
        )
    ).first()
    return File(**row._asdict()) if row else None


async def answers_of(conn: AsyncConnection, answered: File, *, scan: int = 1000) -> list[File]:
    """The files that answered `answered` (TA1, 999, a note, our 277CAs), in the order they
    were made. Looks among the submitter's next `scan` outbound files, where they are."""
    after = select(files.c.pk).where(files.c.id == answered.id).scalar_subquery()
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(
            files.c.submitter_id == answered.submitter_id,
            files.c.direction == OUTBOUND,
            files.c.pk > after,
        )
        .order_by(files.c.pk)
        .limit(scan)
    )
    found = [File(**row._asdict()) for row in rows]
    return [f for f in found if (f.detail or {}).get("answers") == answered.id]


async def deliver_answers_again(conn: AsyncConnection, answered: File) -> int:
    """Queue the delivery of the files that answered `answered` once more, for a submitter who
    sends the same file again because an answer went missing from its folder."""
    answers = await answers_of(conn, answered)
    for answer in answers:
        await jobs.enqueue(conn, DELIVER_JOB, payload={"file_id": answer.id})
    return len(answers)


async def update_file(conn: AsyncConnection, file_id: str, **values: Any) -> None:
    await conn.execute(
        update(files).where(files.c.id == file_id).values(**values, updated_at=utcnow())
    )


async def list_files(
    conn: AsyncConnection,
    submitter_id: str,
    *,
    direction: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[File], str | None]:
    """The submitter's files, newest first; returns the page and the cursor for the next one
    (None at the end)."""
    query = (
        select(files.c.pk, *_COLUMNS)
        .where(files.c.submitter_id == submitter_id)
        .order_by(files.c.pk.desc())
        .limit(limit + 1)
    )
    if direction:
        query = query.where(files.c.direction == direction)
    if cursor is not None:
        query = query.where(files.c.pk < decode_cursor(CURSOR, cursor))
    rows, next_cursor = page_of((await conn.execute(query)).all(), limit, CURSOR)
    return [File(**{k: v for k, v in r._asdict().items() if k != "pk"}) for r in rows], next_cursor
