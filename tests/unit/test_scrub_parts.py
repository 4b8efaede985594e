"""Details of the scrub building blocks: ICD-10-CM vintage, NPI, pointers, fingerprints."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from payers import icd10
from payers.codesets import places_of_service
from payers.duplicates import duplicate_fingerprint
from payers.identifiers import npi_check_digit_ok, tax_id_problem
from payers.pointer import pointer, resolve
from payers.prior_claims import PriorClaim
from payers.profile import load_profiles
from payers.scrubber import scrub
from tests.unit.scrub_cases import TODAY, clean_claims, line, procedure

CLEAN = clean_claims()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("J20.9", "billable"),
        ("J209", "billable"),
        ("S72.001A", "billable"),
        ("E11", "header"),
        ("M79.1", "header"),
        ("J99.99", "unknown"),
        ("A00-A09", "unknown"),  # a block, not a code
    ],
)
def test_icd10_code_status(code: str, status: str) -> None:
    assert icd10.code_status(code) == status


def test_icd10_says_when_its_table_is_loaded() -> None:
    icd10.warm_up()
    assert icd10.loaded()
    icd10._code_table.cache_clear()
    assert not icd10.loaded()
    assert icd10.code_status("J20.9") == "billable"  # loads it again on demand
    assert icd10.loaded()


def test_icd10_vintage_boundaries() -> None:
    assert icd10.vintage_covers(date(2025, 9, 30)) == "before"
    assert icd10.vintage_covers(date(2025, 10, 1)) == "within"
    assert icd10.vintage_covers(date(2026, 9, 30)) == "within"
    assert icd10.vintage_covers(date(2026, 10, 1)) == "after"


def test_header_code_before_vintage_is_only_a_warning() -> None:
    claim = line(CLEAN["office"], 0, service_date=date(2025, 3, 1))
    claim = line(claim, 1, service_date=date(2025, 3, 1))
    claim = replace(claim, diagnoses=(replace(claim.diagnoses[0], code="E11"),))
    codes = {f.code: f.severity for f in scrub(claim, None, today=TODAY)}
    assert codes == {"ICD10_UNVERIFIED": "warning"}


@pytest.mark.parametrize("npi", ["1234567893", "1987654328", "1456789019", "1765432103"])
def test_npi_check_digit_accepts_valid(npi: str) -> None:
    assert npi_check_digit_ok(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1987654321", "1456789010"])
def test_npi_check_digit_rejects_mistyped(npi: str) -> None:
    assert not npi_check_digit_ok(npi)


@pytest.mark.parametrize(
    ("tax_id", "kind", "ok"),
    [
        ("111223333", "EI", True),
        ("991234567", "EI", True),
        ("001234567", "EI", False),
        ("971234567", "EI", False),
        ("12345678", "EI", False),
        ("123456789", "SY", True),
        ("666123456", "SY", False),
        ("123006789", "SY", False),
    ],
)
def test_tax_id(tax_id: str, kind: str, ok: bool) -> None:
    assert (tax_id_problem(tax_id, kind) is None) is ok


def test_place_of_service_list() -> None:
    codes = places_of_service()
    assert codes["11"] == "Office"
    assert "30" not in codes and "99" in codes


def test_pointer_escapes_and_resolves() -> None:
    document = {"a/b": [{"m~n": 1}]}
    ref = pointer("a/b", 0, "m~n")
    assert ref == "/a~1b/0/m~0n"
    assert resolve(document, ref) == 1
    assert resolve(document, "") is document
    with pytest.raises(KeyError):
        resolve(document, "/a~1b/00")
    with pytest.raises(IndexError):
        resolve(document, "/a~1b/1")


def test_fingerprint_ignores_control_number_line_order_and_case() -> None:
    claim = CLEAN["office"]
    other = replace(
        claim,
        patient_control_number="ANOTHER-1",
        service_lines=tuple(reversed(claim.service_lines)),
        subscriber=replace(claim.subscriber, last_name=claim.subscriber.last_name.lower()),
    )
    assert duplicate_fingerprint(other) == duplicate_fingerprint(claim)
    assert duplicate_fingerprint(claim).startswith("v1|")


def test_fingerprint_changes_with_charge_or_modifier() -> None:
    claim = CLEAN["office"]
    key = duplicate_fingerprint(claim)
    assert duplicate_fingerprint(line(claim, 0, charge=Decimal("151.00"))) != key
    assert duplicate_fingerprint(procedure(claim, 0, modifiers=("25",))) != key


def test_likely_duplicate_compares_the_callers_stored_key() -> None:
    claim = CLEAN["office"]
    prior = PriorClaim("clm_9", "PCN-OLD", "PAID", date(2026, 11, 20), "hmac-abc")
    profile = load_profiles()["SIMCOM01"]
    found = scrub(claim, profile, today=TODAY, prior_claims=[prior], duplicate_key="hmac-abc")
    assert [f.code for f in found] == ["LIKELY_DUPLICATE"]
    assert "clm_9" in found[0].message
    assert scrub(claim, profile, today=TODAY, prior_claims=[prior], duplicate_key="x") == ()


def test_many_earlier_copies_give_one_warning_naming_the_latest() -> None:
    claim = CLEAN["office"]
    key = duplicate_fingerprint(claim)
    priors = [
        PriorClaim(f"clm_{n}", f"PCN-OLD-{n}", "PAID", date(2026, 11, n), key) for n in (3, 9, 6)
    ]
    found = scrub(claim, load_profiles()["SIMCOM01"], today=TODAY, prior_claims=priors)
    (warning,) = found
    assert "clm_9" in warning.message and "2 earlier" in warning.message


def test_replacement_is_not_a_likely_duplicate() -> None:
    claim = replace(CLEAN["office"], frequency_code="7", payer_claim_number="SIM-1K-0001")
    prior = PriorClaim("clm_9", "PCN-OLD", "PAID", date(2026, 11, 20), duplicate_fingerprint(claim))
    assert scrub(claim, load_profiles()["SIMCOM01"], today=TODAY, prior_claims=[prior]) == ()


def test_cob_adjustments_reported_at_both_levels_count_twice() -> None:
    # The primary's CO-45 and PR-2 given on the line (2430) and again for the claim (2320).
    claim = CLEAN["secondary"]
    (line_adjudication,) = claim.service_lines[0].adjudications
    other = replace(claim.other_payers[0], adjustments=line_adjudication.adjustments)
    doubled = replace(claim, other_payers=(other,))
    profile = load_profiles()[claim.payer.payer_id]
    assert not [f for f in scrub(claim, profile, today=TODAY) if f.code == "COB_CLAIM_BALANCE"]
    (finding,) = [f for f in scrub(doubled, profile, today=TODAY) if f.code == "COB_CLAIM_BALANCE"]
    assert finding.pointer == "/other_payers/0/paid_amount"
    assert "line level 70.00" in finding.message
