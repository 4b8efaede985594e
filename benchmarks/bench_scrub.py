"""Scrub throughput: 10,000 varied synthetic claims through every baseline and payer rule.

Run: python benchmarks/bench_scrub.py [--claims N] [--seed S]. One process, one core.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from edi.claim import Accident, Claim, Diagnosis, Payer, Procedure, ServiceLine
from edi.claim_json import claim_from_json
from payers import icd10
from payers.duplicates import duplicate_fingerprint
from payers.prior_claims import PriorClaim
from payers.profile import PayerDirectory, load_profiles
from payers.registry import RULES, ScrubContext
from payers.scrubber import scrub

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TODAY = date(2026, 12, 1)
DIAGNOSES = [
    "J20.9",
    "I10",
    "E11.9",
    "R07.9",
    "J02.9",
    "Z00.00",
    "M54.50",
    "K21.9",
    "E78.5",
    "F41.1",
    "N39.0",
    "R51.9",
    "J45.909",
    "L03.90",
    "H10.9",
    "R10.9",
    "S72.001A",
    "E11.65",
    "I25.10",
    "J06.9",
]
BAD_DIAGNOSES = ("E11", "J99.99")  # a header code and an unknown one
PRO_CODES = [
    "99212",
    "99213",
    "99214",
    "99215",
    "71046",
    "80053",
    "93000",
    "36415",
    "87880",
    "90471",
    "G0439",
    "J1100",
]
REVENUE = (("0450", "99284"), ("0300", "80053"), ("0730", "93005"), ("0320", "71046"))
PAYERS = {
    "SIMCOM01": ("CI", "SIMC{n:07d}"),
    "SIMCOM02": ("CI", "SIMD{n:05d}"),
    "SIMMCD01": ("MC", "MCD{n:08d}"),
    "SIMWC01": ("WC", "WC{n:08d}"),
}


def _example(name: str) -> Claim:
    return claim_from_json(json.loads((EXAMPLES / f"{name}.json").read_text()))


def _professional(rng: random.Random, base: Claim, n: int) -> Claim:
    payer_id = rng.choice(list(PAYERS))
    indicator, member = PAYERS[payer_id]
    diagnoses = tuple(Diagnosis(code) for code in rng.sample(DIAGNOSES, rng.randint(1, 6)))
    day = date(2026, 10, 1) + timedelta(days=rng.randint(0, 55))
    lines = tuple(
        ServiceLine(
            charge=Decimal(rng.randint(2000, 40000)) / 100,
            units=Decimal(1),
            service_date=day,
            procedure=Procedure(rng.choice(PRO_CODES), modifiers=("25",) if i == 0 else ()),
            diagnosis_pointers=tuple(range(1, min(len(diagnoses), 4) + 1)),
            line_control_number=f"BENCH-{n}-{i + 1}",
        )
        for i in range(rng.randint(1, 8))
    )
    return replace(
        base,
        payer=Payer(payer_id=payer_id, name=f"PAYER {payer_id}", claim_filing_indicator=indicator),
        receiver=None,
        subscriber=replace(base.subscriber, member_id=member.format(n=n % 10**5)),
        accident=Accident(("EM",)) if payer_id == "SIMWC01" else None,
        patient_control_number=f"BENCH-{n}",
        diagnoses=diagnoses,
        service_lines=lines,
        total_charge=sum((line.charge for line in lines), Decimal(0)),
    )


def _institutional(rng: random.Random, base: Claim, n: int) -> Claim:
    start = date(2026, 10, 1) + timedelta(days=rng.randint(0, 50))
    end = start + timedelta(days=rng.randint(0, 3))
    lines = []
    for i in range(rng.randint(1, 20)):
        revenue, code = rng.choice(REVENUE)
        lines.append(
            ServiceLine(
                charge=Decimal(rng.randint(5000, 200000)) / 100,
                units=Decimal(1),
                service_date=start + timedelta(days=rng.randint(0, (end - start).days)),
                revenue_code=revenue,
                procedure=Procedure(code),
                line_control_number=f"HOSP-{n}-{i + 1}",
            )
        )
    return replace(
        base,
        patient_control_number=f"HOSP-{n}",
        statement_from=start,
        statement_to=end,
        diagnoses=tuple(Diagnosis(c) for c in rng.sample(DIAGNOSES, rng.randint(1, 12))),
        service_lines=tuple(lines),
        total_charge=sum((line.charge for line in lines), Decimal(0)),
    )


def _break(rng: random.Random, claim: Claim) -> Claim:
    """About one claim in ten gets a typical mistake, so the finding paths run too."""
    pick = rng.randint(0, 3)
    if pick == 0:
        return replace(claim, total_charge=claim.total_charge + 1)
    if pick == 1:
        return replace(claim, diagnoses=(Diagnosis(rng.choice(BAD_DIAGNOSES)), *claim.diagnoses))
    if pick == 2:
        provider = replace(claim.billing_provider, npi="1234567890")
        return replace(claim, billing_provider=provider)
    return replace(claim, frequency_code="7")


def generate(count: int, seed: int) -> list[tuple[Claim, tuple[PriorClaim, ...]]]:
    rng = random.Random(seed)
    office = _example("professional-office-visit")
    secondary = _example("professional-secondary")
    hospital = _example("institutional-outpatient")
    out = []
    for n in range(count):
        kind = rng.random()
        if kind < 0.6:
            claim = _professional(rng, office, n)
        elif kind < 0.75:
            claim = replace(secondary, patient_control_number=f"SEC-{n}")
        else:
            claim = _institutional(rng, hospital, n)
        if rng.random() < 0.1:
            claim = _break(rng, claim)
        # Three earlier claims of the submitter, one of them a likely duplicate now and then.
        key = duplicate_fingerprint(claim) if rng.random() < 0.05 else f"other-{n}"
        prior = tuple(
            PriorClaim(f"clm_{n}_{k}", f"OLD-{n}-{k}", "PAID", date(2026, 11, 1), key)
            for k in range(3)
        )
        out.append((claim, prior))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    profiles = load_profiles()
    started = time.perf_counter()
    icd10.warm_up()
    load_seconds = time.perf_counter() - started

    work = generate(args.claims, args.seed)
    lines = sum(len(claim.service_lines) for claim, _ in work)

    findings: Counter[str] = Counter()
    blocked = 0
    started = time.perf_counter()
    for claim, prior in work:
        result = scrub(claim, profiles[claim.payer.payer_id], today=TODAY, prior_claims=prior)
        blocked += any(f.severity == "error" for f in result)
        findings.update(f.code for f in result)
    seconds = time.perf_counter() - started

    rows = [
        ("claims scrubbed", f"{len(work):,}"),
        ("service lines", f"{lines:,}"),
        ("rules (baseline + payer)", f"{len(RULES)}"),
        ("claims with an error", f"{blocked:,}"),
        ("findings", f"{sum(findings.values()):,}"),
        ("ICD-10-CM table load (once)", f"{load_seconds:.2f} s"),
        ("scrub time", f"{seconds:.2f} s"),
        ("claims per second (one core)", f"{len(work) / seconds:,.0f}"),
        ("microseconds per claim", f"{seconds / len(work) * 1e6:,.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"| {'-' * width} | ----- |")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    print()
    print("findings by code: " + ", ".join(f"{c} {n}" for c, n in sorted(findings.items())))
    print()
    _slowest_rules(work, profiles)


def _slowest_rules(
    work: list[tuple[Claim, tuple[PriorClaim, ...]]], profiles: PayerDirectory
) -> None:
    """Time each rule alone over the same claims, to show where a scrub spends its time."""
    spent: dict[str, float] = {}
    contexts = [ScrubContext(TODAY, profiles[claim.payer.payer_id], prior) for claim, prior in work]
    for code, rule in RULES.items():
        started = time.perf_counter()
        for (claim, _), ctx in zip(work, contexts, strict=True):
            for _ in rule.check(claim, ctx):
                pass
        spent[code] = time.perf_counter() - started
    total = sum(spent.values())
    # Alone, each text rule walks the claim itself; in a scrub the two share one walk.
    print("| slowest rules (each timed alone) | us per claim | share |")
    print("| --- | --- | --- |")
    for code, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:8]:
        print(f"| {code} | {seconds / len(work) * 1e6:.1f} | {seconds / total:.0%} |")


if __name__ == "__main__":
    main()
