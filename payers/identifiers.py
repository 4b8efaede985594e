"""Identifier edits (SNIP 5): NPI format and check digit, tax id, and NUCC taxonomy format."""

from __future__ import annotations

import re
from collections.abc import Iterator

from edi.claim import Claim
from payers.claim_parts import providers
from payers.registry import ScrubContext, Violation, rule

_NPI = re.compile(r"[12][0-9]{9}")
_TAXONOMY = re.compile(r"[0-9A-Z]{9}X")
_NINE_DIGITS = re.compile(r"[0-9]{9}")

# Two-digit EIN prefixes the IRS assigns ("How EINs are assigned and valid EIN prefixes").
VALID_EIN_PREFIXES = frozenset(
    f"{n:02d}"
    for n in (
        *range(1, 7),
        *range(10, 17),
        *range(20, 28),
        *range(30, 49),
        *range(50, 69),
        *range(71, 78),
        *range(80, 89),
        *range(90, 96),
        98,
        99,
    )
)


def npi_check_digit_ok(npi: str) -> bool:
    """Luhn over "80840" (the card issuer prefix of the NPI) followed by the first nine digits."""
    total = 0
    # Walk right to left over prefix + nine digits; the rightmost digit is doubled because the
    # check digit that would follow it is not part of the sum.
    for position, char in enumerate(reversed("80840" + npi[:9])):
        digit = ord(char) - 48
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == ord(npi[9]) - 48


def _npis(claim: Claim) -> Iterator[tuple[str, str]]:
    for where, provider in providers(claim):
        if provider.npi is not None:
            yield where + "/npi", provider.npi


@rule(
    "NPI_FORMAT",
    snip_type=5,
    severity="error",
    description="Every NPI is ten digits starting with 1 or 2.",
    failing_example='npi "123456789"',
)
def npi_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, npi in _npis(claim):
        if not _NPI.fullmatch(npi):
            yield where, f"NPI {npi!r} must be ten digits starting with 1 or 2."


@rule(
    "NPI_CHECK_DIGIT",
    snip_type=5,
    severity="error",
    description='The NPI\'s tenth digit is its Luhn check digit, computed over "80840" and '
    "the first nine digits.",
    failing_example='npi "1234567890" (check digit should be 3)',
)
def npi_check_digit(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, npi in _npis(claim):
        if _NPI.fullmatch(npi) and not npi_check_digit_ok(npi):
            yield where, f"NPI {npi} fails its check digit; the NPI is mistyped."


def tax_id_problem(tax_id: str, tax_id_type: str) -> str | None:
    """Why a tax id is invalid, or None: an EIN needs an IRS-assigned prefix, an SSN a
    possible area, group and serial."""
    if not _NINE_DIGITS.fullmatch(tax_id):
        return "must be nine digits without a dash"
    if tax_id_type == "EI":
        if tax_id[:2] not in VALID_EIN_PREFIXES:
            return f"EIN prefix {tax_id[:2]} is not one the IRS assigns"
        return None
    area, group, serial = tax_id[:3], tax_id[3:5], tax_id[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return "is not a possible social security number"
    return None


@rule(
    "TAX_ID_INVALID",
    snip_type=5,
    severity="error",
    description=(
        "The billing provider's tax id (REF*EI / REF*SY) is nine digits; an EIN has a prefix "
        "the IRS assigns (not 00, 07-09, 17-19, 28, 29, 49, 69, 70, 78, 79, 89, 96, 97), an "
        "SSN no area 000, 666 or 9xx, group 00 or serial 0000."
    ),
    failing_example='tax_id "071234567" with tax_id_type EI',
)
def tax_id_invalid(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    provider = claim.billing_provider
    problem = tax_id_problem(provider.tax_id, provider.tax_id_type)
    if problem:
        yield "/billing_provider/tax_id", f"tax id {problem}; give the provider's EIN or SSN."


@rule(
    "TAXONOMY_FORMAT",
    snip_type=5,
    severity="error",
    description="A provider taxonomy (PRV03) is a NUCC code: ten letters or digits ending in X.",
    failing_example='taxonomy "207Q00000"',
)
def taxonomy_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, provider in providers(claim):
        if provider.taxonomy is not None and not _TAXONOMY.fullmatch(provider.taxonomy):
            yield (
                where + "/taxonomy",
                f"taxonomy {provider.taxonomy!r} is not a NUCC code (ten upper-case letters or "
                "digits ending in X, e.g. 207Q00000X).",
            )
