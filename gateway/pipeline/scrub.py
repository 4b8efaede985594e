"""The scrub step: RECEIVED claims are checked against the baseline and their payers' rules.

One transaction takes every leased scrub job: each claim moves to SCRUBBED or SCRUB_REJECTED
with its findings in the event, the batch jobs of the SCRUBBED ones are queued, all jobs done.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.claim_json import claim_from_json
from gateway.pipeline.answer_files import claims_scrubbed
from gateway.pipeline.batch import BatchKey, batch_key, queue_batches
from gateway.pipeline.worker import Grouped, StepGroup
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage.lifecycle import ClaimStatus
from payers.duplicates import DEFAULT_LOOKBACK_DAYS
from payers.findings import Finding, has_errors
from payers.prior_claims import PriorClaim
from payers.profile import PayerDirectory
from payers.scrubber import scrub

log = structlog.get_logger("gateway.scrub")
SCRUB_EVENTS = ("scrubbed", "scrub_rejected")


async def scrub_claim(
    conn: AsyncConnection,
    payers: PayerDirectory,
    claim: Claim,
    *,
    submitter_id: str,
    duplicate_key: str | None,
    now: datetime,
) -> tuple[Finding, ...]:
    """Every finding for `claim`, judged against the submitter's earlier claims."""
    since = now - timedelta(days=_lookback(payers, claim.payer.payer_id))
    earlier = await store.earlier_claims(
        conn,
        submitter_id,
        patient_control_numbers=[claim.patient_control_number],
        duplicate_keys=[duplicate_key] if duplicate_key else [],
        received_since=since,
    )
    originals = await originals_of(conn, payers, claim, submitter_id)
    return _scrub(payers, claim, earlier, originals=originals, duplicate_key=duplicate_key, now=now)


async def originals_of(
    conn: AsyncConnection, payers: PayerDirectory, claim: Claim, submitter_id: str
) -> list[store.ClaimRecord] | None:
    """For a replacement or void: the submitter's own claims to the same payer (under any of
    its ids) that the payer knows by the number it names (REF*F8), most recent first; None for
    any other claim. Only these may be corrected: never another submitter's claim."""
    if claim.frequency_code not in ("7", "8") or not claim.payer_claim_number:
        return None
    profile = payers.get(claim.payer.payer_id)
    payer_ids = (profile.payer_id, *profile.aliases) if profile else (claim.payer.payer_id,)
    return await store.claims_by_payer_claim_number(
        conn, submitter_id, payer_ids, claim.payer_claim_number
    )


def _lookback(payers: PayerDirectory, payer_id: str) -> int:
    profile = payers.get(payer_id)
    return profile.rules.duplicate_lookback_days if profile else DEFAULT_LOOKBACK_DAYS


def _prior(record: store.ClaimRecord) -> PriorClaim:
    return PriorClaim(
        claim_id=record.id,
        patient_control_number=record.patient_control_number,
        status=record.status.name,
        received_on=record.received_at.date(),
        duplicate_key=record.duplicate_key or "",
    )


def _scrub(
    payers: PayerDirectory,
    claim: Claim,
    earlier: list[store.ClaimRecord],
    *,
    originals: list[store.ClaimRecord] | None,
    duplicate_key: str | None,
    now: datetime,
) -> tuple[Finding, ...]:
    """Scrub against the earlier claims sharing its CLM01 (any age) or, within the payer's
    lookback, its duplicate key."""
    profile = payers.get(claim.payer.payer_id)
    since = now - timedelta(days=_lookback(payers, claim.payer.payer_id))
    prior = [
        _prior(e)
        for e in earlier
        if e.patient_control_number == claim.patient_control_number
        or (duplicate_key and e.duplicate_key == duplicate_key and e.received_at >= since)
    ]
    return scrub(
        claim,
        profile,
        today=now.date(),
        prior_claims=prior,
        originals=None if originals is None else [_prior(o) for o in originals],
        duplicate_key=duplicate_key,
        payer_known=profile is not None,
    )


def findings_detail(findings: tuple[Finding, ...]) -> dict[str, Any]:
    return {
        "findings": [f.to_json() for f in findings],
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
    }


