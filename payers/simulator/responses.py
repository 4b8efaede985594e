"""What the simulator sends back for one accepted 837 file, and when (pure but for the
control numbers it draws): a 277CA for every claim, then 835s for those it adjudicates.

    277CA   after ack_delay_seconds: A2 accepted (with REF*1K), A7 rejected, P1 pended
    835     after ack + remit delays: paid, paid with patient share, denied, paid-to-be-reversed
    835     after ack + 2 x remit delay: pended claims paid; reversals (CLP02 22) and repayments
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from edi.claim import Address, Claim, Contact
from edi.claim_ack import (
    ClaimAcknowledgment,
    ClaimStatus,
    Party,
    Status,
    StatusCode,
)
from edi.envelope import EnvelopeParams
from edi.remittance import BankAccount, ClaimPayment, Payee, Payment, Remittance
from edi.remittance import Payer as RemittancePayer
from edi.write_277ca import acknowledge_claims, billing_party, build_277ca, claim_status
from edi.write_835 import build_835
from payers.profile import PayerProfile
from payers.simulator.adjudication import (
    Outcome,
    adjudicate,
    outcome_for,
    payer_claim_number,
    reversal_of,
)

Planned = tuple[str, bytes, float]  # file name, content, seconds from now until collectable


def plan_responses(
    profile: PayerProfile,
    claims: list[Claim],
    *,
    control_number: int,
    receiver_id: str,
    now: datetime,
    next_control_number: Callable[[], int],
    original: Callable[[str, Claim], ClaimPayment | None] = lambda number, claim: None,
    accepted: Callable[[str, Claim | None, ClaimPayment | None], None] = lambda n, c, p: None,
) -> Iterator[Planned]:
    """The 277CA and 835s that answer these claims. A replacement (frequency 7) or void (8)
    names its original by the payer claim number in REF*F8; `original` gives that claim's
    payment when the number is one of this payer's claims for the same billing provider and
    patient. The 835 takes that payment back (CLP02 22, under the original's CLM01) and, for
    a replacement, pays the new claim; a correction naming no such claim is rejected. Each
    claim accepted (but a void) is told to `accepted` with its payer claim number and its
    payment, and each corrected original with None (a claim is corrected once)."""
    if not claims:
        return
    sim = profile.simulator
    corrected: dict[str, ClaimPayment] = {}  # CLM01 of a correction -> its original's payment
    decided: list[tuple[Claim, Outcome]] = []
    for claim in claims:
        outcome = outcome_for(claim.patient_control_number, sim)
        if claim.frequency_code in ("7", "8"):
            first = original(claim.payer_claim_number or "", claim)
            if first is None:
                outcome = "rejected"
            else:
                corrected[claim.patient_control_number] = first
                # A void is accepted and paid nothing of its own; a replacement is paid.
                outcome = (
                    "paid" if claim.frequency_code == "8" or outcome == "rejected" else outcome
                )
        decided.append((claim, outcome))

    def params() -> EnvelopeParams:
        number = next_control_number()
        return EnvelopeParams(
            sender_id=profile.payer_id,
            receiver_id=receiver_id,
            interchange_control_number=number,
            group_control_number=number,
            transaction_control_number=1,
            created=now,
            usage_indicator="P" if profile.usage == "production" else "T",
        )

    ack_params = params()
    ack = claim_acknowledgment(
        profile,
        decided,
        control_number=control_number,
        now=now,
        trace=f"{ack_params.interchange_control_number:09d}",
    )
    yield (
        f"277CA-{ack_params.interchange_control_number:09d}.x12",
        build_277ca([ack], ack_params).encode(),
        float(sim.ack_delay_seconds),
    )

    first: list[ClaimPayment] = []
    later: list[ClaimPayment] = []
    payees = {claim.patient_control_number: claim for claim, _ in decided}
    for claim, outcome in decided:
        if outcome == "rejected":
            continue
        paid_before = corrected.get(claim.patient_control_number)
        if paid_before is not None:
            # The original's payment as it stands, taken back. Its patient and payee are the
            # correction's: the same provider and patient, as `original` checked.
            assert claim.payer_claim_number is not None
            first.append(reversal_of(paid_before))
            payees[paid_before.patient_control_number] = claim
            accepted(claim.payer_claim_number, None, None)
            if claim.frequency_code == "8":
                continue
        number = payer_claim_number(profile.payer_id, claim.patient_control_number, control_number)
        payment = adjudicate(claim, sim, outcome, payer_claim_control_number=number)
        accepted(number, claim, payment)
        if outcome == "pended":
            later.append(payment)
        elif outcome == "reversed":
            first.append(payment)
            later += [reversal_of(payment), payment]
        else:
            first.append(payment)
    for delay, payments in (
        (sim.ack_delay_seconds + sim.remit_delay_seconds, first),
        (sim.ack_delay_seconds + 2 * sim.remit_delay_seconds, later),
    ):
        if not payments:
            continue
        remit_params = params()
        remittances = remittances_for(profile, payments, payees, remit_params, now)
        yield (
            f"835-{remit_params.interchange_control_number:09d}.x12",
            build_835(remittances, remit_params).encode(),
            float(delay),
        )


_STATUS: dict[str, tuple[str, str]] = {
    # outcome -> (STC01-1 category, STC01-2 status code)
    "pended": ("P1", "20"),  # pending, in process / accepted for processing
}


def claim_acknowledgment(
    profile: PayerProfile,
    decided: list[tuple[Claim, Outcome]],
    *,
    control_number: int,
    now: datetime,
    trace: str | None = None,
) -> ClaimAcknowledgment:
    """One 277CA for the file: every claim's status under its billing provider. Its batch
    reference (2200B TRN02) echoes the file's (our BHT03, which is its ISA13), unless the
    payer's profile says not to: then it is the payer's own trace, `trace`."""
    sim = profile.simulator
    today = now.date()
    verdicts: list[tuple[Party, ClaimStatus]] = []
    for claim, outcome in decided:
        number = payer_claim_number(profile.payer_id, claim.patient_control_number, control_number)
        if outcome == "rejected":
            code = sim.reject_status_codes[
                int(claim.patient_control_number.encode().hex(), 16) % len(sim.reject_status_codes)
            ]
            status = StatusCode("A7", code, None)
            action, payer_number = "U", None
        else:
            category, code = _STATUS.get(outcome, ("A2", "20"))
            status = StatusCode(category, code, None)
            action, payer_number = "WQ", number
        stc = Status(status, today, action, claim.total_charge)
        verdicts.append(
            (billing_party(claim), claim_status(claim, stc, payer_claim_number=payer_number))
        )
    # The batch and provider levels (receipt statuses, counts, amounts) as the guide wants.
    return acknowledge_claims(
        verdicts,
        reference=f"{control_number:09d}",
        created=today,
        source=Party(profile.name, profile.payer_id, "PI"),
        source_trace=f"{control_number:09d}",
        receiver=Party("CLEARINGHOUSE", "CLEARWAY", "46"),
        receiver_trace=f"{control_number:09d}"
        if sim.echo_batch_reference or trace is None
        else f"SIM{trace}",
    )


# The simulated payers' remittance details: synthetic, the same for every simulated payer but
# its tax id. The guide requires the payer's address and technical contact (loop 1000A), and
# bank details for an ACH payment (BPR06-09, BPR12-15).
_PAYER_ADDRESS = Address(
    line1="100 SIMULATION WAY", city="SPRINGFIELD", state="IL", postal_code="627010001"
)
_PAYER_CONTACT = Contact(name="SIMULATED PAYER EDI SUPPORT", phone="5555550199")
_PAYER_BANK = BankAccount("01", "999999992", "DA", "000111222333")
_PAYEE_BANK = BankAccount("01", "999999989", "DA", "000444555666")


def _payer_tax_id(payer_id: str) -> str:
    """A stable, made-up nine-digit tax id per simulated payer (TRN03 and BPR10: "1" + it)."""
    return f"{int(hashlib.sha256(payer_id.encode()).hexdigest()[:12], 16) % 10**9:09d}"


def remittances_for(
    profile: PayerProfile,
    payments: list[ClaimPayment],
    claims: dict[str, Claim],
    params: EnvelopeParams,
    now: datetime,
) -> list[Remittance]:
    """One 835 transaction per payee (billing provider)."""
    by_payee: dict[str, list[ClaimPayment]] = {}
    for payment in payments:
        claim = claims[payment.patient_control_number]
        person = claim.patient or claim.subscriber
        # Loop 2100 NM1*QC: the patient, with the member id the claim was sent under.
        named = replace(
            payment,
            patient_last_name=person.last_name,
            patient_first_name=person.first_name,
            patient_id=claim.subscriber.member_id,
        )
        by_payee.setdefault(claim.billing_provider.npi, []).append(named)
    company = "1" + _payer_tax_id(profile.payer_id)
    remittances = []
    for i, (npi, group) in enumerate(by_payee.items()):
        bp = next(c.billing_provider for c in claims.values() if c.billing_provider.npi == npi)
        total = sum((p.paid for p in group), Decimal(0))
        ach = total > 0
        remittances.append(
            Remittance(
                payment=Payment(
                    handling="C" if ach else "H",
                    amount=total,
                    credit_debit="C",
                    method="ACH" if ach else "NON",
                    date=now.date(),
                    format="CCP" if ach else None,
                    sender_account=_PAYER_BANK if ach else None,
                    originating_company_id=company if ach else None,
                    receiver_account=_PAYEE_BANK if ach else None,
                ),
                trace_number=f"{params.interchange_control_number:09d}{i + 1:03d}",
                payer=RemittancePayer(
                    name=profile.name,
                    identifier=profile.payer_id,
                    address=_PAYER_ADDRESS,
                    contact=_PAYER_CONTACT,
                ),
                payee=Payee(
                    name=bp.organization_name or bp.last_name or "PROVIDER",
                    npi=bp.npi,
                    tax_id=bp.tax_id,
                ),
                originator_id=company,
                production_date=now.date(),
                claims=tuple(group),
            )
        )
    return remittances
