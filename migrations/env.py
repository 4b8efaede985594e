"""Alembic environment: runs on the connection Clearway hands over, or on database.url."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gateway.storage.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone() -> None:
    # Used by the `alembic` command line: connect with the configured settings.
    from gateway.settings import load_settings
    from gateway.storage.db import create_engine

    async def main() -> None:
        engine = create_engine(load_settings().database)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(main())


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    _run_standalone()
