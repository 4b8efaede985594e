"""read_277ca: 277CA claim acknowledgments (005010X214) -> edi.claim_ack values.

    ST BHT
      HL*20 NM1*PR TRN DTP*050 DTP*009                       2000A source
        HL*21 NM1*41 TRN STC QTY AMT                         2000B receiver -> one value each
          HL*19 NM1*85 TRN STC REF QTY AMT                   2000C provider
            HL*PT NM1*QC TRN STC REF DTP*472 (SVC STC REF DTP)  2000D claim, 2220D lines
    SE

The loops are told apart by HL03, not by position, so any number of providers and claims
nest correctly. The 277 claim status response (005010X212) shares ST01 277 but not this shape:
it is refused as an unsupported version. A status or service date that cannot be read is
read as None and reported as a located finding, as read_835 does, not as an error: one bad
date must not hold back every other claim's status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from edi.claim import Procedure
from edi.claim_ack import (
    CLAIM_ACK_VERSION,
    ClaimAcknowledgment,
    ClaimStatus,
    LineStatus,
    Party,
    ProviderStatus,
    Status,
    StatusCode,
)
from edi.errors import X12SyntaxError
from edi.read_envelope import Envelope, Source, TransactionSets
from edi.remittance import Finding
from edi.x12 import SegmentReader
from edi.x12_values import element, optional, parse_amount, parse_date

VERSIONS = frozenset((CLAIM_ACK_VERSION,))


def iter_277ca(source: Source) -> Iterator[ClaimAcknowledgment]:
    """Each information source / receiver pair (2000A + 2000B) of every 277CA in a file.

    Raises UnsupportedVersionError for a 277 whose GS08 is not 005010X214 (a 005010X212 claim
    status response, a 4010 file) and X12SyntaxError, naming the segment, for text that is not
    X12 or a value that cannot be read, but for dates: STC02 and DTP03 dates that cannot be
    read are None, each with a Finding (rule "unreadable") on its acknowledgment.
    """
    sets = TransactionSets(source, "277", VERSIONS)
    for envelope, body in sets:
        yield from _Reader(envelope, sets.reader).read(body)


def read_277ca(source: Source) -> tuple[ClaimAcknowledgment, ...]:
    """Every claim acknowledgment in a file; see iter_277ca."""
    return tuple(iter_277ca(source))


def _procedure(text: str, sep: str) -> Procedure:
    parts = text.split(sep)
    return Procedure(
        code=parts[1] if len(parts) > 1 else "",
        qualifier=parts[0],
        modifiers=tuple(m for m in parts[2:6] if m),
        description=(parts[6] or None) if len(parts) > 6 else None,
    )


class _Reader:
    """State of one 277CA transaction set: the open loop at each HL level."""

    def __init__(self, envelope: Envelope, reader: SegmentReader) -> None:
        self.envelope = envelope
        self.reader = reader
        delims = reader.delimiters
        assert delims is not None
        self.sep = delims.component
        self.bht: list[str] | None = None
        self.source: dict[str, Any] | None = None
        self.receiver: dict[str, Any] | None = None
        self.provider: dict[str, Any] | None = None
        self.claim: dict[str, Any] | None = None
        self.line: dict[str, Any] | None = None
        self.level = ""
        self.done: list[ClaimAcknowledgment] = []
        self.findings: list[Finding] = []  # of the receiver loop being read

    # -- values ---------------------------------------------------------------------------

    def _day(self, text: str, name: str) -> date | None:
        """A date the model may go without: one that cannot be read is None and a finding
        naming the element, the segment and the claim (and line) it is in."""
        try:
            return parse_date(text, self.reader, name)
        except X12SyntaxError:
            pcn = line = None
            if self.claim is not None:
                pcn = self.claim["patient_control_number"] or None  # 2200D TRN02
                if self.line is not None:
                    line = len(self.claim["lines"]) + 1
            self.findings.append(
                Finding(
                    "unreadable",
                    patient_control_number=pcn,
                    line_number=line,
                    segment_number=self.reader.segment_number,
                    detail=f"{name}={text!r}",
                )
            )
            return None

    def _date(self, text: str, name: str) -> date:
        return parse_date(text, self.reader, name)

    def _code(self, text: str) -> StatusCode:
        parts = text.split(self.sep)
        return StatusCode(
            category=parts[0],
            code=parts[1] if len(parts) > 1 else "",
            entity=(parts[2] or None) if len(parts) > 2 else None,
        )

    def _status(self, seg: list[str]) -> Status:
        when = optional(seg, 2)
        charge = optional(seg, 4)
        return Status(
            status=self._code(element(seg, 1)),
            date=self._day(when, "STC02") if when else None,
            action=optional(seg, 3),
            charge=parse_amount(charge, self.reader, "STC04") if charge else None,
            additional=tuple(self._code(c) for c in seg[10:12] if c),
            message=optional(seg, 12),
        )

    def _party(self, seg: list[str]) -> Party:
        return Party(
            name=element(seg, 3),
            identifier=element(seg, 9),
            identifier_qualifier=element(seg, 8),
            first_name=optional(seg, 4),
            middle_name=optional(seg, 5),
            is_person=element(seg, 2) == "1",
        )

    def _period(self, seg: list[str], target: dict[str, Any]) -> None:
        """DTP*472: D8 one date, RD8 a range."""
        text = element(seg, 3)
        if element(seg, 2) == "RD8":
            start, _, end = text.partition("-")
            target["service_date"] = self._day(start, "DTP03")
            target["service_end_date"] = self._day(end, "DTP03")
        else:
            target["service_date"] = self._day(text, "DTP03")

    # -- loops ----------------------------------------------------------------------------

    def _close_line(self) -> None:
        if self.line is not None and self.claim is not None:
            self.line["statuses"] = tuple(self.line["statuses"])
            self.claim["lines"].append(LineStatus(**self.line))
        self.line = None

    def _close_claim(self) -> None:
        self._close_line()
        if self.claim is not None and self.provider is not None:
            c = self.claim
            c["statuses"] = tuple(c["statuses"])
            c["lines"] = tuple(c["lines"])
            self.provider["claims"].append(ClaimStatus(**c))
        self.claim = None

    def _close_provider(self) -> None:
        self._close_claim()
        if self.provider is not None and self.receiver is not None:
            p = self.provider
            p["statuses"] = tuple(p["statuses"])
            p["claims"] = tuple(p["claims"])
            self.receiver["providers"].append(ProviderStatus(**p))
        self.provider = None

    def _close_receiver(self) -> None:
        self._close_provider()
        if self.receiver is not None:
            if self.source is None or self.bht is None:
                raise self.reader.error("a 277CA receiver loop (HL*21) needs BHT and HL*20 first")
            r = self.receiver
            s = self.source
            self.done.append(
                ClaimAcknowledgment(
                    reference=element(self.bht, 3),
                    created=self._date(element(self.bht, 4), "BHT04"),
                    source=s["party"],
                    source_trace=s["trace"],
                    received_date=s["received"],
                    processed_date=s["processed"],
                    receiver=r["party"],
                    receiver_trace=r["trace"],
                    receiver_statuses=tuple(r["statuses"]),
                    providers=tuple(r["providers"]),
                    accepted_quantity=r["accepted_quantity"],
                    rejected_quantity=r["rejected_quantity"],
                    accepted_amount=r["accepted_amount"],
                    rejected_amount=r["rejected_amount"],
                    envelope=self.envelope,
                    source_is_clearinghouse=s.get("clearinghouse", False),
                    findings=tuple(self.findings),
                )
            )
            self.findings = []
        self.receiver = None

    def _hl(self, seg: list[str]) -> None:
        level = element(seg, 3)
        reader = self.reader
        if level == "20":
            self._close_receiver()
            self.source = {"party": None, "trace": "", "received": None, "processed": None}
        elif level == "21":
            if self.source is None:
                raise reader.error("HL*21 without an information source (HL*20) before it")
            self._close_receiver()
            self.receiver = {
                "party": None,
                "trace": "",
                "statuses": [],
                "providers": [],
                "accepted_quantity": None,
                "rejected_quantity": None,
                "accepted_amount": None,
                "rejected_amount": None,
            }
        elif level == "19":
            if self.receiver is None:
                raise reader.error("HL*19 without an information receiver (HL*21) before it")
            self._close_provider()
            self.provider = {
                "provider": None,
                "trace_number": "",
                "statuses": [],
                "claims": [],
            }
        elif level == "PT":
            if self.provider is None:
                raise reader.error("HL*PT without a billing provider (HL*19) before it")
            self._close_claim()
            self.claim = {
                "patient": None,
                "patient_control_number": "",
                "statuses": [],
                "lines": [],
            }
        else:
            raise reader.error(f"HL03 {level!r} has no place in a 277CA")
        self.level = level

    def read(self, body: Iterator[list[str]]) -> list[ClaimAcknowledgment]:
        reader = self.reader
        for seg in body:
            tag = seg[0]
            if tag == "HL":
                self._close_line()
                self._hl(seg)
                continue
            if tag == "BHT":
                self.bht = seg
                continue
            level = self.level
            if level == "PT":
                self._claim_segment(seg)
            elif level == "19":
                p = self.provider
                assert p is not None
                if tag == "NM1":
                    p["provider"] = self._party(seg)
                elif tag == "TRN":
                    p["trace_number"] = element(seg, 2)
                elif tag == "STC":
                    p["statuses"].append(self._status(seg))
                elif tag in ("QTY", "AMT"):
                    self._totals(seg, p, {"QA": "accepted", "QC": "rejected"})
            elif level == "21":
                r = self.receiver
                assert r is not None
                if tag == "NM1":
                    r["party"] = self._party(seg)
                elif tag == "TRN":
                    r["trace"] = element(seg, 2)
                elif tag == "STC":
                    r["statuses"].append(self._status(seg))
                elif tag in ("QTY", "AMT"):
                    self._totals(seg, r, {"90": "accepted", "AA": "rejected"})
            elif level == "20":
                s = self.source
                assert s is not None
                if tag == "NM1":
                    s["party"] = self._party(seg)
                    s["clearinghouse"] = element(seg, 1) == "AY"
                elif tag == "TRN":
                    s["trace"] = element(seg, 2)
                elif tag == "DTP" and element(seg, 1) == "050":
                    s["received"] = self._day(element(seg, 3), "DTP03")
                elif tag == "DTP" and element(seg, 1) == "009":
                    s["processed"] = self._day(element(seg, 3), "DTP03")
            else:
                raise reader.error(f"segment {tag} before the first HL of a 277CA")
        self._close_receiver()
        return self.done

    def _totals(self, seg: list[str], target: dict[str, Any], quantities: dict[str, str]) -> None:
        qualifier = element(seg, 1)
        if seg[0] == "QTY" and qualifier in quantities:
            value = parse_amount(element(seg, 2), self.reader, "QTY02")
            if value != value.to_integral_value():
                raise self.reader.error(f"QTY02 is not a whole number: {seg[2]!r}")
            target[f"{quantities[qualifier]}_quantity"] = int(value)
        elif seg[0] == "AMT" and qualifier in ("YU", "YY"):
            which = "accepted" if qualifier == "YU" else "rejected"
            target[f"{which}_amount"] = parse_amount(element(seg, 2), self.reader, "AMT02")

    def _claim_segment(self, seg: list[str]) -> None:
        tag = seg[0]
        c = self.claim
        assert c is not None
        if tag == "SVC":
            self._close_line()
            units = optional(seg, 7)
            self.line = {
                "procedure": _procedure(element(seg, 1), self.sep),
                "charge": parse_amount(element(seg, 2), self.reader, "SVC02"),
                "statuses": [],
                "revenue_code": optional(seg, 4),
                "units": parse_amount(units, self.reader, "SVC07") if units else None,
            }
            return
        line = self.line
        if line is not None:
            if tag == "STC":
                line["statuses"].append(self._status(seg))
            elif tag == "REF" and element(seg, 1) == "FJ":
                line["line_control_number"] = element(seg, 2)
            elif tag == "DTP" and element(seg, 1) == "472":
                self._period(seg, line)
            if tag == "STC" or tag == "REF" or tag == "DTP":
                return
            self._close_line()
        if tag == "NM1":
            c["patient"] = self._party(seg)
        elif tag == "TRN":
            c["patient_control_number"] = element(seg, 2)
        elif tag == "STC":
            c["statuses"].append(self._status(seg))
        elif tag == "REF":
            qualifier = element(seg, 1)
            key = {"1K": "payer_claim_control_number", "D9": "clearinghouse_trace"}.get(qualifier)
            if qualifier == "BLT":
                key = "bill_type"
            if key is not None:
                c[key] = element(seg, 2)
        elif tag == "DTP" and element(seg, 1) == "472":
            self._period(seg, c)
