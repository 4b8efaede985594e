"""The simulator's adjudication: every 835 line balances, and a COB claim is paid after its
earlier payers, not as if it were the first."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from edi.claim_json import claim_from_json
from payers.profile import load_profiles
from payers.simulator.adjudication import Outcome, adjudicate
from tests.conftest import example

SECONDARY = claim_from_json(example("professional-secondary.json"))
PROFILES = load_profiles()


def balanced(payment: object) -> bool:
    return all(
        line.charge == line.paid + sum((a.amount for a in line.adjustments), Decimal(0))
        for line in payment.lines  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("outcome", ["paid", "patient_share", "partial", "denied"])
def test_a_secondary_claim_pays_what_the_primary_left(outcome: Outcome) -> None:
    # Charge 150.00; the primary paid 80.00 and left the patient 30.00 (AMT*EAF).
    sim = PROFILES[SECONDARY.payer.payer_id].simulator
    payment = adjudicate(SECONDARY, sim, outcome, payer_claim_control_number="X1")
    assert balanced(payment)
    prior = sum(
        (a.amount for line in payment.lines for a in line.adjustments if a.reason == "23"),
        Decimal(0),
    )
    owed = payment.paid + (payment.patient_responsibility or Decimal(0))
    if outcome == "denied":
        assert payment.paid == 0 and prior == 0
    elif outcome == "partial":
        assert owed <= Decimal("30.00")
    else:
        assert owed == Decimal("30.00")  # never more than the primary left
        assert prior == sum((line.allowed_amount for line in payment.lines), Decimal(0)) - owed
    if outcome == "paid":
        assert payment.paid == Decimal("30.00")


def test_without_earlier_payers_nothing_is_taken_for_them() -> None:
    primary = replace(SECONDARY, other_payers=())
    sim = PROFILES[SECONDARY.payer.payer_id].simulator
    payment = adjudicate(primary, sim, "paid", payer_claim_control_number="X1")
    assert balanced(payment)
    assert not [a for line in payment.lines for a in line.adjustments if a.reason == "23"]
    assert payment.paid == sum((line.allowed_amount for line in payment.lines), Decimal(0))


def test_only_what_was_paid_counts_when_the_liability_is_not_given() -> None:
    other = replace(SECONDARY.other_payers[0], remaining_patient_liability=None)
    claim = replace(SECONDARY, other_payers=(other,))
    sim = PROFILES[SECONDARY.payer.payer_id].simulator
    payment = adjudicate(claim, sim, "paid", payer_claim_control_number="X1")
    assert balanced(payment)
    allowed = sum((line.allowed_amount for line in payment.lines), Decimal(0))
    assert payment.paid == allowed - Decimal("80.00")


def _matrix_for(payer_id: str, sim: object) -> list[object]:
    """The full claim matrix (tests/unit/claims.py: every optional field set somewhere, both
    claim types) sent to this payer, each shape under patient control numbers that give it
    every outcome the payer's simulation can (the two largest shapes: one, paid)."""
    from typing import get_args

    from payers.simulator.adjudication import outcome_for
    from tests.unit.claims import INSTITUTIONAL_SHAPES, PROFESSIONAL_SHAPES

    outcomes = [o for o in get_args(Outcome) if o == "paid" or _share(sim, o)]
    shapes = [*PROFESSIONAL_SHAPES.values(), *INSTITUTIONAL_SHAPES.values()]
    claims = []
    for i, shape in enumerate(shapes):
        large = len(shape.service_lines) > 12
        for outcome in ["paid"] if large else outcomes:
            n = 0
            while outcome_for(pcn := f"MX{i:02d}{outcome[:2]}{n:04d}", sim) != outcome:  # type: ignore[arg-type]
                n += 1
            claims.append(
                replace(
                    shape,
                    patient_control_number=pcn,
                    payer=replace(shape.payer, payer_id=payer_id),
                    service_lines=tuple(
                        replace(line, line_control_number=f"{pcn}-{k}")
                        for k, line in enumerate(shape.service_lines, 1)
                    ),
                )
            )
    return claims


def _share(sim: object, outcome: str) -> int:
    name = {"rejected": "reject", "pended": "pend", "denied": "deny", "reversed": "reverse"}
    return int(getattr(sim, f"{name.get(outcome, outcome)}_percent"))


def test_every_file_the_simulator_answers_with_is_clean_under_pyx12() -> None:
    """Over the full claim matrix, so optional fields (a procedure's description, corrections,
    COB, institutional lines without HCPCS ...) reach the answers; pyx12 refuses what the
    guides do not use, such as SVC01-7."""
    from datetime import UTC, datetime
    from itertools import count

    from edi.validate import AckControl, validate
    from payers.simulator.adjudication import adjudicate, outcome_for
    from payers.simulator.responses import plan_responses
    from tests.e2e.support import varied_claims
    from tests.unit.claims import institutional, professional

    varied = [claim_from_json(c) for c in varied_claims(60, prefix="SIMX")]
    numbers = count(1)
    checked = 0
    for payer_id, profile in PROFILES.items():
        mine = [c for c in varied if c.payer.payer_id == payer_id]
        mine += _matrix_for(payer_id, profile.simulator)  # type: ignore[arg-type]
        # What a correction (REF*F8) names: the original's payment, taken back, then replaced.
        originals = {
            number: adjudicate(
                claim,
                profile.simulator,
                outcome_for(claim.patient_control_number, profile.simulator),
                payer_claim_control_number=number,
            )
            for number, claim in (
                ("PAYERCLM123", professional()),
                ("PAYERCLM124", professional()),
                ("PAYERCLM9", institutional()),
            )
        }
        kinds = set()
        for name, content, _ in plan_responses(
            profile,
            mine,  # type: ignore[arg-type]
            control_number=7,
            receiver_id="CLEARWAY",
            now=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
            next_control_number=lambda: next(numbers),
            original=lambda number, claim: originals.get(number),
        ):
            report = validate(content.decode(), AckControl(1, 1, 1, datetime.now(UTC)))
            assert report.ok, (payer_id, name, report.issues[:5])
            kinds.add(name.split("-")[0])
            checked += 1
        assert kinds == {"277CA", "835"}, (payer_id, kinds)
    assert checked >= 2 * len(PROFILES)


