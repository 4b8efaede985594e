"""The rule catalogue (docs/rules.md), generated from the rule registry and shipped profiles.

Regenerate with: python -m payers.catalogue > docs/rules.md
"""

from __future__ import annotations

import sys

from payers import icd10
from payers.profile import PayerDirectory, load_profiles
from payers.registry import RULES, Rule
from payers.scrubber import BASELINE_RULES, PAYER_RULES

SNIP_TYPES = {
    1: "X12 syntax integrity (lengths, character set)",
    2: "implementation guide requirements (required fields, repeat limits)",
    3: "balancing (amounts that must add up)",
    4: "situational and inter-segment rules (one field requires or forbids another, dates)",
    5: "external code sets (ICD-10-CM, CPT/HCPCS format, place of service, NPI, state, ZIP)",
    6: "product or service type rules (none yet)",
    7: "trading partner rules: payer profiles, and the submitter's duplicate agreement",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rules: tuple[Rule, ...]) -> list[str]:
    out = [
        "| code | SNIP | severity | what it checks | fails on, e.g. |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in sorted(rules, key=lambda r: (r.snip_type, r.code)):
        out.append(
            f"| `{rule.code}` | {rule.snip_type} | {rule.severity} | {_cell(rule.description)} "
            f"| {_cell(rule.failing_example)} |"
        )
    return out


def _profiles(profiles: PayerDirectory) -> list[str]:
    out = [
        "| payer id | aliases | kind | claim types | timely filing | usage |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for payer_id in sorted(profiles):
        p = profiles[payer_id]
        out.append(
            f"| {p.payer_id} | {', '.join(p.aliases) or '-'} | {p.kind} | "
            f"{', '.join(p.claim_types)} | {p.timely_filing_days} days | {p.usage} |"
        )
    return out


def render_catalogue(profiles: PayerDirectory | None = None) -> str:
    """The full text of docs/rules.md."""
    profiles = profiles if profiles is not None else load_profiles()
    lines = [
        "# Scrub rule catalogue",
        "",
        "Generated from the rule registry by `python -m payers.catalogue > docs/rules.md`; do not",
        "edit by hand (a unit test fails when this file and the registry differ).",
        "",
        f"{len(RULES)} rules: {len(BASELINE_RULES)} baseline rules run on every claim, "
        f"{len(PAYER_RULES)} payer rules run with the",
        "parameters of the claim's payer profile (`payers/profiles/*.toml`).",
        "",
        "## Findings",
        "",
        "Each finding has a stable `code`, a `severity` (`error` blocks the claim, `warning` is",
        "reported and the claim goes on), the WEDI SNIP type, a `pointer`, a `message` saying what",
        "is wrong and how to fix it, and a `source`: `baseline`, or the id of the payer profile.",
        "",
        "`pointer` is an RFC 6901 JSON pointer into the claim JSON as submitted: field names are",
        "those of `schemas/claim.schema.json`, list indexes are 0-based (the first service line is",
        "`/service_lines/0`). A finding about a field that is missing points at the object the",
        'field belongs in (`""`, the whole claim, for a claim-level field such as',
        "`payer_claim_number`; `/subscriber` for a subscriber field), since the missing field has",
        "no place in the JSON yet; the message names the field. When the need for a field comes",
        "from another value, the finding points at that value instead (a procedure code that",
        "needs `prior_authorization`). A repeat over a limit points at the first item too many.",
        "",
        "## SNIP types",
        "",
        *[f"- {n}: {text}" for n, text in SNIP_TYPES.items()],
        "",
        "## Code sets and data",
        "",
        f"- ICD-10-CM: {icd10.DATA_VINTAGE},",
        f"  from the `simple-icd-10-cm` package. It governs dates of service {icd10.VINTAGE_START}",
        f"  to {icd10.VINTAGE_END}. The date is the statement through date on institutional",
        "  claims, else the earliest line date of service.",
        "  Within that year an unknown code is `ICD10_UNKNOWN` and a header code",
        "  `ICD10_NOT_BILLABLE` (errors). After it, a header code is still an error (codes are",
        "  split over the years, not merged) but an unknown code is only `ICD10_UNVERIFIED`",
        "  (warning), since a later year may have added it. Before it, both are",
        "  `ICD10_UNVERIFIED`. Update the package each October to move the year on.",
        "- Place of service: the CMS Place of Service Code Set, shipped as",
        "  `payers/data/place_of_service.csv`.",
        "- CPT and HCPCS Level II: format only (CPT is licensed by the AMA; HCPCS is not bundled).",
        "- NPI: Luhn check digit over `80840` and the first nine digits.",
        "- EIN: the prefixes the IRS assigns.",
        "- US states: USPS codes, including territories and military (AA, AE, AP).",
        "",
        "## Baseline rules",
        "",
        *_table(BASELINE_RULES),
        "",
        "## Payer rules",
        "",
        "Source of these findings is the payer profile id. A rule whose parameter a profile does",
        "not set is silent for that payer.",
        "",
        *_table(PAYER_RULES),
        "",
        "## Shipped payer profiles (synthetic)",
        "",
        *_profiles(profiles),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_catalogue())
