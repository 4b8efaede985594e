"""read_835 / iter_835: 835 remittance advice (005010X221A1) -> edi.remittance values.

    ST BPR TRN DTM*405 | N1*PR N3 N4 REF PER | N1*PE N3 N4 REF      header, 1000A, 1000B
      LX (TS3 TS2)                                                  2000
        CLP CAS NM1*QC MOA DTM*232/233/050                          2100 claim
          SVC DTM*472/150/151 CAS REF*6R AMT*B6 LQ*HE               2110 line
    PLB SE                                                          trailer

One Remittance per ST: payers put several payments (several payers or payees) in one file, each
its own ST with its own BPR and N1*PR. Segments the model has no field for (provider summary
TS3/TS2, MIA, claim-level REF/AMT/QTY, other NM1s) are skipped. Balancing is checked as the
claims are read and reported as findings, never raised.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from edi.claim import Address, Adjustment, Contact, Procedure
from edi.errors import X12SyntaxError
from edi.fastbuild import Memo, constructor
from edi.read_envelope import Envelope, Source, TransactionSets
from edi.remittance import (
    REMITTANCE_VERSION,
    BankAccount,
    ClaimPayment,
    Finding,
    Payee,
    Payer,
    Payment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from edi.x12 import Delimiters, SegmentReader, stray_id
from edi.x12_values import DATE_CACHE, parse_date

VERSIONS = frozenset((REMITTANCE_VERSION,))

_ZERO = Decimal(0)
_ENVELOPE = frozenset(("ISA", "GS", "ST", "GE", "IEA"))


def iter_835(source: Source) -> Iterator[Remittance]:
    """Each 835 transaction set of a file (or stream) in turn, reading lazily.

    Memory is bounded by the largest transaction set, not by the file. Raises
    UnsupportedVersionError for an 835 whose GS08 is not 005010X221A1 and X12SyntaxError for
    text that is not X12 or a value that cannot be read (both name the segment).
    """
    sets = TransactionSets(source, "835", VERSIONS, raw=True)
    reader = sets.reader
    memos = _Memos()  # shared by the sets of one read
    for envelope, _ in sets:
        try:
            yield _remittance(envelope, reader, memos)
        except (IndexError, InvalidOperation, ValueError) as exc:
            raise reader.error(
                f"{reader.segment_id} holds a value that cannot be read ({exc!r})"
            ) from None


def read_835(source: Source) -> tuple[Remittance, ...]:
    """Every 835 transaction set of a file. See iter_835 for the errors.

    Holds every set, so the cyclic garbage collector stays paused for the whole read: re-enabled
    between sets it would rescan everything read so far, again and again (a 10 MB file read
    at half the speed). It is restored when the read ends, even on error.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return tuple(iter_835(source))
    finally:
        if paused:
            gc.enable()


def _procedure(text: str, sep: str) -> Procedure:
    parts = text.split(sep)
    return Procedure(
        code=parts[1] if len(parts) > 1 else "",
        qualifier=parts[0],
        modifiers=tuple(m for m in parts[2:6] if m),
        description=(parts[6] or None) if len(parts) > 6 else None,
    )


def _adjustments(seg: list[str], amounts: Memo) -> tuple[tuple[Adjustment, ...], Decimal]:
    """CAS: group, then up to six reason/amount/quantity triplets -> one Adjustment each, and
    the segment's amount total, which balancing needs."""
    group = seg[1]
    n = len(seg)
    total = _ZERO
    out: list[Adjustment] = []
    for i in range(2, n, 3):
        reason = seg[i]
        if reason:
            amount = amounts[seg[i + 1]]
            total += amount
            quantity = seg[i + 2] if i + 2 < n else ""
            out.append(Adjustment(group, reason, amount, amounts[quantity] if quantity else None))
    return tuple(out), total


def _service(seg: list[str], sep: str, memos: _Memos) -> tuple[Any, ...]:
    """SVC01-07 as the first seven ServicePayment fields."""
    n = len(seg)
    text = seg[1]
    amounts = memos.amounts
    procedure = memos.procedures[text]
    units = seg[5] if n > 5 else ""
    submitted = seg[6] if n > 6 else ""
    submitted_units = seg[7] if n > 7 else ""
    return (
        procedure,
        amounts[seg[2]],
        amounts[seg[3]],
        (seg[4] or None) if n > 4 else None,
        amounts[units] if units else None,
        _procedure(submitted, sep) if submitted else None,
        amounts[submitted_units] if submitted_units else None,
    )


