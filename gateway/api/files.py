"""Raw X12 over HTTP, and the files exchanged with a submitter (its 837s, our answers)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from multidict import MultiMapping

from gateway.api import listing
from gateway.auth import authenticate, reading_as_submitter
from gateway.context import ENGINE, READER, SEALER, SETTINGS
from gateway.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from gateway.intake.drop import UPLOAD_INTAKE
from gateway.intake.x12 import receive_x12, store_x12
from gateway.private import open_private, private_folder
from gateway.storage import files as fs

routes = web.RouteTableDef()
_X12_TYPES = {"application/edi-x12", "application/edi", "text/plain", "application/octet-stream"}
_NAME = re.compile(r"[^A-Za-z0-9._-]")


@routes.post("/v1/x12")
async def post_x12(request: web.Request) -> web.Response:
    """An 837 interchange as sent to a clearinghouse: answered with its TA1/999 (as X12 and
    as JSON), or, when larger than x12.answer_within_bytes, with 202 and the file to follow
    while it is processed in the background; the claims of accepted transaction sets go on
    like JSON claims."""
    submitter = await authenticate(request)
    media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media not in _X12_TYPES:
        raise UnsupportedMediaType(
            "Send the 837 as Content-Type: application/edi-x12 (JSON claims go to /v1/claims)."
        )
    settings = request.app[SETTINGS].x12
    intake = request.app[UPLOAD_INTAKE]
    name = _NAME.sub("_", request.query.get("name", "upload.x12"))[:120]
    upload = await _spool_body(request, intake.root / _INCOMING, settings.max_file_bytes)
    try:
        size, sha256, blank = upload.size, upload.sha256, upload.blank
        if blank:
            raise BadRequest("The body is empty: send the 837 file.")
        engine, sealer = request.app[ENGINE], request.app[SEALER]
        if size > settings.answer_within_bytes:
            stored, answered = await store_x12(
                engine,
                sealer,
                submitter_id=submitter.id,
                path=upload.path,
                name=name,
                channel="api",
                sha256=sha256,
            )
            if not answered:
                # Stored sealed: from here the background intake owns the upload (resumed from
                # the spool after a crash), and the client follows the file's progress.
                intake.accept(upload.path, submitter.id)
                return web.json_response(
                    {"file_id": stored.id, "file": stored.summary(), "replayed": False},
                    status=202,
                    headers={"Location": f"/v1/files/{stored.id}"},
                )
        received = await receive_x12(
            engine,
            sealer,
            settings,
            submitter_id=submitter.id,
            path=upload.path,
            name=name,
            channel="api",
            refused_quota=request.app[SETTINGS].server.refused_kept_bytes,
        )
    finally:
        upload.path.unlink(missing_ok=True)
    headers = {"Location": f"/v1/files/{received.file.id}"}
    if received.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(
        {**received.response, "file": received.file.summary(), "replayed": received.replayed},
        headers=headers,
    )


_INCOMING = ".incoming"  # bodies being received; starts with a dot, so no submitter id takes it


@dataclass(frozen=True)
class _Upload:
    path: Path
    size: int
    sha256: str
    blank: bool  # nothing but white space


async def _spool_body(request: web.Request, folder: Path, limit: int) -> _Upload:
    """Write the request body to a file as it arrives (never whole in memory), hashing it."""
    await asyncio.to_thread(private_folder, folder)
    path = folder / uuid.uuid4().hex
    digest = hashlib.sha256()
    size, blank = 0, True
    try:
        descriptor = await asyncio.to_thread(open_private, path, exclusive=True)
        with os.fdopen(descriptor, "wb") as out:
            async for block in request.content.iter_chunked(1 << 20):
                size += len(block)
                if size > limit:
                    raise PayloadTooLarge(
                        f"The file is larger than the {limit}-byte limit for 837 files "
                        "(x12.max_file_bytes)."
                    )
                digest.update(block)
                blank = blank and not block.strip()
                await asyncio.to_thread(out.write, block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return _Upload(path, size, digest.hexdigest(), blank)


@routes.get("/v1/files")
async def list_files(request: web.Request) -> web.Response:
    """The submitter's files, newest first, a page at a time (like GET /v1/claims)."""
    async with reading_as_submitter(request) as (conn, submitter):
        direction, limit, cursor = _list_query(request.query)
        found, next_cursor = await fs.list_files(
            conn, submitter.id, direction=direction, limit=limit, cursor=cursor
        )
    return web.json_response({"items": [f.summary() for f in found], "next_cursor": next_cursor})


def _list_query(query: MultiMapping[str]) -> tuple[str | None, int, str | None]:
    """direction, limit and cursor, or the 400 problem naming every bad parameter."""
    errors: listing.Errors = []
    direction = listing.single(query, "direction", errors)
    if direction not in (None, fs.INBOUND, fs.OUTBOUND):
        errors.append({"parameter": "direction", "message": "inbound or outbound"})
    limit, cursor = listing.page(query, errors, fs.CURSOR)
    listing.check(query, errors, frozenset({"direction"}))
    return direction, limit, cursor


@routes.get("/v1/files/{file_id}")
async def get_file(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    async with request.app[READER].connect() as conn:
        found = await fs.get_file(conn, request.match_info["file_id"], submitter.id)
    if found is None:
        raise NotFound("No such file for this submitter.")
    return web.json_response({**found.summary(), "detail": found.detail})


@routes.get("/v1/files/{file_id}/content")
async def get_file_content(request: web.Request) -> web.StreamResponse:
    submitter = await authenticate(request)
    async with request.app[READER].connect() as conn:
        found = await fs.get_file(conn, request.match_info["file_id"], submitter.id)
        if found is None:
            raise NotFound("No such file for this submitter.")
        parts = fs.file_parts(conn, request.app[SEALER], found.id)
        # The first part is opened before answering, so a file that does not open is a
        # problem answer, not a cut-off download.
        first = await anext(parts)
        headers = {
            "Content-Type": "application/edi-x12",
            "Content-Disposition": f'attachment; filename="{found.name}"',
        }
        if found.kept_bytes is not None:
            # A refused file past its submitter's quota: only its head was kept.
            headers["Clearway-Kept-Bytes"] = f"{found.kept_bytes} of {found.size}"
        response = web.StreamResponse(headers=headers)
        response.content_length = found.size if found.kept_bytes is None else found.kept_bytes
        await response.prepare(request)
        await response.write(first)
        async for part in parts:
            await response.write(part)
        await response.write_eof()
    return response
