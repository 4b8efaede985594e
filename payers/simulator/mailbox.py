"""The simulator's files on disk: each payer's outbound mailbox, its ledger of receipts and its
record of the claims it accepted. All are its owner's alone (files 600, folders 700).

A response file is written at once, with the time it may be collected in its name, so
scheduled answers survive a restart of the simulator and nothing is kept only in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from edi.claim import Adjustment, Claim, Procedure
from edi.remittance import ClaimPayment, ServicePayment

_READY_AT = re.compile(r"^(\d{13})-(.+)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


def _write_private(path: Path, data: bytes, *, append: bool = False) -> None:
    """Write (or append to) a file only its owner may read, in a folder only its owner may
    open: answers and records hold PHI."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    with os.fdopen(os.open(path, flags, 0o600), "ab" if append else "wb") as out:
        out.write(data)


class Mailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, name: str, body: bytes, *, ready_at: float) -> None:
        final = self.folder / f"{int(ready_at * 1000):013d}-{name}"
        temporary = self.folder / f".{final.name}.part"
        _write_private(temporary, body)
        os.replace(temporary, final)

    def ready(self, now: float | None = None) -> list[str]:
        """Names of the files that may be collected now, in the order they became ready."""
        now = time.time() if now is None else now
        if not self.folder.is_dir():
            return []
        names = []
        for path in sorted(self.folder.iterdir()):
            match = _READY_AT.match(path.name)
            if match and int(match.group(1)) <= now * 1000:
                names.append(path.name)
        return names

    def path(self, name: str) -> Path | None:
        """The file, if `name` is one of this mailbox's files (never a path outside it)."""
        if not _SAFE_NAME.match(name) or not _READY_AT.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None


class Ledger:
    """What the simulator received, per sender and ISA13: claims counted, times received.

    Lets a test prove that a resent interchange was not adjudicated twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, int]] | None = None

    def entries(self) -> dict[str, dict[str, int]]:
        """{"sender:ISA13": {"received": times, "claims": claims adjudicated}}."""
        if self._entries is None:
            self._entries = {}
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    self._add(json.loads(line))
        return self._entries

    def _add(self, record: dict[str, int | str]) -> None:
        assert self._entries is not None
        entry = self._entries.setdefault(
            f"{record['sender']}:{record['control_number']}", {"received": 0, "claims": 0}
        )
        entry["received"] += 1
        entry["claims"] += int(record["claims"])

    def seen(self, sender: str, control_number: int) -> bool:
        return f"{sender}:{control_number}" in self.entries()

    def record(self, sender: str, control_number: int, claims: int) -> None:
        """Count a receipt: `claims` is how many were adjudicated (0 for a duplicate)."""
        self.entries()
        record = {"sender": sender, "control_number": control_number, "claims": claims}
        _write_private(self.path, (json.dumps(record) + "\n").encode(), append=True)
        self._add(record)

    def next_control_number(self) -> int:
        """The simulator's own ISA13 sequence for the files it sends."""
        counter = self.path.with_name("control-number")
        value = int(counter.read_text()) + 1 if counter.exists() else 1
        _write_private(counter, str(value).encode())
        return value


