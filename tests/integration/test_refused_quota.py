"""Refused submissions are kept within a quota per submitter: whole up to it, their first 64 KB
past it (with size and sha256), so a stream of garbage cannot fill the disk; /metrics counts."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.context import ENGINE, SEALER
from gateway.settings import ServerSettings, Settings
from gateway.storage import claims as store
from gateway.storage.tables import files, intake_rejections
from tests.conftest import auth, new_submitter

QUOTA = 300_000


@pytest.fixture
async def small_quota(aiohttp_client: Any, settings: Settings) -> Any:
    server = ServerSettings(max_body_bytes=512 * 1024, refused_kept_bytes=QUOTA)
    return await aiohttp_client(create_app(dataclasses.replace(settings, server=server)))


def garbage(size: int, seed: str) -> bytes:
    block = hashlib.sha256(seed.encode()).hexdigest().encode()
    return (block * (size // len(block) + 1))[:size]


async def test_refused_bodies_are_kept_whole_within_the_quota_then_by_their_head(
    small_quota: Any,
) -> None:
    client = small_quota
    _, key = await new_submitter(client)
    json_headers = auth(key, **{"Content-Type": "application/json"})
    x12_headers = auth(key, **{"Content-Type": "application/edi-x12"})
    sent = []
    for n in range(2):  # 2 x 200 KB of not-JSON: the second passes the 300 KB quota
        body = garbage(200_000, f"json-{n}")
        response = await client.post("/v1/claims", data=body, headers=json_headers)
        assert response.status == 400
        sent.append(((await response.json())["rejection_id"], body))
    x12_body = garbage(200_000, "x12")
    response = await client.post("/v1/x12?name=junk.x12", data=x12_body, headers=x12_headers)
    assert response.status == 422
    file_id = (await response.json())["file_id"]

    async with client.app[ENGINE].connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                select(intake_rejections.c.id, intake_rejections.c.body_size,
                       intake_rejections.c.kept_bytes, intake_rejections.c.body_sha256)
            )
        }  # fmt: skip
        (first_id, first), (second_id, second) = sent
        assert rows[first_id].kept_bytes is None
        assert await store.rejection_body(conn, client.app[SEALER], first_id) == first
        assert rows[second_id].kept_bytes == store.REFUSED_HEAD_BYTES
        assert rows[second_id].body_size == len(second)  # what was received, all of it
        assert rows[second_id].body_sha256 == hashlib.sha256(second).hexdigest()
        kept = await store.rejection_body(conn, client.app[SEALER], second_id)
        assert kept == second[: store.REFUSED_HEAD_BYTES]
        stored = (
            await conn.execute(
                select(files.c.state, files.c.size, files.c.kept_bytes, files.c.sha256).where(
                    files.c.id == file_id
                )
            )
        ).one()
    assert stored.state == "rejected" and stored.size == len(x12_body)
    assert stored.kept_bytes == store.REFUSED_HEAD_BYTES
    assert stored.sha256 == hashlib.sha256(x12_body).hexdigest()
    content = await client.get(f"/v1/files/{file_id}/content", headers=auth(key))
    assert await content.read() == x12_body[: store.REFUSED_HEAD_BYTES]
    listed = await (await client.get(f"/v1/files/{file_id}", headers=auth(key))).json()
    assert listed["kept_bytes"] == store.REFUSED_HEAD_BYTES and listed["size"] == len(x12_body)

    # Another submitter's quota is its own.
    _, other = await new_submitter(client)
    response = await client.post(
        "/v1/claims",
        data=garbage(200_000, "other"),
        headers=auth(other, **{"Content-Type": "application/json"}),
    )
    other_id = (await response.json())["rejection_id"]
    async with client.app[ENGINE].connect() as conn:
        kept_bytes = (
            await conn.execute(
                select(intake_rejections.c.kept_bytes).where(intake_rejections.c.id == other_id)
            )
        ).scalar_one()
    assert kept_bytes is None

    text = await (await client.get("/metrics")).text()
    assert 'clearway_refused_bodies{kept="whole"} 2.0' in text
    assert 'clearway_refused_bodies{kept="head"} 2.0' in text
    assert f"clearway_refused_body_bytes {400_000 + 2 * store.REFUSED_HEAD_BYTES}.0" in text
