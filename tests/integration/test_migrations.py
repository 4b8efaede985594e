"""Migrations on both databases: upgrade to head matches the tables, downgrade removes them."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.storage import db
from gateway.storage.tables import metadata


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


def _tables(connection: Any) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_head_matches_the_table_definitions(engine: Any) -> None:
    assert await db.current_revision(engine) == db.head_revision()
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        assert await conn.run_sync(_tables) == set(metadata.tables)


async def test_downgrade_to_base_and_up_again(engine: Any) -> None:
    await db.downgrade(engine, "base")
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) == set()
    await db.migrate(engine)
    await db.migrate(engine)  # a second run is a no-op
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
