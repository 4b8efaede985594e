"""Typed keys for what the running application holds: settings, database, sealer, payers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.crypto import Sealer
from gateway.delivery.connections import Delivery
from gateway.metrics import Metrics
from gateway.settings import Settings
from payers.profile import PayerDirectory

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
# The same pool, for connections that only read (db.reader): API reads use it.
READER = web.AppKey("reader", AsyncEngine)
SEALER = web.AppKey("sealer", Sealer)
METRICS = web.AppKey("metrics", Metrics)
PAYERS = web.AppKey("payers", PayerDirectory)
DELIVERY = web.AppKey("delivery", Delivery)
