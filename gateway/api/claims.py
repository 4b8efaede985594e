"""Claims API: submit a claim or a batch, read it back with its status, list and filter, history."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web
from multidict import MultiMapping

from edi.claim_json import claim_from_json
from gateway.amounts import money
from gateway.api import listing
from gateway.auth import authenticate, reading_as_submitter
from gateway.context import ENGINE, METRICS, PAYERS, READER, SEALER, SETTINGS
from gateway.errors import BadRequest, NotFound, PayloadTooLarge, ProblemError
from gateway.intake.claims import parse_claim_body, receive_batch, receive_claim
from gateway.pipeline.scrub import SCRUB_EVENTS, findings_detail, scrub_claim
from gateway.pipeline.translate import envelope, preview_837
from gateway.storage import claims as store
from gateway.storage.lifecycle import ClaimStatus
from payers import icd10
from payers.duplicates import duplicate_fingerprint

routes = web.RouteTableDef()
log = structlog.get_logger("gateway.api.claims")
_IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")


@routes.post("/v1/claims")
async def create_claim(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    body = await _read_body(request, submitter.id)
    idempotency_key = await _idempotency_key(request, submitter.id, body)
    received = await receive_claim(
        request.app[ENGINE],
        request.app[SEALER],
        submitter_id=submitter.id,
        body=body,
        content_type=request.headers.get("Content-Type"),
        idempotency_key=idempotency_key,
        refused_quota=request.app[SETTINGS].server.refused_kept_bytes,
    )
    record = received.record
    structlog.contextvars.bind_contextvars(claim_id=record.id)
    if received.replayed:
        log.info("claim_replayed")
    else:
        request.app[METRICS].claims_received.labels(record.claim_type, "api").inc()
        log.info("claim_received", claim_type=record.claim_type, payer_id=record.payer_id)
    headers = {"Location": f"/v1/claims/{record.id}"}
    if received.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(claim_summary(record), status=202, headers=headers)


@routes.post("/v1/claims/batch")
async def create_claim_batch(request: web.Request) -> web.Response:
    """Many claims in one request, each checked on its own; the answer lists every claim."""
    submitter = await authenticate(request)
    body = await _read_body(request, submitter.id)
    idempotency_key = await _idempotency_key(request, submitter.id, body)
    received = await receive_batch(
        request.app[ENGINE],
        request.app[SEALER],
        submitter_id=submitter.id,
        body=body,
        content_type=request.headers.get("Content-Type"),
        idempotency_key=idempotency_key,
        max_claims=request.app[SETTINGS].server.max_batch_claims,
        refused_quota=request.app[SETTINGS].server.refused_kept_bytes,
    )
    batch = received.batch
    structlog.contextvars.bind_contextvars(batch_id=batch.id)
    counts = {
        "read": batch.claims_read,
        "accepted": batch.claims_accepted,
        "rejected": batch.claims_rejected,
    }
    if received.replayed:
        log.info("claim_batch_replayed")
    else:
        received_total = request.app[METRICS].claims_received
        for record in received.records:
            received_total.labels(record.claim_type, "api").inc()
        log.info("claim_batch_received", **counts)
    headers = {"Idempotent-Replayed": "true"} if received.replayed else None
    answer = {
        "batch_id": batch.id,
        "received_at": batch.received_at.isoformat(),
        "claims": counts,
        "claim_results": [_batch_result(r) for r in batch.results],
    }
    return web.json_response(answer, status=202, headers=headers)


def _batch_result(result: dict[str, Any]) -> dict[str, Any]:
    if "id" not in result:
        return result
    return {**result, "links": claim_links(result["id"])}


async def _idempotency_key(request: web.Request, submitter_id: str, body: bytes) -> str | None:
    """The request's Idempotency-Key; a malformed one refuses the request, whose body is kept
    with the refusal like any other."""
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        error = BadRequest(
            "Idempotency-Key must be 1-255 printable ASCII characters without spaces.",
            errors=[{"header": "Idempotency-Key", "message": "1-255 printable ASCII characters"}],
        )
        await _record_refused(request, submitter_id, error, body, len(body))
        raise error
    return idempotency_key


async def _read_body(request: web.Request, submitter_id: str) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        error = PayloadTooLarge(
            f"The body is larger than the {request.client_max_size}-byte limit; "
            "split the submission or ask the operator to raise server.max_body_bytes.",
        )
        # Only the declared size is known: the body past the limit was never read.
        await _record_refused(request, submitter_id, error, None, request.content_length or 0)
        raise error from None


async def _record_refused(
    request: web.Request, submitter_id: str, error: ProblemError, body: bytes | None, size: int
) -> None:
    async with request.app[ENGINE].begin() as conn:
        error.extra["rejection_id"] = await store.record_rejection(
            conn,
            request.app[SEALER],
            submitter_id=submitter_id,
            channel="api",
            reason=error.slug,
            errors=[{"pointer": "", "message": error.detail}],
            content_type=request.headers.get("Content-Type"),
            body=body,
            body_size=size,
            body_sha256=None if body is None else hashlib.sha256(body).hexdigest(),
            quota=request.app[SETTINGS].server.refused_kept_bytes,
        )


@routes.get("/v1/claims/{claim_id}")
async def get_claim(request: web.Request) -> web.Response:
    async with reading_as_submitter(request) as (conn, submitter):
        claim_id = request.match_info["claim_id"]
        found = await store.owned_claim_and_payload(
            conn, request.app[SEALER], claim_id, submitter.id
        )
        if found is None:
            raise _no_such_claim(claim_id)
        record, payload = found
        scrubbed = await store.latest_event(conn, record.id, SCRUB_EVENTS)
        corrections = await store.corrections_of(conn, [record.id])
    findings = scrubbed.detail["findings"] if scrubbed else None
    return web.json_response(
        {
            **claim_summary(record),
            # Replacements and voids of this claim (always the same submitter's).
            "corrected_by": [
                {"id": c.id, "frequency_code": c.frequency_code, "status": c.status.value}
                for c in corrections
            ],
            "findings": findings,
            "claim": payload,
        }
    )


@routes.post("/v1/claims/validate")
async def validate_claim(request: web.Request) -> web.Response:
    """The same checks as POST /v1/claims and the scrub step, storing nothing."""
    submitter = await authenticate(request)
    # Too large a body is answered 413 by the middleware; nothing is stored here anyway.
    body = await request.read()
    data = parse_claim_body(body, request.headers.get("Content-Type"))
    claim = claim_from_json(data)
    if not icd10.loaded():  # the first call in a process without workers reads the code set
        await asyncio.to_thread(icd10.warm_up)
    async with request.app[READER].connect() as conn:
        findings = await scrub_claim(
            conn,
            request.app[PAYERS],
            claim,
            submitter_id=submitter.id,
            duplicate_key=request.app[SEALER].lookup_hash(duplicate_fingerprint(claim)),
            now=datetime.now(UTC),
        )
    detail = findings_detail(findings)
    profile = request.app[PAYERS].get(claim.payer.payer_id)
    x12 = None
    if detail["errors"] == 0 and profile is not None:
        params = envelope(
            request.app[SETTINGS].x12, profile, control_number=1, created=datetime.now(UTC)
        )
        x12 = await preview_837([claim], params)
    return web.json_response({"valid": detail["errors"] == 0, **detail, "x12": x12})


@routes.get("/v1/claims/{claim_id}/events")
async def get_claim_events(request: web.Request) -> web.Response:
    async with reading_as_submitter(request) as (conn, submitter):
        record = await _owned_claim(conn, request, submitter)
        events = await store.claim_events_of(conn, record.id)
    return web.json_response(
        {
            "claim_id": record.id,
            "status": record.status.value,
            "items": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "detail": e.detail,
                }
                for e in events
            ],
        }
    )


@routes.get("/v1/claims/{claim_id}/remittance")
async def get_remittance(request: web.Request) -> web.Response:
    """What the payer paid, adjusted and why, and what the patient owes (net of reversals)."""
    async with reading_as_submitter(request) as (conn, submitter):
        record = await _owned_claim(conn, request, submitter)
        payments = await store.remittances_of(conn, record.id)
    return web.json_response(remittance_view(record, payments))


def remittance_view(record: store.ClaimRecord, payments: list[dict[str, Any]]) -> dict[str, Any]:
    paid = sum((p["paid"] for p in payments), Decimal(0))
    by_reason: dict[tuple[str, str], dict[str, Any]] = {}
    for payment in payments:
        adjustments = list(payment["detail"].get("adjustments", []))
        for line in payment["detail"].get("lines", []):
            adjustments += line["adjustments"]
        for a in adjustments:
            key = (a["group"], a["reason"])
            entry = by_reason.setdefault(
                key,
                {
                    "group": a["group"],
                    "group_meaning": a["group_meaning"],
                    "reason": a["reason"],
                    "reason_meaning": a["reason_meaning"],
                    "amount": Decimal(0),
                },
            )
            entry["amount"] += Decimal(a["amount"])
    adjustments = [
        {**e, "amount": money(e["amount"])} for e in by_reason.values() if e["amount"] != 0
    ]
    patient = [a for a in adjustments if a["group"] == "PR"]
    return {
        "claim_id": record.id,
        "status": record.status.value,
        "payer_claim_number": record.payer_claim_number,
        "total_charge": money(record.total_charge),
        "paid": money(paid),
        "patient_responsibility": {
            "total": money(sum((Decimal(a["amount"]) for a in patient), Decimal(0))),
            "by_reason": patient,
        },
        "adjustments": adjustments,
        "payments": [
            {
                "status_code": p["status_code"],
                "status_meaning": p["detail"].get("status_meaning"),
                "total_charge": money(p["total_charge"]),
                "paid": money(p["paid"]),
                "patient_responsibility": money(p["patient_responsibility"]),
                "payer_claim_number": p["payer_claim_number"],
                "payment_date": p["payment_date"].isoformat() if p["payment_date"] else None,
                "trace_number": p["trace_number"],
                "remark_codes": p["detail"].get("remark_codes", []),
                "lines": p["detail"].get("lines", []),
                "received_at": p["received_at"].isoformat(),
            }
            for p in payments
        ],
    }


@routes.get("/v1/claims")
async def list_claims(request: web.Request) -> web.Response:
    async with reading_as_submitter(request) as (conn, submitter):
        claim_filter, limit, cursor = _list_query(request.query)
        if claim_filter.payer_ids:
            # Claims keep the payer id they were sent with, which may be one of its aliases.
            profile = request.app[PAYERS].get(claim_filter.payer_ids[0])
            if profile is not None:
                claim_filter = dataclasses.replace(
                    claim_filter, payer_ids=(profile.payer_id, *profile.aliases)
                )
        page, next_cursor = await store.list_claims(
            conn, submitter.id, claim_filter, limit=limit, cursor=cursor
        )
    return web.json_response(
        {"items": [claim_summary(r) for r in page], "next_cursor": next_cursor}
    )


async def _owned_claim(
    conn: Any, request: web.Request, submitter: store.Submitter
) -> store.ClaimRecord:
    claim_id = request.match_info["claim_id"]
    record = await store.get_claim(conn, claim_id, submitter_id=submitter.id)
    if record is None:
        raise _no_such_claim(claim_id)
    return record


def _no_such_claim(claim_id: str) -> NotFound:
    # Another submitter's claim is reported exactly like a missing one.
    return NotFound(f"No claim {claim_id} for this submitter.")


_DATE_FILTERS = ("service_date_from", "service_date_to", "updated_from", "updated_to")
_LIST_FILTERS = frozenset({"status", "payer_id", "patient_control_number", *_DATE_FILTERS})


def _list_query(query: MultiMapping[str]) -> tuple[store.ClaimFilter, int, str | None]:
    errors: listing.Errors = []
    statuses: list[ClaimStatus] = []
    for raw in query.getall("status", []):
        for value in raw.split(","):
            try:
                statuses.append(ClaimStatus(value.strip().lower()))
            except ValueError:
                errors.append(
                    {
                        "parameter": "status",
                        "message": "must be one of " + ", ".join(s.value for s in ClaimStatus),
                    }
                )
    dates: dict[str, date | None] = {}
    for name in _DATE_FILTERS:
        raw = query.get(name)
        dates[name] = None
        if raw:
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors.append({"parameter": name, "message": "must be a date (YYYY-MM-DD)"})
    limit, cursor = listing.page(query, errors, store.CLAIMS_CURSOR)
    listing.check(query, errors, _LIST_FILTERS)
    return (
        store.ClaimFilter(
            status=tuple(statuses),
            payer_ids=tuple(filter(None, [query.get("payer_id")])),
            patient_control_number=query.get("patient_control_number") or None,
            service_date_from=dates["service_date_from"],
            service_date_to=dates["service_date_to"],
            updated_from=dates["updated_from"],
            updated_to=dates["updated_to"],
        ),
        limit,
        cursor,
    )


def claim_summary(record: store.ClaimRecord) -> dict[str, Any]:
    """What the API shows of a claim without its PHI payload."""
    return {
        "id": record.id,
        "status": record.status.value,
        "version": record.version,
        "claim_type": record.claim_type,
        "payer_id": record.payer_id,
        "patient_control_number": record.patient_control_number,
        "frequency_code": record.frequency_code,
        "payer_claim_number": record.payer_claim_number,
        "corrects_claim_id": record.corrects_claim_id,
        "total_charge": money(record.total_charge),
        "service_date_start": record.service_date_start.isoformat(),
        "service_date_end": record.service_date_end.isoformat(),
        "received_at": record.received_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "links": claim_links(record.id),
    }


def claim_links(claim_id: str) -> dict[str, str]:
    return {
        "self": f"/v1/claims/{claim_id}",
        "events": f"/v1/claims/{claim_id}/events",
        "remittance": f"/v1/claims/{claim_id}/remittance",
    }