class Adjudicated:
    """What the simulated payer keeps of each claim it accepted, to answer a replacement
    (frequency 7) or void (8) naming its number in REF*F8: the payer claim number, a keyed
    hash of who the claim was for (billing provider NPI, member id, patient name and birth
    date), and the payment as adjudicated (amounts, codes, service dates and CLM01). No names,
    member ids or birth dates are kept in clear. Like a payer, it takes a correction only
    from the same provider for the same patient: the number alone is not enough."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def identity(self, claim: Claim) -> str:
        """The keyed hash matching a correction to its original: the same billing provider
        and the same patient and member."""
        person = claim.patient or claim.subscriber
        born = person.birth_date.isoformat() if person.birth_date else ""
        who = "|".join(
            (claim.billing_provider.npi, claim.subscriber.member_id.upper(),
             person.last_name.strip().upper(), born)
        )  # fmt: skip
        return hmac.new(self._key(), who.encode(), hashlib.sha256).hexdigest()

    def _key(self) -> bytes:
        key_file = self.path.with_name("identity-key")
        if not key_file.exists():
            _write_private(key_file, secrets.token_bytes(32))
        return key_file.read_bytes()

    def find(self, payer_claim_number: str, claim: Claim) -> ClaimPayment | None:
        """The payment of the original that `claim` (a correction) names; None when this payer
        never accepted that number for the same provider and patient, or a replacement or void
        has taken its place already (a claim is corrected once)."""
        if not self.path.exists():
            return None
        found = None
        for line in self.path.read_text().splitlines():
            record = json.loads(line)
            if record["payer_claim_number"] == payer_claim_number:
                found = record  # the last word on that number counts
        if found is None or found.get("payment") is None:
            return None
        if not hmac.compare_digest(found["identity"], self.identity(claim)):
            return None
        return payment_from_json(found["payment"])

    def add(self, records: list[tuple[str, Claim | None, ClaimPayment | None]]) -> None:
        """Accepted claims by their number with their payment; a number with no claim is one
        that was corrected."""
        if not records:
            return
        lines = []
        for number, claim, payment in records:
            entry: dict[str, object] = {"payer_claim_number": number, "payment": None}
            if claim is not None and payment is not None:
                entry |= {"identity": self.identity(claim), "payment": payment_to_json(payment)}
            lines.append(json.dumps(entry) + "\n")
        _write_private(self.path, "".join(lines).encode(), append=True)


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _adjustments(adjustments: tuple[Adjustment, ...]) -> list[list[str | None]]:
    return [[a.group, a.reason, str(a.amount), _amount(a.quantity)] for a in adjustments]


def payment_to_json(payment: ClaimPayment) -> dict[str, object]:
    """A claim payment as stored: amounts, codes, dates and CLM01; never the patient's name,
    member id or a procedure description."""
    return {
        "clp": [payment.patient_control_number, payment.status, str(payment.total_charge),
                str(payment.paid), payment.filing_indicator,
                _amount(payment.patient_responsibility), payment.payer_claim_control_number,
                payment.facility_type, payment.frequency_code],
        "statement": [_day(payment.statement_start), _day(payment.statement_end)],
        "adjustments": _adjustments(payment.adjustments),
        "remarks": list(payment.remark_codes),
        "lines": [
            {
                "procedure": [line.procedure.qualifier, line.procedure.code,
                              *line.procedure.modifiers],
                "amounts": [str(line.charge), str(line.paid), _amount(line.units),
                            _amount(line.allowed_amount)],
                "revenue_code": line.revenue_code,
                "dates": [_day(line.service_date), _day(line.service_end_date)],
                "adjustments": _adjustments(line.adjustments),
                "line_control_number": line.line_control_number,
                "remarks": list(line.remark_codes),
            }
            for line in payment.lines
        ],
    }  # fmt: skip


def payment_from_json(data: dict[str, Any]) -> ClaimPayment:
    def amount(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    def day(value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value)

    def adjustments(rows: list[list[str | None]]) -> tuple[Adjustment, ...]:
        return tuple(Adjustment(str(g), str(r), Decimal(str(a)), amount(q)) for g, r, a, q in rows)

    pcn, status, charge, paid, filing, owed, number, facility, frequency = data["clp"]
    lines = []
    for line in data["lines"]:
        qualifier, code, *modifiers = line["procedure"]
        line_charge, line_paid, units, allowed = line["amounts"]
        start, end = line["dates"]
        lines.append(
            ServicePayment(
                procedure=Procedure(code=code, qualifier=qualifier, modifiers=tuple(modifiers)),
                charge=Decimal(line_charge),
                paid=Decimal(line_paid),
                revenue_code=line["revenue_code"],
                units=amount(units),
                service_date=day(start),
                service_end_date=day(end),
                adjustments=adjustments(line["adjustments"]),
                line_control_number=line["line_control_number"],
                allowed_amount=amount(allowed),
                remark_codes=tuple(line["remarks"]),
            )
        )
    start, end = data["statement"]
    return ClaimPayment(
        patient_control_number=pcn,
        status=status,
        total_charge=Decimal(charge),
        paid=Decimal(paid),
        filing_indicator=filing,
        patient_responsibility=amount(owed),
        payer_claim_control_number=number,
        facility_type=facility,
        frequency_code=frequency,
        statement_start=day(start),
        statement_end=day(end),
        adjustments=adjustments(data["adjustments"]),
        remark_codes=tuple(data["remarks"]),
        lines=tuple(lines),
    )
