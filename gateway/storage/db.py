"""Database engines and migrations: SQLite (embedded default) or PostgreSQL, chosen by URL.

Plain URLs (sqlite:///var/x.db, postgresql://host/db) are given their async drivers here, so
operators never need to know driver names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, any_, bindparam, event, exc, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.private import private_folder
from gateway.settings import DatabaseSettings


def async_url(url: str) -> URL:
    """The URL with its async driver: sqlite+aiosqlite or postgresql+asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"database.url: unsupported database {backend!r} (use sqlite or postgresql)")


def among(
    conn: AsyncConnection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN (values)`. On PostgreSQL it is `column = ANY(one array parameter)`: the same
    statement text for any number of values, so it is prepared once per connection and no
    placeholder is rendered per value (both cost more than the query for lists of hundreds)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def pairs_among(
    conn: AsyncConnection,
    first: ColumnElement[Any],
    second: ColumnElement[Any],
    pairs: Sequence[tuple[Any, Any]],
) -> ColumnElement[bool]:
    """`(first, second) IN (pairs)`; on PostgreSQL the pairs go as two array parameters."""
    if conn.dialect.name != "postgresql":
        return tuple_(first, second).in_(pairs)
    firsts = bindparam(None, [a for a, _ in pairs], type_=ARRAY(first.type))
    seconds = bindparam(None, [b for _, b in pairs], type_=ARRAY(second.type))
    return tuple_(first, second).in_(select(func.unnest(firsts), func.unnest(seconds)))


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = async_url(settings.url)
    timeout = settings.connect_timeout_seconds
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            private_folder(Path(url.database).parent)
        engine = create_async_engine(url, connect_args={"timeout": timeout}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        pool_timeout=timeout,
        hide_parameters=True,  # SQL errors must not echo values (PHI) into logs
        # asyncpg: give up connecting after `timeout` rather than hanging when the server is down.
        connect_args={"timeout": timeout, "command_timeout": max(30.0, timeout)},
    )
    event.listen(engine.sync_engine, "connect", _mark_used)
    event.listen(engine.sync_engine, "checkin", _mark_used)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


# A pooled connection idle for longer than this is pinged before it is handed out, so one
# left dead by a server restart or a dropped network path is replaced, not failed on. One in
# steady use is not: SQLAlchemy's pre-ping on every checkout cost three round trips (BEGIN,
# ";", ROLLBACK), which under load was more than a third of all the gateway's round trips.
PING_AFTER_IDLE_SECONDS = 10.0


def _mark_used(_dbapi_connection: Any, record: Any) -> None:
    record.info["used_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    used_at = record.info.get("used_at")
    if used_at is not None and time.monotonic() - used_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        # The documented way to have the pool drop this connection and check out another.
        raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off; _sqlite_begin issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI and the server share the file; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The engine (same pool) for connections that only read. On SQLite they begin DEFERRED:
    in WAL mode they see the last commit without taking the one write lock, so a read
    neither waits for the writers nor holds them up. A write through it can fail at once
    with "database is locked", so use it for reads only."""
    return engine.execution_options(clearway_read_only=True)


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get("clearway_read_only"):
        connection.exec_driver_sql("BEGIN")
        return
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" when another connection wrote in between; taking the write lock up front makes
    # it wait (up to the busy timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("migrations")))
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind `engine` to `revision`."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(engine: AsyncEngine, action: Any) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        action(config)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def migrate_blocking(settings: DatabaseSettings, revision: str = "head") -> None:
    """For the CLI: run migrations in a short-lived event loop of their own."""

    async def main() -> None:
        engine = create_engine(settings)
        try:
            await migrate(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(main())
