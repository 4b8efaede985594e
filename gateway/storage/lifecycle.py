"""The claim state machine: every status and the transitions allowed between them (pure).

A terminal claim is never rewound; a correction is a new claim (frequency 7 or 8) linked to it.
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    RECEIVED = "received"
    SCRUBBED = "scrubbed"
    SCRUB_REJECTED = "scrub_rejected"
    TRANSLATED = "translated"
    SUBMITTED = "submitted"
    FAILED = "failed"
    ACCEPTED = "accepted"  # 999 / TA1 accepted the transaction set
    X12_REJECTED = "x12_rejected"
    ACKNOWLEDGED = "acknowledged"  # 277CA A1/A2: the payer has it
    PAYER_REJECTED = "payer_rejected"
    PENDED = "pended"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"
    VOIDED = "voided"  # a void (frequency 8) whose original the payer has taken back


S = ClaimStatus
# A void (frequency 8) is answered by the payer taking the original's payment back (835
# CLP02 22 under the original's CLM01), or by an 835 line of its own: either ends it VOIDED.
_ADJUDICATED = {S.PAID, S.PARTIALLY_PAID, S.DENIED}
_PAYER_ANSWERS = {S.ACCEPTED, S.X12_REJECTED, S.ACKNOWLEDGED, S.PAYER_REJECTED, S.PENDED} | (
    _ADJUDICATED | {S.VOIDED}
)
# Responses can arrive out of order (an 835 before its 277CA, a 277CA before the 999), so any
# status the claim is "with the payer" in may move straight to a later payer answer.

TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.RECEIVED: frozenset({S.SCRUBBED, S.SCRUB_REJECTED}),
    S.SCRUBBED: frozenset({S.TRANSLATED, S.FAILED}),  # FAILED: the 837 has no place for a value
    S.SCRUB_REJECTED: frozenset(),
    # A payer's answer can overtake our own record of the send: the payer took the file, but
    # its reply was lost and the resend is still being retried (or was given up on). The answer
    # proves delivery, so it moves the claim on from there too.
    S.TRANSLATED: frozenset({S.SUBMITTED, S.FAILED} | _PAYER_ANSWERS),
    S.SUBMITTED: frozenset(_PAYER_ANSWERS),
    S.FAILED: frozenset({S.TRANSLATED} | _PAYER_ANSWERS),  # TRANSLATED: re-driven
    S.ACCEPTED: frozenset({S.ACKNOWLEDGED, S.PAYER_REJECTED, S.PENDED, S.VOIDED} | _ADJUDICATED),
    S.X12_REJECTED: frozenset(),
    S.ACKNOWLEDGED: frozenset({S.PAYER_REJECTED, S.PENDED, S.VOIDED} | _ADJUDICATED),
    S.PAYER_REJECTED: frozenset(),
    S.PENDED: frozenset({S.ACKNOWLEDGED, S.PAYER_REJECTED, S.VOIDED} | _ADJUDICATED),
    S.PAID: frozenset({S.REVERSED}),
    S.PARTIALLY_PAID: frozenset({S.REVERSED}),
    S.DENIED: frozenset({S.REVERSED}),
    S.REVERSED: frozenset(_ADJUDICATED),  # a reversal is usually followed by a corrected payment
    S.VOIDED: frozenset(),
}

TERMINAL: frozenset[ClaimStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def can_transition(current: ClaimStatus, new: ClaimStatus) -> bool:
    return new in TRANSITIONS[current]
