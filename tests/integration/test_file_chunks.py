"""Files stored from disk are sealed in chunks: they read back whole, files sealed in one piece
still read, and chunks swapped, cut off or moved to another file do not open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from gateway.context import ENGINE, SEALER
from gateway.crypto import SealError
from gateway.storage import files as fs
from gateway.storage.tables import file_chunks, files
from tests.conftest import auth, new_submitter

CONTENT = b"".join(b"SEGMENT*%05d~\n" % i for i in range(100))  # 1,500 bytes


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fs, "CHUNK_BYTES", 400)


async def stored(client: Any, tmp_path: Path, content: bytes = CONTENT) -> fs.File:
    submitter, _ = await new_submitter(client)
    path = tmp_path / "file.x12"
    path.write_bytes(content)
    async with client.app[ENGINE].begin() as conn:
        return await fs.add_file_from_path(
            conn,
            client.app[SEALER],
            submitter_id=submitter.id,
            channel="sftp",
            kind="837",
            name="file.x12",
            path=path,
            sha256="0" * 64,
            state=fs.PROCESSED,
        )


async def body(client: Any, file_id: str) -> bytes:
    async with client.app[ENGINE].connect() as conn:
        return await fs.file_body(conn, client.app[SEALER], file_id)


async def chunk(client: Any, file_id: str, seq: int) -> bytes:
    async with client.app[ENGINE].connect() as conn:
        query = select(file_chunks.c.body).where(
            file_chunks.c.file_id == file_id, file_chunks.c.seq == seq
        )
        return bytes((await conn.execute(query)).scalar_one())


async def test_a_file_stored_in_chunks_reads_back_whole(
    client: Any, tmp_path: Path, small_chunks: None
) -> None:
    found = await stored(client, tmp_path)
    assert (found.chunks, found.size) == (4, len(CONTENT))
    assert await body(client, found.id) == CONTENT
    empty = await stored(client, tmp_path, b"")
    assert empty.chunks == 1 and await body(client, empty.id) == b""


async def test_a_file_sealed_whole_still_reads(client: Any) -> None:
    submitter, api_key = await new_submitter(client)
    async with client.app[ENGINE].begin() as conn:
        old = await fs.add_file(
            conn,
            client.app[SEALER],
            submitter_id=submitter.id,
            direction=fs.INBOUND,
            channel="api",
            kind="837",
            name="old.x12",
            body=CONTENT,
            state=fs.PROCESSED,
        )
    assert old.chunks == 0
    response = await client.get(f"/v1/files/{old.id}/content", headers=auth(api_key))
    assert await response.read() == CONTENT


async def test_swapped_chunks_do_not_open(client: Any, tmp_path: Path, small_chunks: None) -> None:
    found = await stored(client, tmp_path)
    first, second = await chunk(client, found.id, 0), await chunk(client, found.id, 1)
    async with client.app[ENGINE].begin() as conn:
        for seq, sealed in ((0, second), (1, first)):
            await conn.execute(
                update(file_chunks)
                .where(file_chunks.c.file_id == found.id, file_chunks.c.seq == seq)
                .values(body=sealed)
            )
    with pytest.raises(SealError):
        await body(client, found.id)


async def test_a_file_cut_short_does_not_open(
    client: Any, tmp_path: Path, small_chunks: None
) -> None:
    found = await stored(client, tmp_path)
    async with client.app[ENGINE].begin() as conn:
        await conn.execute(
            delete(file_chunks).where(file_chunks.c.file_id == found.id, file_chunks.c.seq == 3)
        )
        await conn.execute(update(files).where(files.c.id == found.id).values(chunks=3))
    with pytest.raises(SealError):  # chunk 2 was sealed as one with more to follow
        await body(client, found.id)
    async with client.app[ENGINE].begin() as conn:
        await conn.execute(update(files).where(files.c.id == found.id).values(chunks=4))
    with pytest.raises(SealError, match="missing chunk 3"):
        await body(client, found.id)


async def test_a_chunk_moved_to_another_file_does_not_open(
    client: Any, tmp_path: Path, small_chunks: None
) -> None:
    one, other = await stored(client, tmp_path), await stored(client, tmp_path)
    sealed = await chunk(client, one.id, 0)
    async with client.app[ENGINE].begin() as conn:
        await conn.execute(
            update(file_chunks)
            .where(file_chunks.c.file_id == other.id, file_chunks.c.seq == 0)
            .values(body=sealed)
        )
    with pytest.raises(SealError):
        await body(client, other.id)
    assert await body(client, one.id) == CONTENT
