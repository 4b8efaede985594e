"""Interchanges API: the X12 files sent to payers and received from them, and re-driving
dead-lettered ones.

A submitter sees its own outbound files; operators also see inbound files, including those
that matched no claim (?unmatched=true), since those belong to no submitter yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from gateway.api import listing
from gateway.auth import authenticate, reading_as_submitter
from gateway.context import ENGINE, READER
from gateway.errors import Conflict, Forbidden, NotFound
from gateway.storage import claims as store
from gateway.storage import interchanges as ix
from gateway.storage import jobs
from gateway.storage.lifecycle import ClaimStatus

routes = web.RouteTableDef()
_STATES = {
    ix.READY,
    ix.SENT,
    ix.DEAD,
    ix.RECEIVED,
    ix.APPLIED,
    ix.UNMATCHED,
    ix.DUPLICATE,
    ix.UNREADABLE,
}


def summary(i: ix.Interchange) -> dict[str, Any]:
    return {
        "id": i.id,
        "direction": i.direction,
        "payer_id": i.payer_id,
        "kind": i.kind,
        "control_number": i.control_number,
        "state": i.state,
        "sha256": i.sha256,
        "size": i.size,
        "claim_count": i.claim_count,
        "attempts": i.attempts,
        "last_error": i.last_error,
        "detail": i.detail,
        "created_at": i.created_at.isoformat(),
        "updated_at": i.updated_at.isoformat(),
        "sent_at": i.sent_at.isoformat() if i.sent_at else None,
    }


def _visible(submitter: store.Submitter, interchange: ix.Interchange) -> bool:
    return submitter.operator or interchange.submitter_id == submitter.id


@routes.get("/v1/interchanges")
async def list_interchanges(request: web.Request) -> web.Response:
    """Newest first, a page at a time (like GET /v1/claims)."""
    async with reading_as_submitter(request) as (conn, submitter):
        wanted = _list_query(request.query)
        if wanted.states == (ix.UNMATCHED,) and not submitter.operator:
            # They belong to no submitter yet: an empty list would say there are none.
            raise Forbidden(
                "Answers that matched no claim are shown to operators only "
                "(clearway submitters create NAME --operator)."
            )
        found, next_cursor = await ix.list_interchanges(
            conn,
            direction=wanted.direction,
            states=wanted.states,
            payer_id=wanted.payer_id,
            submitter_id=None if submitter.operator else submitter.id,
            limit=wanted.limit,
            cursor=wanted.cursor,
        )
    return web.json_response({"items": [summary(i) for i in found], "next_cursor": next_cursor})


@dataclass(frozen=True)
class _ListQuery:
    direction: str | None
    states: tuple[str, ...]
    payer_id: str | None
    limit: int
    cursor: str | None


_LIST_FILTERS = frozenset({"direction", "state", "payer_id", "unmatched"})


def _list_query(query: MultiMapping[str]) -> _ListQuery:
    """The filters and the page, or the 400 problem naming every bad parameter."""
    errors: listing.Errors = []
    states = tuple(s for raw in query.getall("state", []) for s in raw.split(",") if s)
    if set(states) - _STATES:
        errors.append({"parameter": "state", "message": "one of " + ", ".join(sorted(_STATES))})
    direction = listing.single(query, "direction", errors)
    if direction not in (None, ix.OUTBOUND, ix.INBOUND):
        errors.append({"parameter": "direction", "message": "outbound or inbound"})
    payer_id = listing.single(query, "payer_id", errors) or None
    if listing.flag(query, "unmatched", errors):
        direction, states = ix.INBOUND, (ix.UNMATCHED,)
    limit, cursor = listing.page(query, errors, ix.CURSOR)
    listing.check(query, errors, _LIST_FILTERS)
    return _ListQuery(direction, states, payer_id, limit, cursor)


@routes.get("/v1/interchanges/{interchange_id}")
async def get_interchange(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    async with request.app[READER].connect() as conn:
        found = await ix.get_interchange(conn, request.match_info["interchange_id"])
        if found is None or not _visible(submitter, found):
            raise NotFound("No such interchange for this submitter.")
        claim_ids = [c for c, _ in await ix.claims_of(conn, found.id)]
    return web.json_response({**summary(found), "claim_ids": claim_ids})


@routes.post("/v1/interchanges/{interchange_id}/redrive")
async def redrive(request: web.Request) -> web.Response:
    """Send a dead-lettered interchange again: the same stored bytes, the same control number."""
    submitter = await authenticate(request)
    async with request.app[ENGINE].begin() as conn:
        found = await ix.get_interchange(conn, request.match_info["interchange_id"])
        if found is None or not _visible(submitter, found) or found.direction != ix.OUTBOUND:
            raise NotFound("No such outbound interchange for this submitter.")
        if found.state != ix.DEAD:
            raise Conflict(
                f"Only dead-lettered interchanges can be re-driven; this one is {found.state}."
            )
        if found.detail.get("claims_resent_in"):
            # pyx12 refused it and its good claims went out in another 837: sending this one
            # again would send them twice.
            raise Conflict(
                "This 837 failed pyx12 validation; its other claims were sent again in "
                f"interchange {found.detail['claims_resent_in']}. Correct and resubmit the "
                "failed claims instead."
            )
        await ix.set_state(conn, found.id, ix.READY, error=None, detail=found.detail)
        for claim_id, _ in await ix.claims_of(conn, found.id):
            record = await store.get_claim(conn, claim_id)
            if record is not None and record.status is ClaimStatus.FAILED:
                await store.change_status(
                    conn, record, ClaimStatus.TRANSLATED, "redriven", {"interchange_id": found.id}
                )
        await jobs.enqueue(conn, "submit", payload={"interchange_id": found.id})
    return web.json_response({"id": found.id, "state": ix.READY}, status=202)
