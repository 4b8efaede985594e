"""Pooled PostgreSQL connections: a dead one is replaced after idling, none pinged in steady use."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from gateway import db
from gateway.settings import DatabaseSettings

pytestmark = pytest.mark.postgres


async def _backend_pid(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    admin = db.create_engine(DatabaseSettings(url=url))
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_a_connection_killed_while_idle_is_replaced_not_failed_on(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_engine(DatabaseSettings(url=postgres_url, pool_size=1))
    try:
        first = await _backend_pid(engine)
        await _terminate(postgres_url, first)  # as a server restart would
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # the connection has idled
        second = await _backend_pid(engine)
    finally:
        await engine.dispose()
    assert second != first


async def test_a_connection_in_steady_use_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[int] = []
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def counting_ping(self: Any) -> None:
        pings.append(1)
        real_ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
    engine = db.create_engine(DatabaseSettings(url=postgres_url, pool_size=1))
    try:
        for _ in range(5):
            await _backend_pid(engine)
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        for _ in range(3):
            await _backend_pid(engine)
        assert len(pings) == 3
    finally:
        await engine.dispose()
