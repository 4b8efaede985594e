"""Matching a payer's answer to the one claim it speaks of, never to a guess."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from gateway.pipeline.matching import Evidence, Sent, group_sent, match
from gateway.storage.claims import ClaimRecord
from gateway.storage.lifecycle import ClaimStatus

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def record(claim_id: str, submitter: str, **changes: object) -> ClaimRecord:
    base = ClaimRecord(
        pk=1,
        id=claim_id,
        submitter_id=submitter,
        status=ClaimStatus.SUBMITTED,
        version=3,
        claim_type="professional",
        payer_id="SIMCOM01",
        patient_control_number="PCN-1",
        frequency_code="1",
        total_charge=Decimal("180.00"),
        service_date_start=date(2026, 11, 3),
        service_date_end=date(2026, 11, 3),
        idempotency_key=None,
        request_sha256="0" * 64,
        duplicate_key=None,
        payer_claim_number=None,
        corrects_claim_id=None,
        received_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


A = Sent(record("a", "practice-a"), frozenset({5}), billing_npi="1234567893", billing_tax_id="1")
B = Sent(record("b", "practice-b"), frozenset({6}), billing_npi="1544332210", billing_tax_id="2")
PCN = "PCN-1"


def test_one_candidate_is_the_claim_unless_the_payer_number_says_otherwise() -> None:
    assert match([A], Evidence(PCN), {}).record is A.record
    numbered = Sent(record("a", "practice-a", payer_claim_number="P1"), frozenset({5}))
    assert match([numbered], Evidence(PCN, payer_claim_number="P1"), {}).record is numbered.record
    found = match([numbered], Evidence(PCN, payer_claim_number="P2"), {})
    assert found.record is None and "differs" in found.why_not
    assert match([], Evidence(PCN), {}).why_not


def test_two_practices_are_told_apart_by_what_the_answer_says() -> None:
    # The billing provider (277CA 2100C, 835 N1*PE) ...
    assert match([A, B], Evidence(PCN, provider_npi="1544332210"), {}).record is B.record
    assert match([A, B], Evidence(PCN, provider_tax_id="1"), {}).record is A.record
    # ... the payer's number, once one of them has it (or this file gave it) ...
    assert match([A, B], Evidence(PCN, payer_claim_number="N"), {"b": "N"}).record is B.record
    # ... the batch reference our 837 carried (2200B TRN02 = its BHT03 = ISA13) ...
    assert match([A, B], Evidence(PCN, batch_reference="000000006"), {}).record is B.record
    # ... or the charge and dates.
    cheaper = replace(B, record=replace(B.record, total_charge=Decimal("95.00")))
    assert match([A, cheaper], Evidence(PCN, total_charge=Decimal("95.00")), {}).record is (
        cheaper.record
    )
    later = replace(B, record=replace(B.record, service_date_start=date(2026, 11, 9),
                                      service_date_end=date(2026, 11, 9)))  # fmt: skip
    assert match([A, later], Evidence(PCN, service_start=date(2026, 11, 9)), {}).record is (
        later.record
    )
    # A reversal carries the charge negated.
    reversal = Evidence(PCN, total_charge=Decimal("-95.00"))
    assert match([A, cheaper], reversal, {}).record is cheaper.record


def test_an_answer_that_fits_both_or_neither_is_held_not_guessed() -> None:
    both = match([A, B], Evidence(PCN, total_charge=Decimal("180.00")), {})
    assert both.record is None and "fits 2 claims" in both.why_not and "a, b" in both.why_not
    # A batch reference that is not ours (a payer's own trace) narrows nothing.
    assert match([A, B], Evidence(PCN, batch_reference="SIM000000003"), {}).record is None
    neither = match([A, B], Evidence(PCN, provider_npi="1987654328"), {})
    assert neither.record is None and "fits none" in neither.why_not
    # The billing provider outweighs a batch reference naming the other one's 837 (a payer's
    # own trace that happens to equal one of our control numbers).
    assert (
        match([A, B], Evidence(PCN, provider_npi="1544332210", batch_reference="5"), {}).record
        is B.record
    )


def test_a_claim_sent_twice_is_one_candidate_with_both_control_numbers() -> None:
    (sent,) = group_sent([(A.record, 5), (A.record, 9)])
    assert sent.control_numbers == frozenset({5, 9})
