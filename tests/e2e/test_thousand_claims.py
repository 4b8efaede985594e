"""A thousand claims through real processes: `clearway serve` (API only), two `clearway
worker` processes and `clearway simulate-payer`, pyx12 validating every 837 on both sides.

Every claim must reach the status the simulator's rules predict, with a history that chains
from `received` to it, and the claims' paid amounts must add up to what the 835s paid.
"""

from __future__ import annotations

import argparse

from benchmarks.bench_e2e import run_case

CLAIMS = 1000


def test_a_thousand_claims_reach_their_predicted_status(database_url: str) -> None:
    args = argparse.Namespace(
        claims=CLAIMS,
        workers=2,
        in_flight=24,
        get_rate=40.0,
        batch=0,
        set=[],
        poll_interval=1,
        keep_logs=None,
        profile_api=None,
        profile_worker=None,
    )
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    result = run_case(args, backend, database_url, "all")
    assert result.errors == 0, f"{result.errors} claims refused"
    assert result.unacknowledged == 0, "claims stored whose POST was not answered 202"
    assert result.unfinished == 0
    assert result.mismatches == []
    assert result.history_gaps == {}
    assert result.paid_by_claims == result.paid_by_835s > 0
