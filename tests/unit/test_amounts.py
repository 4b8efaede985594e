"""money(): amounts shown with cents, whatever the payer wrote."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.amounts import money


@pytest.mark.parametrize(
    ("value", "shown"),
    [("0", "0.00"), ("104", "104.00"), ("12.5", "12.50"), ("-30", "-30.00"), ("1.005", "1.005")],
)
def test_money_has_cents(value: str, shown: str) -> None:
    assert money(Decimal(value)) == shown
