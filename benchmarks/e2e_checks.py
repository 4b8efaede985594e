"""What an end-to-end run must show besides each claim's final status: a complete event history
per claim, and paid amounts that add up to what the payers' 835s paid."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import aiohttp
from sqlalchemy import select

from edi.read_835 import read_835
from gateway.crypto import Sealer, parse_keys
from gateway.settings import DatabaseSettings
from gateway.storage import db
from gateway.storage import interchanges as ix
from gateway.storage.tables import interchanges


def history_gaps(events: list[dict[str, Any]], final_status: str) -> list[str]:
    """Where a claim's events do not chain from `received` to its final status: each status
    change must start where the one before it ended (events that record a response without
    moving the claim carry no statuses and are skipped)."""
    moves = [e for e in events if e["to_status"] is not None]
    gaps: list[str] = []
    if not moves or moves[0]["kind"] != "received":
        gaps.append("first event is not 'received'")
    for before, after in itertools.pairwise(moves):
        if after["from_status"] != before["to_status"]:
            gaps.append(
                f"{after['kind']} starts at {after['from_status']}, not {before['to_status']}"
            )
    if moves and moves[-1]["to_status"] != final_status:
        gaps.append(f"history ends at {moves[-1]['to_status']}, claim is {final_status}")
    return gaps


async def claim_checks(
    api: str, api_key: str, claims: dict[str, str]
) -> tuple[dict[str, list[str]], Decimal]:
    """Each claim's history gaps (claim id -> problems, only where there are any), and the sum
    of what the claims show as paid (GET /v1/claims/{id}/remittance)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    gaps: dict[str, list[str]] = {}
    paid = Decimal(0)
    slots = asyncio.Semaphore(8)
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(claim_id: str, status: str) -> None:
            nonlocal paid
            async with slots:
                async with session.get(f"{api}/v1/claims/{claim_id}/events") as response:
                    events = (await response.json())["items"]
                problems = history_gaps(events, status)
                if problems:
                    gaps[claim_id] = problems
                async with session.get(f"{api}/v1/claims/{claim_id}/remittance") as response:
                    if response.status == 200:
                        paid += Decimal((await response.json())["paid"])

        await asyncio.gather(*(one(i, s) for i, s in claims.items()))
    return gaps, paid


async def remitted_by_835s(database_url: str, crypto_keys: str) -> Decimal:
    """What the 835s the gateway received and applied paid, claim by claim (CLP04)."""
    sealer = Sealer(parse_keys(crypto_keys))
    engine = db.create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(interchanges.c.id).where(
                            interchanges.c.direction == ix.INBOUND,
                            interchanges.c.state == ix.APPLIED,
                        )
                    )
                ).scalars()
            )
            bodies = [await ix.interchange_body(conn, sealer, i) for i in ids]
    finally:
        await engine.dispose()
    return _sum_835s(bodies)


def _sum_835s(bodies: Iterable[bytes]) -> Decimal:
    return sum(
        (r.payment.amount for body in bodies if b"*835*" in body for r in read_835(body)),
        Decimal(0),
    )
