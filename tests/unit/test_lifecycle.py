"""The claim state machine, checked over every pair of statuses."""

from __future__ import annotations

import itertools

from gateway.storage.lifecycle import TERMINAL, TRANSITIONS, ClaimStatus, can_transition

S = ClaimStatus

ALLOWED = {
    (S.RECEIVED, S.SCRUBBED),
    (S.RECEIVED, S.SCRUB_REJECTED),
    (S.SCRUBBED, S.TRANSLATED),
    (S.SCRUBBED, S.FAILED),
    (S.TRANSLATED, S.SUBMITTED),
    (S.TRANSLATED, S.FAILED),
    (S.FAILED, S.TRANSLATED),
    *(
        (before, s)
        for before in (S.SUBMITTED, S.TRANSLATED, S.FAILED)
        for s in (S.ACCEPTED, S.X12_REJECTED)
    ),
    *(
        (before, after)
        for before in (S.SUBMITTED, S.ACCEPTED, S.TRANSLATED, S.FAILED)
        for after in (
            S.ACKNOWLEDGED,
            S.PAYER_REJECTED,
            S.PENDED,
            S.PAID,
            S.PARTIALLY_PAID,
            S.DENIED,
        )
    ),
    *(
        (S.ACKNOWLEDGED, s)
        for s in (S.PAYER_REJECTED, S.PENDED, S.PAID, S.PARTIALLY_PAID, S.DENIED)
    ),
    *(
        (S.PENDED, s)
        for s in (S.ACKNOWLEDGED, S.PAYER_REJECTED, S.PAID, S.PARTIALLY_PAID, S.DENIED)
    ),
    *((s, S.REVERSED) for s in (S.PAID, S.PARTIALLY_PAID, S.DENIED)),
    # A void ends when the payer takes its original back, from wherever it was with the payer.
    *(
        (s, S.VOIDED)
        for s in (S.TRANSLATED, S.SUBMITTED, S.FAILED, S.ACCEPTED, S.ACKNOWLEDGED, S.PENDED)
    ),
    *((S.REVERSED, s) for s in (S.PAID, S.PARTIALLY_PAID, S.DENIED)),
}


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(ClaimStatus)


def test_every_pair_exhaustively() -> None:
    for before, after in itertools.product(ClaimStatus, repeat=2):
        assert can_transition(before, after) == ((before, after) in ALLOWED), (before, after)


def test_terminal_statuses_are_never_left() -> None:
    assert {S.SCRUB_REJECTED, S.X12_REJECTED, S.PAYER_REJECTED, S.VOIDED} == TERMINAL
    for status in TERMINAL:
        assert not any(can_transition(status, other) for other in ClaimStatus)


def test_no_status_moves_back_to_received() -> None:
    assert not any(can_transition(s, S.RECEIVED) for s in ClaimStatus)
