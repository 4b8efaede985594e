"""Bearer API keys: each request names its submitter, and sees only that submitter's data."""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import store
from gateway.context import READER
from gateway.errors import Unauthorized


async def authenticate(
    request: web.Request, conn: AsyncConnection | None = None
) -> store.Submitter:
    """The submitter whose API key the request carries, looked up on `conn` when the handler
    reads through one anyway (one connection per request), else on a reader connection."""
    header = request.headers.get("Authorization", "")
    scheme, _, api_key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    if conn is not None:
        submitter = await store.submitter_by_api_key(conn, api_key.strip())
    else:
        async with request.app[READER].connect() as own:
            submitter = await store.submitter_by_api_key(own, api_key.strip())
    if submitter is None:
        raise Unauthorized("The API key is not valid or has been revoked.")
    structlog.contextvars.bind_contextvars(submitter_id=submitter.id)
    return submitter
