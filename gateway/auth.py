"""Bearer API keys: each request names its submitter, and sees only that submitter's data."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import READER
from gateway.errors import Unauthorized
from gateway.storage import claims as store


async def authenticate(request: web.Request) -> store.Submitter:
    """The submitter whose API key the request carries."""
    api_key = _bearer_key(request)
    async with request.app[READER].connect() as conn:
        return await _submitter(conn, api_key)


@contextlib.asynccontextmanager
async def reading_as_submitter(
    request: web.Request,
) -> AsyncIterator[tuple[AsyncConnection, store.Submitter]]:
    """A reader connection and the request's submitter, looked up on it: one connection for
    the key and the handler's reads. A request without a key is refused before connecting."""
    api_key = _bearer_key(request)
    async with request.app[READER].connect() as conn:
        yield conn, await _submitter(conn, api_key)


def _bearer_key(request: web.Request) -> str:
    scheme, _, api_key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    return api_key.strip()


async def _submitter(conn: AsyncConnection, api_key: str) -> store.Submitter:
    # Our keys are printable ASCII; anything else (a byte aiohttp kept as a surrogate) is
    # simply not a key, and must not reach the hashing as text it cannot encode.
    if not (api_key.isascii() and api_key.isprintable()):
        raise Unauthorized("The API key is not valid or has been revoked.")
    submitter = await store.submitter_by_api_key(conn, api_key)
    if submitter is None:
        raise Unauthorized("The API key is not valid or has been revoked.")
    structlog.contextvars.bind_contextvars(submitter_id=submitter.id)
    return submitter
