"""Every registered scrub rule fires on a broken claim and stays silent on a clean one."""

from __future__ import annotations

import json
from datetime import date

import pytest

from edi.claim_json import claim_to_json
from payers.findings import Finding
from payers.pointer import resolve
from payers.profile import load_profiles
from payers.registry import RULES
from payers.scrubber import scrub
from tests.unit.scrub_cases import CASES, TODAY, Case, clean_claims, payer_of

PROFILES = load_profiles()
CLEAN = clean_claims()


def _run(case: Case, *, broken: bool) -> tuple[Finding, ...]:
    claim = CLEAN[case.base]
    if broken:
        claim = case.mutate(claim)
    # A profile override is part of breaking the claim: the silent run uses the claim's payer.
    profile = PROFILES[(case.profile if broken else None) or payer_of(CLEAN[case.base])]
    return scrub(
        claim,
        profile,
        today=case.today if broken else TODAY,
        prior_claims=case.prior if broken else case.silent_prior,
        payer_known=case.payer_known if broken else True,
        originals=case.originals if broken else None,
    )


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_fires_on_broken_claim(code: str) -> None:
    findings = _run(CASES[code], broken=True)
    fired = [f for f in findings if f.code == code]
    assert fired, f"{code} did not fire; got {[f.code for f in findings]}"
    rule = RULES[code]
    for finding in fired:
        assert finding.severity == rule.severity
        assert finding.snip_type == rule.snip_type
        # A payer rule names the profile it ran under (as _run chooses it) as its source.
        case = CASES[code]
        profile = case.profile or payer_of(CLEAN[case.base])
        expected_source = "baseline" if rule.scope == "baseline" else profile
        assert finding.source == expected_source
        assert finding.message.endswith(".")


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_silent_on_clean_claim(code: str) -> None:
    assert [f for f in _run(CASES[code], broken=False) if f.code == code] == []


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_pointer_resolves_in_submitted_json(code: str) -> None:
    case = CASES[code]
    document = claim_to_json(case.mutate(CLEAN[case.base]))
    for finding in _run(case, broken=True):
        resolve(document, finding.pointer)  # raises when the pointer names nothing


@pytest.mark.parametrize("base", sorted(CLEAN))
def test_clean_claim_for_each_shipped_payer_has_no_findings(base: str) -> None:
    claim = CLEAN[base]
    assert scrub(claim, PROFILES[payer_of(claim)], today=TODAY) == ()


def test_every_shipped_profile_has_a_clean_claim() -> None:
    assert {payer_of(c) for c in CLEAN.values()} == set(PROFILES)


def test_payer_findings_name_the_profile() -> None:
    case = CASES["PAYER_NOT_COVERED"]
    (finding,) = [f for f in _run(case, broken=True) if f.code == "PAYER_NOT_COVERED"]
    assert finding.source == "SIMCOM01"
    assert finding.pointer == "/service_lines/0/procedure/code"


def test_without_profile_only_baseline_rules_run() -> None:
    broken = CASES["PAYER_NOT_COVERED"].mutate(CLEAN["office"])
    assert scrub(broken, None, today=TODAY) == ()


def test_finding_to_json_round_trips_through_json() -> None:
    broken = CASES["NPI_CHECK_DIGIT"].mutate(CLEAN["office"])
    (finding,) = scrub(broken, PROFILES["SIMCOM01"], today=TODAY)
    assert json.loads(json.dumps(finding.to_json())) == {
        "code": "NPI_CHECK_DIGIT",
        "severity": "error",
        "snip_type": 5,
        "pointer": "/billing_provider/npi",
        "message": finding.message,
        "source": "baseline",
    }
    assert finding.blocks_claim


def test_timely_filing_boundary() -> None:
    claim = CLEAN["institutional"]  # statement_to 2026-10-20, 365-day payer
    profile = PROFILES["SIMMCR01"]
    on_time = scrub(claim, profile, today=date(2027, 10, 20))
    late = scrub(claim, profile, today=date(2027, 10, 21))
    assert "PAYER_TIMELY_FILING" not in {f.code for f in on_time}
    assert "PAYER_TIMELY_FILING" in {f.code for f in late}


def test_two_mistakes_at_once_still_scrub_and_point_into_the_json() -> None:
    """Every pair of breakages on the same base claim: no crash, every pointer resolves."""
    pairs = 0
    for first_code, first in CASES.items():
        for second_code, second in CASES.items():
            if first.base != second.base or first_code >= second_code:
                continue
            claim = second.mutate(first.mutate(CLEAN[first.base]))
            profile = PROFILES[payer_of(CLEAN[first.base])]
            document = claim_to_json(claim)
            for finding in scrub(claim, profile, today=TODAY, prior_claims=first.prior):
                resolve(document, finding.pointer)
            pairs += 1
    assert pairs > 300
