"""The intake step: a claim body, or a batch of claims, becomes RECEIVED claims and scrub jobs.

Something is always stored in one transaction: the sealed claims, the batch as received with
the answer for each of its claims, or a rejection record holding the sealed body and the
reasons. Nothing a submitter sends is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from edi.claim_json import claim_from_json
from gateway.crypto import Sealer
from gateway.errors import (
    BadRequest,
    Conflict,
    InvalidBatch,
    InvalidClaim,
    ProblemError,
    UnsupportedMediaType,
)
from gateway.intake.claim_schema import claim_errors, pointer
from gateway.storage import claims as store
from payers.duplicates import duplicate_fingerprint

# A large batch is checked in slices, letting other requests in between.
_YIELD_EVERY = 50
_K = TypeVar("_K", bound="_Keyed")


@dataclass(frozen=True)
class Received:
    record: store.ClaimRecord
    replayed: bool  # True when an Idempotency-Key matched an earlier identical request


@dataclass(frozen=True)
class BatchReceived:
    batch: store.ClaimBatch
    records: list[store.ClaimRecord]  # the claims recorded now; none when replayed
    replayed: bool  # True when an Idempotency-Key matched an earlier identical batch


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parse_json_body(body: bytes, content_type: str | None, what: str = "claim") -> Any:
    """Decode a JSON body; raises the problem that explains what is wrong."""
    if not is_json(content_type):
        raise UnsupportedMediaType(
            f"Send the {what} as JSON with Content-Type: application/json "
            "(raw X12 goes to /v1/x12)."
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"The body is not valid UTF-8 (invalid byte at offset {error.start}).",
            errors=[{"pointer": "", "message": f"invalid UTF-8 at byte {error.start}"}],
        ) from None
    try:
        return json.loads(text)
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
    except RecursionError:
        raise BadRequest(
            "The body nests arrays or objects deeper than a claim ever does.",
            errors=[{"pointer": "", "message": "nested too deeply"}],
        ) from None
    except ValueError as error:  # an integer past Python's digit limit for conversion
        raise BadRequest(
            f"The body holds a number that cannot be read: {error}.",
            errors=[{"pointer": "", "message": "a number with too many digits"}],
        ) from None


def parse_claim_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode and schema-check a claim body; raises the problem that explains what is wrong."""
    data = parse_json_body(body, content_type)
    errors = claim_errors(data)
    if errors:
        noun = "problem" if len(errors) == 1 else "problems"
        raise InvalidClaim(f"{len(errors)} {noun} in the claim; see errors.", errors=errors)
    return data  # type: ignore[no-any-return]


def batch_claims(data: Any, max_claims: int) -> list[Any]:
    """The claims of a batch body {"claims": [...]}, not yet checked one by one; raises
    InvalidBatch when the body is not that shape."""
    if not isinstance(data, dict):
        errors = [{"pointer": "", "message": 'must be an object: {"claims": [...]}'}]
    elif "claims" not in data:
        errors = [{"pointer": "/claims", "message": "is required"}]
    elif not isinstance(data["claims"], list):
        errors = [{"pointer": "/claims", "message": "must be an array"}]
    elif not data["claims"]:
        errors = [{"pointer": "/claims", "message": "must have at least 1 item"}]
    elif len(data["claims"]) > max_claims:
        errors = [
            {
                "pointer": "/claims",
                "message": f"must have at most {max_claims} items (server.max_batch_claims); "
                "send the rest in another batch",
            }
        ]
    else:
        errors = []
    if isinstance(data, dict):
        errors += [
            {"pointer": pointer([name]), "message": "is not a known field"}
            for name in sorted(data)
            if name != "claims"
        ]
    if errors:
        raise InvalidBatch("The body is not a batch of claims; see errors.", errors=errors)
    return data["claims"]  # type: ignore[no-any-return]


