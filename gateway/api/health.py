"""Liveness, readiness (can the database answer?) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from gateway.context import METRICS, READER
from gateway.errors import ServiceUnavailable

routes = web.RouteTableDef()
READY_TIMEOUT_SECONDS = 3.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with request.app[READER].connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception:  # any failure, timeout included, means "not ready"
        raise ServiceUnavailable(
            "The database cannot be reached.", checks={"database": "unavailable"}
        ) from None
    return web.json_response({"status": "ready", "checks": {"database": "ok"}})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS].render())
    response.content_type = "text/plain"
    response.charset = "utf-8"
    return response