def _opt(seg: list[str], i: int) -> str | None:
    return (seg[i] or None) if i < len(seg) else None


def _address(n3: list[str] | None, n4: list[str] | None) -> Address | None:
    if n3 is None and n4 is None:
        return None
    return Address(
        line1=n3[1] if n3 and len(n3) > 1 else "",
        line2=_opt(n3, 2) if n3 else None,
        city=n4[1] if n4 and len(n4) > 1 else "",
        state=(n4[2] if n4 and len(n4) > 2 else ""),
        postal_code=(n4[3] if n4 and len(n4) > 3 else ""),
        country_code=_opt(n4, 4) if n4 else None,
    )


def _contact(seg: list[str]) -> Contact:
    numbers: dict[str, str] = {}
    for i in range(3, len(seg) - 1, 2):
        numbers.setdefault(seg[i], seg[i + 1])
    return Contact(
        name=_opt(seg, 2), phone=numbers.get("TE"), email=numbers.get("EM"), fax=numbers.get("FX")
    )


def _bank(seg: list[str], start: int) -> BankAccount | None:
    if not _opt(seg, start):
        return None
    return BankAccount(seg[start], seg[start + 1], seg[start + 2], seg[start + 3])


class _Memos:
    """What one read keeps between segments and sets (bounded, so memory stays flat).

    `seen` maps the whole text of a CAS, SVC, DTM, AMT*B6 or LQ*HE segment, which payers
    repeat line after line, to what was read from it: ("CAS", (adjustments, total)),
    ("SVC", the first seven line fields), ("DTM", (qualifier, date)), ("AMT", amount) or
    ("LQ", code), so a repeat is neither split nor parsed again. Only values read without a
    problem are kept: a bad date is reported (as a finding) every time.
    """

    __slots__ = ("amounts", "delimiters", "procedures", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, Any]] = {}
        self.amounts = Memo(Decimal)
        self.procedures = Memo(_procedure)  # SVC01 composites, by text
        self.delimiters: Delimiters | None = None  # what `seen` and `procedures` were read with

    def use(self, delimiters: Delimiters) -> None:
        """Forget what was read with other delimiters: the same text may read differently."""
        if delimiters != self.delimiters:
            self.seen.clear()
            self.procedures.clear()
            self.procedures.make = functools.partial(_procedure, sep=delimiters.component)
            self.delimiters = delimiters


def _remittance(envelope: Envelope, reader: SegmentReader, memos: _Memos) -> Remittance:
    # A set allocates many small objects and frees none, so the cyclic collector would only
    # rescan them; pausing it for the set is ~25% faster (it is restored even on error).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _read_set(envelope, reader, memos)
    finally:
        if paused:
            gc.enable()


# Positions in the field list of the open claim (the dataclass field order, so the value is
# built with one positional call: faster than keywords on the hot path).
_C_LAST, _C_FIRST, _C_ID, _C_START, _C_END, _C_RECEIVED, _C_ADJ, _C_REMARKS, _C_LINES = range(
    10, 19
)
_make_line = constructor(ServicePayment, head=7)  # SVC01-07 as one remembered tuple
_make_claim = constructor(ClaimPayment)
_MEMO_MAX = 4096


