"""The application factory: explicit settings in, an aiohttp app out; nothing connects at import.

Resources (database engine, sealer) live in cleanup contexts, opened at start-up and closed at
shutdown, so tests and the CLI build apps the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from gateway import db
from gateway.api import claims, files, health, interchanges, payers
from gateway.context import DELIVERY, ENGINE, METRICS, PAYERS, READER, SEALER, SETTINGS
from gateway.crypto import Sealer, load_or_create_key_file, parse_keys
from gateway.drop import drop_folders, x12_uploads
from gateway.metrics import Metrics
from gateway.middleware import request_context
from gateway.pipeline import in_process_worker, load_payers, make_delivery, simulator_config
from gateway.settings import CryptoSettings, Settings
from gateway.sftp_server import sftp_drop
from payers import icd10
from payers.simulator.app import create_simulator_app

log = structlog.get_logger("gateway.app")


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.server.max_body_bytes, middlewares=[request_context]
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[SEALER] = make_sealer(settings.crypto)
    app[PAYERS] = load_payers(settings.payers)
    if settings.worker.in_process:
        # Load ICD-10-CM now (about 2 s and 180 MiB), not inside the first scrub. An API
        # without workers needs it only for /v1/claims/validate, which loads it on first use.
        icd10.warm_up()
    app[DELIVERY] = make_delivery(settings, app[PAYERS])
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(in_process_worker)
    app.cleanup_ctx.append(sftp_drop)
    app.cleanup_ctx.append(drop_folders)
    app.cleanup_ctx.append(x12_uploads)
    app.on_cleanup.append(_close_delivery)
    app.add_routes(health.routes)
    app.add_routes(claims.routes)
    app.add_routes(payers.routes)
    app.add_routes(interchanges.routes)
    app.add_routes(files.routes)
    if settings.simulator.in_process:
        app.add_subapp("/simulator", create_simulator_app(simulator_config(settings, app[PAYERS])))
    return app


def make_sealer(settings: CryptoSettings) -> Sealer:
    if settings.keys.strip():
        return Sealer(parse_keys(settings.keys))
    keys, created = load_or_create_key_file(Path(settings.key_file))
    if created:
        log.warning(
            "development_key_generated",
            key_file=settings.key_file,
            advice="set CLEARWAY_CRYPTO_KEYS for production; losing this file loses the data",
        )
    return Sealer(keys)


async def _close_delivery(app: web.Application) -> None:
    await app[DELIVERY].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].database
    engine = db.create_engine(settings)
    if settings.auto_migrate:
        await db.migrate(engine)
        log.info("database_migrated", revision=db.head_revision())
    app[ENGINE] = engine
    app[READER] = db.reader(engine)
    yield
    await engine.dispose()
