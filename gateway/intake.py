"""The intake step: a submitted claim body becomes a RECEIVED claim and a scrub job, or a refusal.

Either way something is stored in one transaction: the sealed claim, or a rejection record
holding the sealed body and the reasons. Nothing a submitter sends is lost.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from edi.claim_json import claim_from_json
from gateway import store
from gateway.claim_schema import claim_errors
from gateway.crypto import Sealer
from gateway.errors import BadRequest, Conflict, InvalidClaim, ProblemError, UnsupportedMediaType
from payers.duplicates import duplicate_fingerprint


@dataclass(frozen=True)
class Received:
    record: store.ClaimRecord
    replayed: bool  # True when an Idempotency-Key matched an earlier identical request


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parse_claim_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode and schema-check a claim body; raises the problem that explains what is wrong."""
    if not is_json(content_type):
        raise UnsupportedMediaType(
            "Send the claim as JSON with Content-Type: application/json (raw X12 goes to /v1/x12)."
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"The body is not valid UTF-8 (invalid byte at offset {error.start}).",
            errors=[{"pointer": "", "message": f"invalid UTF-8 at byte {error.start}"}],
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"The body is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}.",
            errors=[
                {
                    "pointer": "",
                    "message": f"{error.msg} (line {error.lineno}, column {error.colno})",
                }
            ],
        ) from None
    errors = claim_errors(data)
    if errors:
        noun = "problem" if len(errors) == 1 else "problems"
        raise InvalidClaim(f"{len(errors)} {noun} in the claim; see errors.", errors=errors)
    return data


def request_digest(data: dict[str, Any]) -> str:
    """Digest of the claim's content, so re-sent JSON with other spacing still counts as same."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def receive_claim(
    engine: AsyncEngine,
    sealer: Sealer,
    *,
    submitter_id: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None,
    channel: str = "api",
) -> Received:
    try:
        data = parse_claim_body(body, content_type)
        digest = request_digest(data)
        earlier = (
            await _replay(engine, submitter_id, idempotency_key, digest)
            if idempotency_key is not None
            else None
        )
    except ProblemError as error:
        await _reject(engine, sealer, submitter_id, channel, error, content_type, body)
        raise
    if earlier is not None:
        return Received(earlier, replayed=True)
    claim = claim_from_json(data)
    try:
        async with engine.begin() as conn:
            record = await store.insert_received_claim(
                conn,
                sealer,
                submitter_id=submitter_id,
                claim=claim,
                claim_json=data,
                request_sha256=digest,
                idempotency_key=idempotency_key,
                duplicate_key=sealer.lookup_hash(duplicate_fingerprint(claim)),
                channel=channel,
            )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the insert.
        if idempotency_key is None:
            raise
        earlier = await _replay(engine, submitter_id, idempotency_key, digest)
        if earlier is None:
            raise
        return Received(earlier, replayed=True)
    return Received(record, replayed=False)


async def _replay(
    engine: AsyncEngine, submitter_id: str, idempotency_key: str, digest: str
) -> store.ClaimRecord | None:
    async with engine.connect() as conn:
        earlier = await store.claim_by_idempotency_key(conn, submitter_id, idempotency_key)
    if earlier is not None and earlier.request_sha256 != digest:
        raise Conflict(
            "This Idempotency-Key was already used with a different claim; use a new key "
            "for a new claim.",
            claim_id=earlier.id,
        )
    return earlier


async def _reject(
    engine: AsyncEngine,
    sealer: Sealer,
    submitter_id: str,
    channel: str,
    error: ProblemError,
    content_type: str | None,
    body: bytes,
) -> None:
    async with engine.begin() as conn:
        rejection_id = await store.record_rejection(
            conn,
            sealer,
            submitter_id=submitter_id,
            channel=channel,
            reason=error.slug,
            errors=error.errors or [{"pointer": "", "message": error.detail}],
            content_type=content_type,
            body=body,
            body_size=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
        )
    error.extra["rejection_id"] = rejection_id
