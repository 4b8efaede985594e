"""Address edits (SNIP 5): US state and territory codes and ZIP codes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from edi.claim import Address, Claim
from payers.claim_parts import addresses
from payers.registry import ScrubContext, Violation, rule

# USPS codes: states, DC, territories and freely associated states, and military (AA/AE/AP).
_STATES = """
AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV
NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY
AS GU MP PR VI FM MH PW AA AE AP
"""
US_STATE_CODES = frozenset(_STATES.split())
_ZIP = re.compile(r"[0-9]{5}(?:[0-9]{4})?")
_ZIP9 = re.compile(r"[0-9]{9}")


def _in_us(address: Address) -> bool:
    # N404 is sent only for addresses outside the United States.
    return address.country_code in (None, "US", "USA")


@rule(
    "STATE_CODE_UNKNOWN",
    snip_type=5,
    severity="error",
    description="A US address's state (N402) is a USPS state, territory or military code.",
    failing_example='state "XX"',
)
def state_code_unknown(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, address in addresses(claim):
        if _in_us(address) and address.state not in US_STATE_CODES:
            yield (
                where + "/state",
                f"{address.state!r} is not a US state code; use the two-letter USPS code, or "
                "give country_code for an address outside the US.",
            )


@rule(
    "ZIP_FORMAT",
    snip_type=5,
    severity="error",
    description="A US ZIP code (N403) is 5 or 9 digits, without a dash.",
    failing_example='postal_code "6270-1"',
)
def zip_format(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for where, address in addresses(claim):
        if _in_us(address) and not _ZIP.fullmatch(address.postal_code):
            yield (
                where + "/postal_code",
                f"ZIP {address.postal_code!r} must be 5 or 9 digits without a dash.",
            )


@rule(
    "BILLING_ZIP_PLUS_FOUR",
    snip_type=4,
    severity="error",
    description="The billing provider's ZIP code is the full nine-digit ZIP+4 (2010AA N403).",
    failing_example='billing provider postal_code "62701"',
)
def billing_zip_plus_four(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    address = claim.billing_provider.address
    if (
        _in_us(address)
        and _ZIP.fullmatch(address.postal_code)
        and not _ZIP9.fullmatch(address.postal_code)
    ):
        yield (
            "/billing_provider/address/postal_code",
            "the billing provider's ZIP must have nine digits (ZIP+4), e.g. 627010001.",
        )


# "PO BOX 12", "P.O. Box", "POB 7", "Post Office Box", "LOCKBOX", "LOCK BOX" at a word start.
_PO_BOX = re.compile(
    r"\b(?:P\.?\s*O\.?\s*B(?:OX)?\b|POST\s+OFFICE\s+BOX|LOCK\s*BOX)", re.IGNORECASE
)


@rule(
    "BILLING_ADDRESS_PO_BOX",
    snip_type=4,
    severity="error",
    description="The billing provider's address (2010AA N3) is a street address, not a post "
    "office or lock box: payments to a box go in the pay-to address (2010AB).",
    failing_example='billing provider address line1 "PO BOX 4410"',
)
def billing_address_po_box(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    address = claim.billing_provider.address
    for field in ("line1", "line2"):
        value = getattr(address, field)
        if value and _PO_BOX.search(value):
            yield (
                f"/billing_provider/address/{field}",
                f"{value!r} is a box; give the practice's street address here and the box as "
                "pay_to_address.",
            )