def _read_set(envelope: Envelope, reader: SegmentReader, memos: _Memos) -> Remittance:
    """The segments after ST up to SE, taken as raw texts from the reader's batches.

    The reader stands at the ST; it is left at the SE (or at the segment an error names), so
    TransactionSets carries on after it. Locations are worked out only for findings and errors:
    the number of the batch's k-th segment is `first + k`.
    """
    delims = reader.delimiters
    assert delims is not None
    sep = delims.element
    comp = delims.component
    memos.use(delims)
    zero = _ZERO
    findings: list[Finding] = []
    dates = DATE_CACHE
    seen = memos.seen
    seen_get = seen.get
    amounts = memos.amounts
    make_line = _make_line
    make_claim = _make_claim
    unsplit: list[str] = []

    batch = reader.batch
    k = reader.index  # the ST
    first = reader.segment_number - k  # number of batch[0]

    # The helpers below take what changes per segment as arguments rather than closing over
    # it: a variable a closure refers to is a cell, slower to read and write in the loop.
    def day(text: str, name: str, at: int, claim: list[Any] | None) -> date | None:
        """A D8 date; a bad one becomes None and an "unreadable" finding."""
        found = dates.get(text)
        if found is not None:
            return found
        reader.index = at
        try:
            return parse_date(text, reader, name)
        except X12SyntaxError:
            findings.append(
                Finding(
                    "unreadable",
                    segment_number=reader.segment_number,
                    detail=f"{name}={text!r}",
                    patient_control_number=claim[0] if claim is not None else None,
                )
            )
            return None

    payment: Payment | None = None
    bpr_at: int | None = None
    trace = ""
    originator: str | None = None
    produced: date | None = None
    party: dict[str, Any] | None = None  # the N1 loop being read (payer or payee)
    parties: dict[str, dict[str, Any]] = {}
    claims: list[ClaimPayment] = []
    plb: list[ProviderAdjustment] = []
    paid_total = zero

    claim: list[Any] | None = None  # the open CLP's fields, in ClaimPayment order
    claim_at = 0
    claim_adjusted = zero  # claim CAS plus line CAS, for the claim balancing check
    claim_adjustments: tuple[Adjustment, ...] = ()  # tuples: a lone CAS's is shared as is
    lines: list[ServicePayment] = []
    # The open line: SVC01-07 as read (a remembered tuple) and the fields its loop sets, in
    # locals rather than a list (one list and its stores less per line).
    line: tuple[Any, ...] | None = None
    line_date: date | None = None
    line_end: date | None = None
    line_ref: str | None = None
    line_allowed: Decimal | None = None
    line_at = 0
    line_adjusted = zero
    line_adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()

    def remember(raw: str, tag: str, value: Any) -> None:
        if len(seen) >= _MEMO_MAX:
            seen.clear()
        seen[raw] = (tag, value)

    try:
        while True:
            for k in range(k + 1, len(batch)):  # noqa: B020 (k is where the set stands)
                raw = batch[k]
                hit = seen_get(raw)
                if hit is not None:
                    tag, value = hit
                    seg = unsplit  # not read: the remembered value stands for it
                else:
                    seg = raw.split(sep)
                    tag = seg[0]
                    value = None
                if line is not None:
                    # Loop 2110 segments, most frequent first; anything else closes the line.
                    if tag == "DTM":
                        if value is None:
                            qualifier = seg[1]
                            if qualifier == "472" or qualifier == "150" or qualifier == "151":
                                found = day(seg[2], "DTM02", k, claim)
                                if found is not None:
                                    remember(raw, tag, (qualifier, found))
                            else:
                                continue
                        else:
                            qualifier, found = value
                        if qualifier == "472" or qualifier == "150":
                            line_date = found
                        elif qualifier == "151":
                            line_end = found
                        continue
                    if tag == "CAS":
                        if value is None:
                            value = _adjustments(seg, amounts)
                            remember(raw, tag, value)
                        line_adjustments += value[0]
                        line_adjusted += value[1]
                        continue
                    if tag == "REF":
                        if seg[1] == "6R":
                            line_ref = seg[2]
                        continue
                    if tag == "AMT":
                        if value is None:
                            if seg[1] != "B6":
                                continue
                            value = amounts[seg[2]]
                            remember(raw, tag, value)
                        line_allowed = value
                        continue
                    if tag == "LQ":
                        if value is None:
                            if seg[1] != "HE":
                                continue
                            value = seg[2]
                            remember(raw, tag, value)
                        remarks += (value,)
                        continue
                    if tag == "QTY":
                        continue
                    # Any other segment closes the line (inline: this runs once per line).
                    lines.append(
                        make_line(
                            line,
                            line_date,
                            line_end,
                            line_adjustments,
                            line_ref,
                            line_allowed,
                            remarks,
                        )
                    )
                    if line[1] - line_adjusted != line[2]:
                        findings.append(
                            Finding(
                                "line",
                                line[1] - line_adjusted,
                                line[2],
                                claim[0],
                                len(lines),
                                line_at,
                            )
                        )
                    claim_adjusted += line_adjusted
                    line = None
                    line_adjustments = ()
                    remarks = ()
                    line_adjusted = zero
                if tag == "SVC":
                    if claim is None:
                        reader.index = k
                        raise reader.error("SVC outside a claim (no CLP before it)")
                    if value is None:
                        value = _service(seg, comp, memos)
                        remember(raw, tag, value)
                    line = value
                    line_date = line_end = line_ref = line_allowed = None
                    line_at = first + k
                elif tag == "CAS":
                    if claim is None:
                        reader.index = k
                        raise reader.error("CAS outside a claim (no CLP before it)")
                    if value is None:
                        value = _adjustments(seg, amounts)
                        remember(raw, tag, value)
                    claim_adjustments += value[0]
                    claim_adjusted += value[1]
                elif tag == "CLP":
                    if claim is not None:
                        # _close_claim, inline: this runs once per claim.
                        claim[_C_ADJ] = claim_adjustments
                        claim[_C_LINES] = tuple(lines)
                        claims.append(make_claim(*claim))
                        paid_total += claim[3]
                        if claim[2] - claim_adjusted != claim[3]:
                            findings.append(
                                Finding(
                                    "claim",
                                    claim[2] - claim_adjusted,
                                    claim[3],
                                    claim[0],
                                    None,
                                    claim_at,
                                )
                            )
                        claim_adjustments = ()
                        lines = []
                        claim_adjusted = zero
                    n = len(seg)
                    responsibility = seg[5] if n > 5 else ""
                    claim = [
                        seg[1],  # patient_control_number
                        seg[2],  # status
                        amounts[seg[3]],  # total_charge
                        amounts[seg[4]],  # paid
                        seg[6] if n > 6 else "",  # filing_indicator
                        amounts[responsibility] if responsibility else None,
                        (seg[7] or None) if n > 7 else None,  # payer_claim_control_number
                        (seg[8] or None) if n > 8 else None,  # facility_type
                        (seg[9] or None) if n > 9 else None,  # frequency_code
                        (seg[11] or None) if n > 11 else None,  # drg_code
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        (),
                        (),
                        (),
                    ]
                    claim_at = first + k
                elif claim is not None:
                    # Loop 2100 segments after CLP.
                    if tag == "DTM":
                        if value is None:
                            qualifier = seg[1]
                            if qualifier == "232" or qualifier == "233" or qualifier == "050":
                                found = day(seg[2], "DTM02", k, claim)
                                if found is not None:
                                    remember(raw, tag, (qualifier, found))
                            else:
                                continue
                        else:
                            qualifier, found = value
                        if qualifier == "232":
                            claim[_C_START] = found
                        elif qualifier == "233":
                            claim[_C_END] = found
                        elif qualifier == "050":
                            claim[_C_RECEIVED] = found
                    elif tag == "NM1":
                        if seg[1] == "QC":
                            n = len(seg)
                            claim[_C_LAST] = (seg[3] or None) if n > 3 else None
                            claim[_C_FIRST] = (seg[4] or None) if n > 4 else None
                            claim[_C_ID] = (seg[9] or None) if n > 9 else None
                    elif tag == "MOA":
                        claim[_C_REMARKS] = tuple(c for c in seg[3:8] if c)
                    elif tag == "SE":
                        break
                    elif tag in _ENVELOPE:
                        reader.index = k
                        raise reader.error(f"{tag} inside a transaction set (its SE is missing)")
                    elif tag == "LX" or tag == "PLB":
                        paid_total += _close_claim(
                            claim, claim_adjustments, lines, claim_adjusted, claim_at, claims,
                            findings,
                        )  # fmt: skip
                        claim = None
                        claim_adjustments = ()
                        lines = []
                        claim_adjusted = zero
                        if tag == "PLB":
                            _provider_adjustments(seg, comp, day(seg[2], "PLB02", k, claim), plb)
                    elif stray_id(tag, "CLP"):
                        reader.index = k
                        raise reader.error(f"segment id {tag!r} is not CLP")
                    # REF, AMT, QTY, PER, MIA and other NM1s of a claim are not in the model.
                elif tag == "DTM":
                    # Outside a claim only DTM*405 is read.
                    if value is None:
                        if seg[1] == "405":
                            produced = day(seg[2], "DTM02", k, claim)
                            if produced is not None:
                                remember(raw, tag, ("405", produced))
                    elif value[0] == "405":
                        produced = value[1]
                elif tag == "PLB":
                    _provider_adjustments(seg, comp, day(seg[2], "PLB02", k, claim), plb)
                elif tag == "N1":
                    party = parties.setdefault(
                        seg[1], {"n1": seg, "n3": None, "n4": None, "ref": {}}
                    )
                elif party is not None and tag in ("N3", "N4"):
                    party[tag.lower()] = seg
                elif party is not None and tag == "REF":
                    party["ref"].setdefault(seg[1], seg[2])
                elif party is not None and tag == "PER":
                    if seg[1] == "BL":
                        party["per"] = seg
                elif tag == "BPR":
                    n = len(seg)
                    payment = Payment(
                        handling=seg[1],
                        amount=amounts[seg[2]],
                        credit_debit=seg[3],
                        method=seg[4],
                        date=day(seg[16], "BPR16", k, claim) if n > 16 and seg[16] else None,
                        format=_opt(seg, 5),
                        sender_account=_bank(seg, 6) if n > 9 else None,
                        originating_company_id=_opt(seg, 10),
                        receiver_account=_bank(seg, 12) if n > 15 else None,
                    )
                    bpr_at = first + k
                elif tag == "TRN":
                    trace = seg[2]
                    originator = _opt(seg, 3)
                elif tag == "SE":
                    break
                elif tag in _ENVELOPE:
                    reader.index = k
                    raise reader.error(f"{tag} inside a transaction set (its SE is missing)")
                elif stray_id(tag, "CLP"):
                    # A claim payment passed over would leave its amounts to no one (or, inside
                    # a claim, to the one before): the set is refused, naming the segment.
                    reader.index = k
                    raise reader.error(f"segment id {tag!r} is not CLP")
                # LX, TS3, TS2, CUR, REF*EV and others outside a claim are not in the model.
            else:
                # The batch is used up: carry on in the next one.
                reader.index = len(batch) - 1
                if not reader.next_batch():
                    raise reader.error("the file ends inside a transaction set (no SE)")
                batch = reader.batch
                k = -1
                first = reader.segment_number + 1
                continue
            break
    except (IndexError, InvalidOperation, ValueError):
        reader.index = k  # the segment holding the value, for the message iter_835 makes
        raise
    reader.index = k  # the SE: TransactionSets carries on after it
    if claim is not None:
        paid_total += _close_claim(
            claim, claim_adjustments, lines, claim_adjusted, claim_at, claims, findings
        )
    if payment is None:
        raise reader.error("an 835 needs a BPR")
    expected = paid_total - sum((a.amount for a in plb), zero)
    if expected != payment.amount:
        findings.append(Finding("transaction", expected, payment.amount, None, None, bpr_at))
    return Remittance(
        payment=payment,
        trace_number=trace,
        payer=_payer(parties.get("PR")),
        payee=_payee(parties.get("PE")),
        originator_id=originator,
        production_date=produced,
        claims=tuple(claims),
        provider_adjustments=tuple(plb),
        findings=tuple(findings),
        envelope=envelope,
    )


