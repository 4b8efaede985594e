"""Payers API: the payers this gateway can route to and what each requires."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import authenticate
from gateway.context import DELIVERY, PAYERS, READER
from gateway.storage import interchanges as ix
from payers.profile import describe_profiles

routes = web.RouteTableDef()


@routes.get("/v1/payers")
async def list_payers(request: web.Request) -> web.Response:
    await authenticate(request)
    payers = request.app[PAYERS]
    health = request.app[DELIVERY].health()
    async with request.app[READER].connect() as conn:
        counts = await ix.outbound_counts(conn)
    items = []
    for description in describe_profiles(payers):
        payer_id = description["payer_id"]
        delivery = payers[payer_id].delivery
        items.append(
            {
                **description,
                "delivery": {
                    "transport": delivery.transport,
                    # This process's view: each process keeps its own circuit breaker.
                    **health.get(payer_id, {"circuit": "closed", "consecutive_failures": 0}),
                    "interchanges": counts.get(payer_id, {}),
                },
            }
        )
    return web.json_response({"items": items})