def _answers(claims: list[object], original: object) -> tuple[list[object], list[object]]:
    from datetime import UTC, datetime
    from itertools import count

    from edi.read_277ca import read_277ca
    from edi.read_835 import read_835
    from payers.simulator.responses import plan_responses

    numbers = count(1)
    acks: list[object] = []
    payments: list[object] = []
    for name, content, _ in plan_responses(
        PROFILES["SIMCOM01"],
        claims,  # type: ignore[arg-type]
        control_number=9,
        receiver_id="CLEARWAY",
        now=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        next_control_number=lambda: next(numbers),
        original=lambda number, claim: original if number == "SIM-ORIGINAL" else None,  # type: ignore[arg-type,return-value]
    ):
        if name.startswith("277CA"):
            acks += [c for ack in read_277ca(content.decode()) for _, c in ack.claims()]
        else:
            payments += [c for r in read_835(content.decode()) for c in r.claims]
    return acks, payments


ORIGINAL = claim_from_json(example("professional-office-visit.json"))  # PCN-2026-0004


def _paid(claim: Any) -> Any:
    """The payment SIMCOM01 made for `claim`, as the simulator keeps it."""
    from payers.simulator.adjudication import adjudicate, outcome_for

    sim = PROFILES["SIMCOM01"].simulator
    outcome = outcome_for(claim.patient_control_number, sim)
    return adjudicate(claim, sim, outcome, payer_claim_control_number="SIM-ORIGINAL")


ORIGINAL_PAYMENT = _paid(ORIGINAL)


def test_a_void_takes_the_original_payment_back() -> None:
    void = replace(
        ORIGINAL,
        patient_control_number="PCN-2026-0004V",
        frequency_code="8",
        payer_claim_number="SIM-ORIGINAL",
    )
    acks, payments = _answers([void], ORIGINAL_PAYMENT)
    assert [(a.patient_control_number, a.category) for a in acks] == [("PCN-2026-0004V", "A2")]
    (reversal,) = payments
    assert (reversal.patient_control_number, reversal.status) == ("PCN-2026-0004", "22")
    assert reversal.payer_claim_control_number == "SIM-ORIGINAL"
    assert reversal.paid < 0 and reversal.total_charge == -ORIGINAL.total_charge


def test_a_replacement_reverses_the_original_and_is_paid() -> None:
    replacement = replace(
        ORIGINAL,
        patient_control_number="PCN-2026-0004R",
        frequency_code="7",
        payer_claim_number="SIM-ORIGINAL",
    )
    _, payments = _answers([replacement], ORIGINAL_PAYMENT)
    assert [(p.patient_control_number, p.status) for p in payments] == [
        ("PCN-2026-0004", "22"),
        ("PCN-2026-0004R", "1"),
    ]


def test_a_correction_naming_no_claim_of_the_payer_is_rejected() -> None:
    void = replace(ORIGINAL, frequency_code="8", payer_claim_number="DOESNOTEXIST")
    acks, payments = _answers([void], ORIGINAL_PAYMENT)
    assert [a.category for a in acks] == ["A7"] and payments == []


def test_a_claim_is_corrected_once_and_only_for_its_own_provider_and_patient(
    tmp_path: Any,
) -> None:
    import os
    import stat

    from payers.simulator.mailbox import Adjudicated

    store = Adjudicated(tmp_path / "payer" / "adjudicated.jsonl")
    void = replace(ORIGINAL, frequency_code="8", payer_claim_number="SIM-ORIGINAL")
    assert store.find("SIM-ORIGINAL", void) is None
    store.add([("SIM-ORIGINAL", ORIGINAL, ORIGINAL_PAYMENT)])
    assert store.find("SIM-ORIGINAL", void) == ORIGINAL_PAYMENT
    # Another practice (billing NPI) or another patient naming the same number finds nothing.
    other_practice = replace(
        void, billing_provider=replace(ORIGINAL.billing_provider, npi="1497758544")
    )
    other_member = replace(void, subscriber=replace(ORIGINAL.subscriber, member_id="SIMC9999999"))
    assert store.find("SIM-ORIGINAL", other_practice) is None
    assert store.find("SIM-ORIGINAL", other_member) is None
    store.add([("SIM-ORIGINAL", None, None)])  # voided or replaced
    assert store.find("SIM-ORIGINAL", void) is None
    # What is kept names nobody, and only its owner may read it.
    kept = store.path.read_text()
    person = ORIGINAL.patient or ORIGINAL.subscriber
    for phi in (person.last_name, person.first_name, ORIGINAL.subscriber.member_id):
        assert phi not in kept
    assert str(person.birth_date) not in kept
    for path in (store.path, store.path.with_name("identity-key")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700
