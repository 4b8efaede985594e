"""Facts about a submitter's earlier claims, supplied by the caller for the duplicate edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Claim states in which an earlier claim never reached the payer or was turned away there,
# so its patient control number may be sent again and it is not a duplicate.
REJECTED_STATUSES = frozenset({"SCRUB_REJECTED", "X12_REJECTED", "PAYER_REJECTED", "FAILED"})


@dataclass(frozen=True, slots=True)
class PriorClaim:
    """One earlier claim of the same submitter, as the gateway stored it (no PHI in clear)."""

    claim_id: str  # the gateway's claim id, named in findings
    patient_control_number: str  # CLM01 as submitted
    status: str  # gateway claim status, e.g. ACCEPTED, PAID, SCRUB_REJECTED
    received_on: date
    duplicate_key: str  # stored form (e.g. keyed hash) of that claim's duplicate fingerprint

    @property
    def was_rejected(self) -> bool:
        return self.status in REJECTED_STATUSES