def scrub_handler(payers: PayerDirectory, x12: X12Settings | None = None) -> Grouped:
    x12 = x12 or X12Settings()

    async def run(group: StepGroup) -> None:
        now = datetime.now(UTC)
        async with group.finishing() as conn:
            ids = [job.claim_id for job in group.leased if job.claim_id]
            # A claim no longer RECEIVED was scrubbed by an earlier run of its job.
            records = [
                r for r in await store.get_claims(conn, ids) if r.status is ClaimStatus.RECEIVED
            ]
            payloads = await store.claim_payloads(conn, group.sealer, [r.id for r in records])
            claims = {r.id: claim_from_json(payloads[r.id]) for r in records}
            earlier = await _earlier_claims(conn, payers, records, claims, now)
            changes = store.StatusChanges()
            batches: set[BatchKey] = set()
            corrects: dict[str, str] = {}  # correction's claim id -> the claim it corrects
            scrubbed: list[tuple[str, int, int]] = []  # logged once committed
            for record in records:  # in arrival order: twins are judged against the first
                claim = claims[record.id]
                twins = earlier[record.submitter_id].of(record)
                before = [changes.current(e) for e in twins if e.pk < record.pk]
                originals = await originals_of(conn, payers, claim, record.submitter_id)
                findings = _scrub(
                    payers,
                    claim,
                    before,
                    originals=originals,
                    duplicate_key=record.duplicate_key,
                    now=now,
                )
                detail = findings_detail(findings)
                if has_errors(findings):
                    changes.change(record, ClaimStatus.SCRUB_REJECTED, "scrub_rejected", detail)
                else:
                    changes.change(record, ClaimStatus.SCRUBBED, "scrubbed", detail)
                    batches.add(batch_key(record))
                    if originals:
                        corrects[record.id] = originals[0].id
                        detail["corrects_claim_id"] = originals[0].id
                scrubbed.append((record.id, detail["errors"], detail["warnings"]))
            await changes.write(conn)
            await store.link_corrections(conn, corrects)
            # Claims sent in an 837 file are answered in X12 too: once a file's last claim is
            # scrubbed, one 277CA in the outbox for those the scrubber rejected.
            await claims_scrubbed(conn, group.sealer, x12, records)
            await queue_batches(conn, batches, now)
        for claim_id, errors, warnings in scrubbed:
            with structlog.contextvars.bound_contextvars(claim_id=claim_id):
                log.info("claim_scrubbed", errors=errors, warnings=warnings)

    return Grouped(run)


class _Twins:
    """A submitter's claims that may be earlier twins of the claims being scrubbed, found by
    CLM01 and by duplicate key, so each claim looks only at its own candidates."""

    def __init__(self, found: list[store.ClaimRecord]) -> None:
        self._by_pcn: dict[str, list[store.ClaimRecord]] = {}
        self._by_key: dict[str, list[store.ClaimRecord]] = {}
        for record in found:
            self._by_pcn.setdefault(record.patient_control_number, []).append(record)
            if record.duplicate_key:
                self._by_key.setdefault(record.duplicate_key, []).append(record)

    def of(self, record: store.ClaimRecord) -> list[store.ClaimRecord]:
        """Candidates for `record`, oldest first (it may be among them)."""
        same = self._by_pcn.get(record.patient_control_number, [])
        if not record.duplicate_key:
            return same
        both = {r.id: r for r in same} | {
            r.id: r for r in self._by_key.get(record.duplicate_key, [])
        }
        return sorted(both.values(), key=lambda r: r.pk)


async def _earlier_claims(
    conn: AsyncConnection,
    payers: PayerDirectory,
    records: list[store.ClaimRecord],
    claims: dict[str, Claim],
    now: datetime,
) -> dict[str, _Twins]:
    """Per submitter, its claims that may be earlier twins of these (one query each)."""
    found: dict[str, _Twins] = {}
    for submitter_id in sorted({r.submitter_id for r in records}):
        mine = [r for r in records if r.submitter_id == submitter_id]
        found[submitter_id] = _Twins(
            await store.earlier_claims(
                conn,
                submitter_id,
                patient_control_numbers=sorted({r.patient_control_number for r in mine}),
                duplicate_keys=sorted({r.duplicate_key for r in mine if r.duplicate_key}),
                received_since=now
                - timedelta(days=max(_lookback(payers, claims[r.id].payer.payer_id) for r in mine)),
            )
        )
    return found
