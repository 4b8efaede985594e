"""Request middleware: request ids bound to logs, metrics, and every error as problem+json.

This is the one place exceptions become HTTP answers. A database that cannot be reached is a
503; anything unexpected is a 500 problem that shows the request id, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.context import METRICS
from gateway.errors import ProblemError, problem
from gateway.logs import where

log = structlog.get_logger("gateway.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout, ConnectionError, TimeoutError)


def problem_response(
    body: dict[str, object], headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=int(body["status"]),  # type: ignore[call-overload]
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get("X-Request-ID", "")
    request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await _answer(request, handler, request_id)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, route_name, str(status)).inc()
        metrics.latency.labels(request.method, route_name).observe(elapsed)
        # The route template, not the path: paths and query strings may carry identifiers.
        # The in-process simulator's mailbox is polled every few seconds per payer: at info
        # its requests would be most of the log.
        emit = log.debug if route_name.startswith("/simulator") else log.info
        emit(
            "http_request",
            method=request.method,
            route=route_name,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


async def _answer(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProblemError as error:
        headers = {"WWW-Authenticate": 'Bearer realm="clearway"'} if error.status == 401 else None
        return problem_response(error.to_problem(instance=request.path), headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return problem_response(
            problem(
                error.status,
                _slug(error.reason),
                error.reason,
                _http_detail(error),
                instance=request.path,
            ),
            {k: v for k, v in error.headers.items() if k.lower() == "allow"},
        )
    except asyncio.CancelledError:
        raise
    except (DBAPIError, *_DATABASE_DOWN) as error:
        database_down = isinstance(error, _DATABASE_DOWN) or (
            isinstance(error, DBAPIError) and error.connection_invalidated
        )
        if not database_down:
            return _internal_error(request, request_id, error)
        log.warning("database_unavailable", error_type=type(error).__name__)
        return problem_response(
            problem(
                503,
                "service-unavailable",
                "Service unavailable",
                "The database cannot be reached; nothing was stored. Retry later.",
                instance=request.path,
            ),
            {"Retry-After": "5"},
        )
    except Exception as error:  # the last resort: log it, tell the client only the request id
        return _internal_error(request, request_id, error)


def _internal_error(request: web.Request, request_id: str, error: Exception) -> web.Response:
    log.error("unhandled_error", error_type=type(error).__name__, where=where(error))
    return problem_response(
        problem(
            500,
            "internal-error",
            "Internal error",
            f"The gateway failed to answer; quote request id {request_id} when reporting it.",
            instance=request.path,
        )
    )


def _slug(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-")


def _http_detail(error: web.HTTPException) -> str:
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        return "The request body is larger than this gateway accepts (server.max_body_bytes)."
    if isinstance(error, web.HTTPNotFound):
        return "No such resource."
    if isinstance(error, web.HTTPMethodNotAllowed):
        return f"Use one of: {', '.join(sorted(error.allowed_methods))}."
    return error.reason
