"""The payer simulator as an aiohttp app, speaking Clearway's HTTP mailbox protocol per payer:

    POST   /{payer_id}/inbound?name=NAME   an 837; answered at once with a 999 (or a TA1)
    GET    /{payer_id}/outbound            {"files": [...]} ready to collect
    GET    /{payer_id}/outbound/NAME       one file
    DELETE /{payer_id}/outbound/NAME       collected
    GET    /{payer_id}/ledger              receipts per ISA13: how often, how many claims

Like a payer it validates each 837 with pyx12 (all, a sample or none), answers a repeated
ISA13 with a TA1 025 instead of adjudicating again, and later drops a 277CA and 835s into the
sender's mailbox, timed by the payer profile's [simulator] delays. Chaos (a share of
requests) answers 503 before reading, or processes the file and then drops the connection
or stalls past the client's timeout, and duplicates or reorders mailbox files.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from edi.ack import ImplementationAck, InterchangeAck, TransactionSetAck
from edi.claim import Claim
from edi.envelope import EnvelopeParams
from edi.errors import EdiError
from edi.read_837 import read_837
from edi.read_envelope import single_set_interchanges
from edi.remittance import ClaimPayment
from edi.validate import AckControl, validate
from edi.write_ack import ack_from_report, build_999, build_ta1
from edi.x12 import SegmentReader, isa_elements
from payers.profile import PayerDirectory, PayerProfile
from payers.simulator.mailbox import Adjudicated, Ledger, Mailbox
from payers.simulator.responses import plan_responses

SIMULATOR_CONFIG = web.AppKey("simulator_config", "SimulatorConfig")
LOCKS = web.AppKey("locks", dict)


@dataclass(frozen=True)
class SimulatorConfig:
    data_dir: Path
    payers: PayerDirectory
    token: str = field(default="", repr=False)  # required as Authorization: Bearer, when set
    loopback_only: bool = False  # answer only requests from this host (mounted in a gateway)
    validate: str = "all"  # all, sample (validate_sample_percent of files) or none
    validate_sample_percent: int = 10
    chaos_percent: int = 0  # share of requests disturbed (0 in normal use)
    stall_seconds: float = 45.0  # a "timeout" chaos answer waits this long


def create_simulator_app(config: SimulatorConfig) -> web.Application:
    app = web.Application(client_max_size=512 * 1024 * 1024, middlewares=[_guard])
    app[SIMULATOR_CONFIG] = config
    app[LOCKS] = {}  # one per payer: the ledger's duplicate check and record go together
    app.router.add_post("/{payer_id}/inbound", receive)
    app.router.add_get("/{payer_id}/outbound", list_outbound)
    app.router.add_get("/{payer_id}/outbound/{name}", read_outbound)
    app.router.add_delete("/{payer_id}/outbound/{name}", remove_outbound)
    app.router.add_get("/{payer_id}/ledger", ledger)
    app.router.add_get("/healthz", healthz)
    return app


_LOOPBACK = ("127.", "::1", "::ffff:127.")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Its mailboxes hold answers full of PHI: only the gateway may read or delete them."""
    config = request.app[SIMULATOR_CONFIG]
    if config.loopback_only and not (request.remote or "").startswith(_LOOPBACK):
        raise web.HTTPNotFound()
    if config.token and request.match_info.route.handler is not healthz:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), config.token.encode()):
            raise web.HTTPUnauthorized(text="the simulator's token is required")
    return await handler(request)


def _payer(request: web.Request) -> PayerProfile:
    profile = request.app[SIMULATOR_CONFIG].payers.get(request.match_info["payer_id"])
    if profile is None:
        raise web.HTTPNotFound(text="no such payer")
    return profile


def _folder(request: web.Request, profile: PayerProfile) -> Path:
    return request.app[SIMULATOR_CONFIG].data_dir / profile.payer_id


async def receive(request: web.Request) -> web.StreamResponse:
    config = request.app[SIMULATOR_CONFIG]
    profile = _payer(request)
    chaos = _chaos(config)
    if chaos == "unavailable":
        raise web.HTTPServiceUnavailable(text="simulated outage")
    body = await request.read()
    folder = _folder(request, profile)
    lock = request.app[LOCKS].setdefault(profile.payer_id, asyncio.Lock())
    async with lock:
        answer = await asyncio.to_thread(_process, config, profile, folder, body)
    if chaos == "drop":
        # Processed, but the answer never arrives: the sender will retry the same file.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=200)
    if chaos == "stall":
        await asyncio.sleep(config.stall_seconds)
    return web.Response(body=answer, content_type="application/edi-x12")


def _chaos(config: SimulatorConfig) -> str | None:
    if config.chaos_percent <= 0 or random.randrange(100) >= config.chaos_percent:
        return None
    return random.choice(("unavailable", "drop", "stall"))


