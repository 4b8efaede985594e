"""Helpers for end-to-end tests: fast payer profiles, varied claims and their predicted end."""

from __future__ import annotations

import copy
import re
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

from edi.claim_json import claim_to_json
from payers.profile import bundled_profiles_dir
from payers.simulator.adjudication import outcome_for
from tests.unit.scrub_cases import clean_claims

FINAL = {
    "paid",
    "partially_paid",
    "denied",
    "payer_rejected",
    "x12_rejected",
    "scrub_rejected",
    "failed",
    "voided",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_fast_profiles(folder: Path, *, timeout_seconds: int | None = None) -> Path:
    """The shipped payer profiles with no response delays and an always-due mailbox poll."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in bundled_profiles_dir().glob("*.toml"):
        text = source.read_text()
        text = re.sub(r"(?m)^(ack_delay_seconds|remit_delay_seconds) = .*$", "", text)
        text = re.sub(r"(?m)^poll_interval_seconds = .*$", "poll_interval_seconds = 0", text)
        extra = f"timeout_seconds = {timeout_seconds}\n" if timeout_seconds else ""
        text = text.replace("[delivery]\n", f"[delivery]\n{extra}")
        text = text.replace(
            "[simulator]\n", "[simulator]\nack_delay_seconds = 0\nremit_delay_seconds = 0\n"
        )
        (folder / source.name).write_text(text)
    return folder


def varied_claims(count: int, prefix: str = "E2E") -> list[dict[str, Any]]:
    """Clean claims for every shipped payer, with distinct control numbers and charges: each
    is an encounter of its own, as in real traffic, not a likely duplicate of another."""
    bases = [claim_to_json(c) for c in clean_claims().values()]
    claims = []
    for n in range(count):
        claim = copy.deepcopy(bases[n % len(bases)])
        claim["patient_control_number"] = f"{prefix}-{n:05d}"
        for i, line in enumerate(claim["service_lines"]):
            line["line_control_number"] = f"{prefix}-{n:05d}-{i + 1}"
            line.pop("adjudications", None)
        first = claim["service_lines"][0]
        first["charge"] = str(Decimal(first["charge"]) + Decimal(n) / 100)
        claim["total_charge"] = str(sum(Decimal(line["charge"]) for line in claim["service_lines"]))
        for other in claim.get("other_payers", []):
            other.pop("paid_amount", None)  # keep COB balanced after the charge change
            other["adjustments"] = []
        claims.append(claim)
    return claims


def predicted(claim: dict[str, Any], profiles: Any) -> str:
    """The final status the simulator's rules give this claim."""
    simulation = profiles[claim["payer"]["payer_id"]].simulator
    outcome = outcome_for(claim["patient_control_number"], simulation)
    if outcome == "rejected":
        return "payer_rejected"
    if outcome == "denied":
        return "denied"
    if outcome == "partial" and len(claim["service_lines"]) > 1:
        return "partially_paid"
    return "paid"