def _close_claim(
    claim: list[Any],
    adjustments: tuple[Adjustment, ...],
    lines: list[ServicePayment],
    adjusted: Decimal,
    at: int,
    out: list[ClaimPayment],
    findings: list[Finding],
) -> Decimal:
    """Make the open claim a ClaimPayment (its line, if any, is already closed: the segment
    that ends a claim is not a line segment) and check its balance; returns CLP04."""
    claim[_C_ADJ] = adjustments
    claim[_C_LINES] = tuple(lines)
    out.append(_make_claim(*claim))
    if claim[2] - adjusted != claim[3]:
        findings.append(Finding("claim", claim[2] - adjusted, claim[3], claim[0], None, at))
    paid: Decimal = claim[3]
    return paid


def _provider_adjustments(
    seg: list[str], sep: str, fiscal: date | None, out: list[ProviderAdjustment]
) -> None:
    """PLB: provider, fiscal period date, then up to six reason:reference / amount pairs."""
    provider = seg[1]
    n = len(seg)
    for i in range(3, n, 2):
        if not seg[i]:
            continue
        reason, _, reference = seg[i].partition(sep)
        out.append(
            ProviderAdjustment(provider, fiscal, reason, Decimal(seg[i + 1]), reference or None)
        )


def _payer(found: dict[str, Any] | None) -> Payer:
    if found is None:
        return Payer(name="")
    n1 = found["n1"]
    identifier = _opt(n1, 4) or found["ref"].get("2U")
    per = found.get("per")
    return Payer(
        name=_opt(n1, 2) or "",
        address=_address(found["n3"], found["n4"]),
        identifier=identifier,
        contact=_contact(per) if per is not None else None,
    )


def _payee(found: dict[str, Any] | None) -> Payee:
    if found is None:
        return Payee(name="")
    n1 = found["n1"]
    qualifier, identifier = _opt(n1, 3), _opt(n1, 4)
    npi = identifier if qualifier == "XX" else None
    tax_id = identifier if qualifier == "FI" else found["ref"].get("TJ")
    other = identifier if qualifier not in ("XX", "FI") else None
    return Payee(
        name=_opt(n1, 2) or "",
        npi=npi,
        tax_id=tax_id,
        other_id=other,
        other_id_qualifier=qualifier if other is not None else None,
        address=_address(found["n3"], found["n4"]),
    )
