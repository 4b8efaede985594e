"""Raw X12 over HTTP, and the files exchanged with a submitter (its 837s, our answers)."""

from __future__ import annotations

import re

from aiohttp import web

from gateway import file_store as fs
from gateway.auth import authenticate
from gateway.context import ENGINE, SEALER, SETTINGS
from gateway.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from gateway.x12_intake import receive_x12

routes = web.RouteTableDef()
_X12_TYPES = {"application/edi-x12", "application/edi", "text/plain", "application/octet-stream"}
_NAME = re.compile(r"[^A-Za-z0-9._-]")


@routes.post("/v1/x12")
async def post_x12(request: web.Request) -> web.Response:
    """An 837 interchange as sent to a clearinghouse: answered with its TA1/999 (as X12 and
    as JSON); the claims of accepted transaction sets go on like JSON claims."""
    submitter = await authenticate(request)
    media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media not in _X12_TYPES:
        raise UnsupportedMediaType(
            "Send the 837 as Content-Type: application/edi-x12 (JSON claims go to /v1/claims)."
        )
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"The file is larger than the {request.client_max_size}-byte limit of the API; "
            "send large files by SFTP."
        ) from None
    if not body.strip():
        raise BadRequest("The body is empty: send the 837 file.")
    name = _NAME.sub("_", request.query.get("name", "upload.x12"))[:120]
    received = await receive_x12(
        request.app[ENGINE],
        request.app[SEALER],
        request.app[SETTINGS].x12,
        submitter_id=submitter.id,
        body=body,
        name=name,
        channel="api",
    )
    headers = {"Location": f"/v1/files/{received.file.id}"}
    if received.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(
        {**received.response, "file": received.file.summary(), "replayed": received.replayed},
        headers=headers,
    )


@routes.get("/v1/files")
async def list_files(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    direction = request.query.get("direction")
    if direction not in (None, fs.INBOUND, fs.OUTBOUND):
        raise BadRequest(
            "Unknown direction.",
            errors=[{"parameter": "direction", "message": "inbound or outbound"}],
        )
    async with request.app[ENGINE].connect() as conn:
        found = await fs.list_files(conn, submitter.id, direction=direction)
    return web.json_response({"items": [f.summary() for f in found]})


@routes.get("/v1/files/{file_id}")
async def get_file(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    async with request.app[ENGINE].connect() as conn:
        found = await fs.get_file(conn, request.match_info["file_id"], submitter.id)
    if found is None:
        raise NotFound("No such file for this submitter.")
    return web.json_response({**found.summary(), "detail": found.detail})


@routes.get("/v1/files/{file_id}/content")
async def get_file_content(request: web.Request) -> web.Response:
    submitter = await authenticate(request)
    async with request.app[ENGINE].connect() as conn:
        found = await fs.get_file(conn, request.match_info["file_id"], submitter.id)
        if found is None:
            raise NotFound("No such file for this submitter.")
        body = await fs.file_body(conn, request.app[SEALER], found.id)
    return web.Response(
        body=body,
        content_type="application/edi-x12",
        headers={"Content-Disposition": f'attachment; filename="{found.name}"'},
    )
