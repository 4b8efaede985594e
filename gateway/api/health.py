"""Liveness, readiness (can the database answer?) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

from gateway.context import METRICS, READER
from gateway.errors import ServiceUnavailable
from gateway.storage import claims as store
from gateway.storage import jobs

routes = web.RouteTableDef()
READY_TIMEOUT_SECONDS = 3.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers; also says how many jobs wait on an expired lease (a
    worker died or is stuck), which does not make this process unready."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with request.app[READER].connect() as conn:
                await conn.execute(text("SELECT 1"))
                queue = await jobs.queue_counts(conn)
    except Exception:  # any failure, timeout included, means "not ready"
        raise ServiceUnavailable(
            "The database cannot be reached.", checks={"database": "unavailable"}
        ) from None
    return web.json_response(
        {
            "status": "ready",
            "checks": {"database": "ok"},
            "jobs": {"lease_overdue": queue["lease_overdue"], "dead": queue[jobs.DEAD]},
        }
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with request.app[READER].connect() as conn:
                for state, count in (await jobs.queue_counts(conn)).items():
                    registry.jobs.labels(state=state).set(count)
                refused = await store.refused_totals(conn)
                registry.refused_bodies.labels(kept="whole").set(refused["whole"])
                registry.refused_bodies.labels(kept="head").set(refused["head"])
                registry.refused_bytes.set(refused["bytes"])
    except Exception:  # the request metrics are still worth answering without these
        registry.jobs.clear()
        registry.refused_bodies.clear()
    response = web.Response(body=registry.render())
    response.content_type = "text/plain"
    response.charset = "utf-8"
    return response
