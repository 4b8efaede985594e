"""Pooled connections: on PostgreSQL a dead one is replaced after idling and none is pinged in
steady use; on SQLite a read does not wait for the write lock."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import OperationalError

from gateway.settings import DatabaseSettings
from gateway.storage import db


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


@pytest.mark.postgres
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


@pytest.mark.postgres
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


async def test_a_sqlite_read_does_not_wait_for_a_writer(tmp_path: Any) -> None:
    """API reads go through db.reader: with a write transaction open elsewhere, a read
    answers at once instead of queueing for the write lock (up to the busy timeout)."""
    engine = db.create_engine(
        DatabaseSettings(url=f"sqlite:///{tmp_path / 'reads.db'}", connect_timeout_seconds=1)
    )
    try:
        await db.migrate(engine)
        async with engine.begin() as writer:
            await writer.execute(text("DELETE FROM jobs"))  # holds the write lock until commit
            async with db.reader(engine).connect() as conn:
                assert (await conn.execute(text("SELECT count(*) FROM claims"))).scalar() == 0
            with pytest.raises(OperationalError, match="locked"):
                async with engine.connect() as conn:  # a writer's connection waits, then fails
                    await conn.execute(text("SELECT count(*) FROM claims"))
    finally:
        await engine.dispose()
