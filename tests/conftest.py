"""Shared fixtures: one database per backend (SQLite file, PostgreSQL), the app, submitters.

PostgreSQL runs when TEST_POSTGRES_URL names a server; each test session gets its own fresh
database there. With TEST_POSTGRES_REQUIRED=1 (as in CI) an unreachable server fails the run
instead of skipping, and so does every other skip (a missing OpenSSH client, browser or shared
corpus): in CI nothing may pass by not running.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from edi.claim_json import claim_from_json
from gateway.app import create_app
from gateway.context import ENGINE
from gateway.settings import (
    CryptoSettings,
    DatabaseSettings,
    LoggingSettings,
    ServerSettings,
    Settings,
    SftpSettings,
    WorkerSettings,
    X12Settings,
)
from gateway.storage import claims as store
from gateway.storage import db
from gateway.storage.tables import metadata
from payers import icd10

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TEST_KEYS = "test1:" + base64.b64encode(b"k" * 32).decode()

PG_URL = os.environ.get("TEST_POSTGRES_URL", "")
PG_REQUIRED = os.environ.get("TEST_POSTGRES_REQUIRED") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With TEST_POSTGRES_REQUIRED=1, a skipped test is reported as failed, naming why."""
    outcome = yield
    report = outcome.get_result()
    if PG_REQUIRED and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may be skipped (CI): {reason}"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False), timeout=5
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _icd10_loaded() -> None:
    """Worker processes load ICD-10-CM when they start; tests run steps in-process, so they
    load it once here rather than inside a test's first scrub (holding its transaction)."""
    icd10.warm_up()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests skipped: TEST_POSTGRES_URL is not set")
    name = f"clearway_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as error:
        reason = (
            f"PostgreSQL at TEST_POSTGRES_URL is not reachable: {type(error).__name__}: {error}"
        )
        if PG_REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    engine = db.create_engine(DatabaseSettings(url=url))
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()


async def _truncate(url: str) -> None:
    engine = db.create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clearway.db'}"
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        server=ServerSettings(max_body_bytes=256 * 1024),
        database=DatabaseSettings(url=database_url, auto_migrate=True, connect_timeout_seconds=3),
        crypto=CryptoSettings(keys=TEST_KEYS, key_file=str(tmp_path / "unused-keys")),
        logging=LoggingSettings(level="warning"),
        # Tests run workers explicitly, so every step happens when the test says.
        worker=WorkerSettings(in_process=False, backoff_base_seconds=0, backoff_max_seconds=0),
        # The SFTP drop has its own tests (tests/e2e/test_sftp.py), on a port of their own.
        sftp=SftpSettings(enabled=False, root=str(tmp_path / "sftp")),
        x12=X12Settings(upload_dir=str(tmp_path / "x12-uploads")),
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[Any]:
    engine = db.create_engine(settings.database)
    await db.migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(settings))


async def received_claims(
    engine: Any, sealer: Any, submitter_name: str, claims_json: list[dict[str, Any]]
) -> list[store.ClaimRecord]:
    """A new submitter's claims recorded RECEIVED with their scrub jobs, as API intake does."""
    async with engine.begin() as conn:
        submitter, _ = await store.create_submitter(conn, submitter_name)
        return await store.insert_received_claims(
            conn,
            sealer,
            [store.NewClaim(claim_from_json(d), d, "0" * 64, None, None) for d in claims_json],
            submitter_id=submitter.id,
            event_detail={"channel": "api"},
        )


async def new_submitter(client: Any, name: str | None = None) -> tuple[store.Submitter, str]:
    async with client.app[ENGINE].begin() as conn:
        return await store.create_submitter(conn, name or f"submitter-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def api_key(client: Any) -> str:
    return (await new_submitter(client))[1]


def auth(api_key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", **headers}


@pytest.fixture(autouse=True)
def _every_written_claim_reads_back() -> Iterator[None]:
    """A guard over the whole suite: every 837 and 835 a test writes (by edi's writers, in the
    test or in the gateway and simulator it runs) reads back to as many claims (or claim
    payments), readable or not, as it has CLM (or CLP) segments; checked when the test ends."""
    import edi.write_835
    import edi.write_837
    from tests.claim_counts import assert_claims_accounted_for

    written: list[str] = []
    modules = (edi.write_837, edi.write_835)
    originals = [module.wrap for module in modules]

    def recording(*args: Any, _wrap: Any, **kwargs: Any) -> str:
        text: str = _wrap(*args, **kwargs)
        written.append(text)
        return text

    for module, original in zip(modules, originals, strict=True):
        module.wrap = functools.partial(recording, _wrap=original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            module.wrap = original  # type: ignore[attr-defined]
    for body in written:
        assert_claims_accounted_for(body)