def _process(config: SimulatorConfig, profile: PayerProfile, folder: Path, body: bytes) -> bytes:
    """Acknowledge one 837 file and schedule what follows; returns the immediate answer."""
    ledger = Ledger(folder / "ledger.jsonl")
    text = body.decode("utf-8", errors="replace")
    now = datetime.now(UTC)
    sender, control = _isa(text)
    own = ledger.next_control_number()
    params = EnvelopeParams(
        sender_id=profile.payer_id,
        receiver_id=sender or "UNKNOWN",
        interchange_control_number=own,
        group_control_number=own,
        transaction_control_number=1,
        created=now,
        usage_indicator="P" if profile.usage == "production" else "T",
    )
    if control is None:
        ta1 = InterchangeAck(0, now.date(), now.time(), "R", "001")
        return build_ta1([ta1], params).encode()
    if ledger.seen(sender, control):
        ledger.record(sender, control, 0)
        ta1 = InterchangeAck(control, now.date(), now.time(), "R", "025")  # duplicate ISA13
        return build_ta1([ta1], params).encode()
    if _should_validate(config, body):
        try:
            report = validate(text, AckControl(own, own, 1, now))
        except EdiError:
            ledger.record(sender, control, 0)
            ta1 = InterchangeAck(control, now.date(), now.time(), "R", "024")
            return build_ta1([ta1], params).encode()
        acks = ack_from_report(text, report, params)
        accepted_sets = {
            (str(a.group_control_number), s.control_number)
            for a in acks
            for s in a.transaction_sets
            if s.accepted
        }
    else:
        acks, accepted_sets = (), None
    try:
        claims = _claims(text, accepted_sets)
    except EdiError:
        claims = []
    ledger.record(sender, control, len(claims))
    mailbox = Mailbox(folder / "outbound")
    chaos_files = config.chaos_percent > 0 and random.randrange(100) < config.chaos_percent
    adjudicated = Adjudicated(folder / "adjudicated.jsonl")
    newly: list[tuple[str, Claim | None, ClaimPayment | None]] = []
    for name, content, delay in plan_responses(
        profile,
        claims,
        control_number=control,
        receiver_id=sender,
        now=now,
        next_control_number=ledger.next_control_number,
        original=adjudicated.find,
        accepted=lambda number, claim, payment: newly.append((number, claim, payment)),
    ):
        ready_at = time.time() + delay
        if chaos_files:
            ready_at = time.time() + max(0.0, delay - random.uniform(0, 3))  # reordered
            mailbox.put(f"dup-{name}", content, ready_at=ready_at)  # and sent twice
        mailbox.put(name, content, ready_at=ready_at)
    adjudicated.add(newly)
    if not acks:
        acks = _accept_all(text, params)
    return build_999(list(acks), params).encode()


def _should_validate(config: SimulatorConfig, body: bytes) -> bool:
    if config.validate == "none":
        return False
    if config.validate == "sample":
        return int(hashlib.sha256(body).hexdigest()[:8], 16) % 100 < config.validate_sample_percent
    return True


def _isa(text: str) -> tuple[str, int | None]:
    """ISA06 (sender) and ISA13 of the first interchange."""
    elements = isa_elements(text)
    if elements is None or len(elements) < 17 or not elements[13].isdigit():
        return "", None
    return elements[6], int(elements[13])


def _claims(text: str, accepted_sets: set[tuple[str, str]] | None) -> list[Claim]:
    claims = []
    for gs06, _, st02, one_set in single_set_interchanges(text):
        if accepted_sets is not None and (gs06.lstrip("0"), st02) not in accepted_sets:
            continue
        claims += [c for c in read_837(one_set) if isinstance(c, Claim)]
    return claims


def _accept_all(text: str, params: EnvelopeParams) -> tuple[ImplementationAck, ...]:
    """The 999 for a file the simulator did not validate: every set accepted."""
    groups: list[tuple[list[str], list[TransactionSetAck]]] = []
    for segment in SegmentReader(text):
        if segment[0] == "GS":
            groups.append((segment, []))
        elif segment[0] == "ST" and groups:
            version = segment[3] if len(segment) > 3 else groups[-1][0][8]
            groups[-1][1].append(TransactionSetAck(segment[1], segment[2], "A", version))
    return tuple(
        ImplementationAck(
            functional_id=gs[1],
            group_control_number=int(gs[6]),
            status="A",
            sets_included=len(sets),
            sets_received=len(sets),
            sets_accepted=len(sets),
            version=gs[8],
            transaction_sets=tuple(sets),
        )
        for gs, sets in groups
    )


async def list_outbound(request: web.Request) -> web.Response:
    mailbox = Mailbox(_folder(request, _payer(request)) / "outbound")
    names = await asyncio.to_thread(mailbox.ready)
    return web.json_response({"files": [{"name": n} for n in names]})


async def read_outbound(request: web.Request) -> web.StreamResponse:
    mailbox = Mailbox(_folder(request, _payer(request)) / "outbound")
    path = mailbox.path(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(text="no such file")
    return web.Response(
        body=await asyncio.to_thread(path.read_bytes), content_type="application/edi-x12"
    )


async def remove_outbound(request: web.Request) -> web.Response:
    mailbox = Mailbox(_folder(request, _payer(request)) / "outbound")
    path = mailbox.path(request.match_info["name"])
    if path is not None:
        await asyncio.to_thread(path.unlink, True)
    return web.Response(status=204)


async def healthz(request: web.Request) -> web.Response:
    """For health checks: up, and how many payers it answers; no token needed, nothing shown."""
    return web.json_response({"status": "ok", "payers": len(request.app[SIMULATOR_CONFIG].payers)})


async def ledger(request: web.Request) -> web.Response:
    folder = _folder(request, _payer(request))
    return web.json_response(await asyncio.to_thread(Ledger(folder / "ledger.jsonl").entries))