def request_digest(data: Any) -> str:
    """Digest of the content, so re-sent JSON with other spacing still counts as the same."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _new_claim(
    sealer: Sealer, data: dict[str, Any], digest: str, idempotency_key: str | None
) -> store.NewClaim:
    claim = claim_from_json(data)
    return store.NewClaim(
        claim=claim,
        claim_json=data,
        request_sha256=digest,
        idempotency_key=idempotency_key,
        duplicate_key=sealer.lookup_hash(duplicate_fingerprint(claim)),
    )


async def receive_claim(
    engine: AsyncEngine,
    sealer: Sealer,
    *,
    submitter_id: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None,
    refused_quota: int,
    channel: str = "api",
) -> Received:
    try:
        data = parse_claim_body(body, content_type)
    except ProblemError as error:
        await _reject(
            engine, sealer, submitter_id, channel, error, content_type, body, refused_quota
        )
        raise
    digest = request_digest(data)
    new = _new_claim(sealer, data, digest, idempotency_key)
    try:
        async with engine.begin() as conn:
            (record,) = await store.insert_received_claims(
                conn, sealer, [new], submitter_id=submitter_id, event_detail={"channel": channel}
            )
    except IntegrityError:
        # The Idempotency-Key is taken (by an earlier request, or a concurrent one that won
        # the insert). Trying the insert first saves a look-up on every new claim.
        earlier = await _replayed(
            engine,
            sealer,
            store.claim_by_idempotency_key,
            "claim",
            submitter_id=submitter_id,
            channel=channel,
            content_type=content_type,
            body=body,
            idempotency_key=idempotency_key,
            digest=digest,
            refused_quota=refused_quota,
        )
        if earlier is None:
            raise
        return Received(earlier, replayed=True)
    return Received(record, replayed=False)


async def receive_batch(
    engine: AsyncEngine,
    sealer: Sealer,
    *,
    submitter_id: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None,
    max_claims: int,
    refused_quota: int,
) -> BatchReceived:
    """Check each claim of a batch on its own; record the valid ones, their scrub jobs and
    the batch as received (with the answer for every claim) in one transaction."""
    channel = "api"
    try:
        data = parse_json_body(body, content_type, "batch")
        items = batch_claims(data, max_claims)
    except ProblemError as error:
        await _reject(
            engine, sealer, submitter_id, channel, error, content_type, body, refused_quota
        )
        raise
    batch_id = store.new_id()
    results: list[dict[str, Any]] = []
    new: list[store.NewClaim] = []
    for index, item in enumerate(items):
        if index % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)
        errors = claim_errors(item)
        if errors:
            at = f"/claims/{index}"
            results.append(
                {
                    "index": index,
                    "status": "invalid",
                    "errors": [{**e, "pointer": at + e["pointer"]} for e in errors],
                }
            )
            continue
        new.append(_new_claim(sealer, item, request_digest(item), None))
        results.append({"index": index, "status": "received"})
    digest = request_digest(data)
    try:
        async with engine.begin() as conn:
            records = await store.insert_received_claims(
                conn,
                sealer,
                new,
                submitter_id=submitter_id,
                event_detail={"channel": channel, "batch_id": batch_id},
            )
            accepted = iter(records)
            for result in results:
                if result["status"] == "received":
                    record = next(accepted)
                    result["id"] = record.id
                    result["patient_control_number"] = record.patient_control_number
            batch = store.ClaimBatch(
                id=batch_id,
                request_sha256=digest,
                received_at=store.utcnow(),
                claims_read=len(items),
                claims_accepted=len(new),
                claims_rejected=len(items) - len(new),
                results=results,
            )
            await store.insert_claim_batch(
                conn,
                sealer,
                batch,
                submitter_id=submitter_id,
                idempotency_key=idempotency_key,
                body=body,
            )
    except IntegrityError:
        earlier_batch = await _replayed(
            engine,
            sealer,
            store.claim_batch_by_idempotency_key,
            "batch",
            submitter_id=submitter_id,
            channel=channel,
            content_type=content_type,
            body=body,
            idempotency_key=idempotency_key,
            digest=digest,
            refused_quota=refused_quota,
        )
        if earlier_batch is None:
            raise
        return BatchReceived(earlier_batch, [], replayed=True)
    return BatchReceived(batch, records, replayed=False)


class _Keyed(Protocol):
    id: str
    request_sha256: str


async def _replayed(
    engine: AsyncEngine,
    sealer: Sealer,
    find: Callable[[AsyncConnection, str, str], Awaitable[_K | None]],
    what: str,
    *,
    submitter_id: str,
    channel: str,
    content_type: str | None,
    body: bytes,
    idempotency_key: str | None,
    digest: str,
    refused_quota: int,
) -> _K | None:
    """The earlier claim or batch (`what`) stored under this Idempotency-Key, found by `find`
    once the insert met the key taken; Conflict (recorded as a rejection) when that request
    had other content; None when there is no key or no earlier request."""
    if idempotency_key is None:
        return None
    async with engine.connect() as conn:
        earlier = await find(conn, submitter_id, idempotency_key)
    if earlier is not None and earlier.request_sha256 != digest:
        error = Conflict(
            f"This Idempotency-Key was already used with a different {what}; use a new key "
            f"for a new {what}.",
            **{f"{what}_id": earlier.id},
        )
        await _reject(
            engine, sealer, submitter_id, channel, error, content_type, body, refused_quota
        )
        raise error
    return earlier


async def _reject(
    engine: AsyncEngine,
    sealer: Sealer,
    submitter_id: str,
    channel: str,
    error: ProblemError,
    content_type: str | None,
    body: bytes,
    refused_quota: int,
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
            quota=refused_quota,
        )
    error.extra["rejection_id"] = rejection_id
