"""The scrub step: a RECEIVED claim is checked against the baseline and its payer's rules.

One transaction moves it to SCRUBBED (with the next job, batching) or SCRUB_REJECTED, with
every finding recorded in the claim's events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from edi.claim import Claim
from edi.claim_json import claim_from_json
from gateway import jobs, store
from gateway.lifecycle import ClaimStatus
from gateway.outbox_files import claim_scrubbed
from gateway.settings import X12Settings
from gateway.worker import Handler, Step
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
    before_pk: int | None = None,
) -> tuple[Finding, ...]:
    """Every finding for `claim`, judged against the submitter's earlier claims."""
    profile = payers.get(claim.payer.payer_id)
    lookback = profile.rules.duplicate_lookback_days if profile else DEFAULT_LOOKBACK_DAYS
    earlier = await store.earlier_claims(
        conn,
        submitter_id,
        patient_control_number=claim.patient_control_number,
        duplicate_key=duplicate_key,
        received_since=now - timedelta(days=lookback),
        before_pk=before_pk,
    )
    prior = [
        PriorClaim(
            claim_id=e.id,
            patient_control_number=e.patient_control_number,
            status=e.status.name,
            received_on=e.received_at.date(),
            duplicate_key=e.duplicate_key or "",
        )
        for e in earlier
    ]
    return scrub(
        claim,
        profile,
        today=now.date(),
        prior_claims=prior,
        duplicate_key=duplicate_key,
        payer_known=profile is not None,
    )


def findings_detail(findings: tuple[Finding, ...]) -> dict[str, Any]:
    return {
        "findings": [f.to_json() for f in findings],
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
    }


def scrub_handler(payers: PayerDirectory, x12: X12Settings | None = None) -> Handler:
    x12 = x12 or X12Settings()

    async def run(step: Step) -> None:
        now = datetime.now(UTC)
        async with step.finishing() as conn:
            record = await store.get_claim(conn, step.job.claim_id or "")
            if record is None or record.status is not ClaimStatus.RECEIVED:
                return  # an earlier run of this job already scrubbed it
            claim = claim_from_json(await store.claim_payload(conn, step.sealer, record.id))
            findings = await scrub_claim(
                conn,
                payers,
                claim,
                submitter_id=record.submitter_id,
                duplicate_key=record.duplicate_key,
                now=now,
                before_pk=record.pk,
            )
            detail = findings_detail(findings)
            if has_errors(findings):
                await store.change_status(
                    conn, record, ClaimStatus.SCRUB_REJECTED, "scrub_rejected", detail
                )
            else:
                await store.change_status(conn, record, ClaimStatus.SCRUBBED, "scrubbed", detail)
                await jobs.enqueue(
                    conn, "batch", claim_id=record.id, payload={"payer_id": record.payer_id}
                )
            # Claims sent in an 837 file are answered in X12 too: once its last claim is
            # scrubbed, one 277CA in the outbox for those the scrubber rejected.
            await claim_scrubbed(conn, step.sealer, x12, record)
        log.info("claim_scrubbed", errors=detail["errors"], warnings=detail["warnings"])

    return run
