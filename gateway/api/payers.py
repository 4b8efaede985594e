"""Payers API: the payers this gateway can route to and what each requires."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import authenticate
from gateway.context import PAYERS
from payers.profile import describe_profiles

routes = web.RouteTableDef()


@routes.get("/v1/payers")
async def list_payers(request: web.Request) -> web.Response:
    await authenticate(request)
    return web.json_response({"items": describe_profiles(request.app[PAYERS])})
