"""The end-to-end benchmark's history check finds a broken chain of status changes."""

from __future__ import annotations

from typing import Any

from benchmarks.e2e_checks import history_gaps


def move(kind: str, before: str | None, after: str | None) -> dict[str, Any]:
    return {"kind": kind, "from_status": before, "to_status": after}


PAID = [
    move("received", None, "received"),
    move("scrubbed", "received", "scrubbed"),
    move("translated", "scrubbed", "translated"),
    move("submitted", "translated", "submitted"),
    move("999_accepted", "submitted", "accepted"),
    move("835_before_277ca", None, None),  # recorded, did not move the claim
    move("277ca_a2", "accepted", "acknowledged"),
    move("835_paid", "acknowledged", "paid"),
]


def test_a_complete_history_has_no_gaps() -> None:
    assert history_gaps(PAID, "paid") == []


def test_a_missing_step_is_named() -> None:
    broken = [e for e in PAID if e["kind"] != "submitted"]
    assert history_gaps(broken, "paid") == ["999_accepted starts at submitted, not translated"]


def test_a_history_that_stops_short_or_starts_late_is_named() -> None:
    assert history_gaps(PAID[:-1], "paid") == ["history ends at acknowledged, claim is paid"]
    assert history_gaps(PAID[1:], "paid")[0] == "first event is not 'received'"
