"""Money as the API and the claim history show it: a decimal string with cents ("0.00")."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """Payers write whole amounts as "0" or "104" and sums come out as Decimal(0); shown with
    cents like every other amount. An amount finer than a cent is shown as it is."""
    cents = value.quantize(CENT)
    return str(cents) if cents == value else str(value)
