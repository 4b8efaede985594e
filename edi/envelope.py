"""Interchange envelopes: ISA/GS/ST around transaction bodies, SE/GE/IEA with computed counts.

    ISA  interchange (ISA13 = IEA02, IEA01 = number of GS)
      GS   functional group (GS06 = GE02, GE01 = number of ST)
        ST   transaction set (ST02 = SE02, SE01 = segments from ST to SE inclusive)
        SE
      GE
    IEA

Control numbers come from the caller (they must be unique per sender/receiver pair, which only
the caller's store can promise); nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edi.errors import X12ValueError
from edi.x12 import DEFAULT_DELIMITERS, Delimiters, SegmentWriter, check_value

MAX_CONTROL_NUMBER = 999_999_999

# ISA01..ISA16 are fixed width, and a receiver reads the ISA by position: an element of the
# wrong width moves every later one. Each width with the TA1 note code (TA105) that rejects it.
ISA_WIDTHS: tuple[tuple[int, str], ...] = (
    (2, "010"), (10, "011"), (2, "012"), (10, "013"),  # ISA01-04 authorization, security
    (2, "005"), (15, "006"), (2, "007"), (15, "008"),  # ISA05-08 sender and receiver
    (6, "014"), (4, "015"), (1, "016"), (5, "017"),  # ISA09-12 date, time, ISA11, version
    (9, "018"), (1, "019"), (1, "020"), (1, "027"),  # ISA13-16 control number, ack, usage
)  # fmt: skip


def isa_width_errors(isa: Sequence[str]) -> list[tuple[int, str, str]]:
    """(position, TA105 note code, message) for each ISA element (as read, blanks kept; [0] is
    "ISA") whose width is not the fixed one, in order; [] when all are right."""
    errors = []
    for position, (width, note) in enumerate(ISA_WIDTHS, start=1):
        value = isa[position] if position < len(isa) else ""
        if len(value) != width:
            errors.append(
                (
                    position,
                    note,
                    f"ISA{position:02d} is {len(value)} characters long; the ISA is fixed-width "
                    f"and ISA{position:02d} takes exactly {width} (pad with spaces)",
                )
            )
    return errors


@dataclass(frozen=True, slots=True)
class EnvelopeParams:
    """Who sends to whom, when, and under which control numbers."""

    sender_id: str  # ISA06 (space padded to 15) and GS02 unless application_sender is given
    receiver_id: str  # ISA08 and GS03 unless application_receiver is given
    interchange_control_number: int  # ISA13 / IEA02, 1..999999999
    group_control_number: int  # GS06 / GE02, 1..999999999
    transaction_control_number: int  # ST02 / SE02 of the first set; later sets count up
    created: datetime  # ISA09/ISA10, GS04/GS05 (and BHT04/BHT05 in an 837)
    usage_indicator: Literal["P", "T"] = "T"  # ISA15 production or test
    sender_qualifier: str = "ZZ"  # ISA05: ZZ mutually defined, 30 tax id, 01 DUNS ...
    receiver_qualifier: str = "ZZ"  # ISA07
    application_sender: str | None = None  # GS02
    application_receiver: str | None = None  # GS03
    acknowledgment_requested: bool = False  # ISA14: ask for a TA1
    delimiters: Delimiters = DEFAULT_DELIMITERS
    newline: bool = False  # a line break after each segment terminator (for people reading)


def _control(value: int, field: str) -> int:
    if not 1 <= value <= MAX_CONTROL_NUMBER:
        raise X12ValueError(field, value, "a control number is 1..999999999")
    return value


def _isa_id(value: str, field: str, delims: Delimiters) -> str:
    check_value(value, field, delims)
    if not 1 <= len(value) <= 15:
        raise X12ValueError(field, value, "an interchange id is 1..15 characters")
    return value.ljust(15)


def st_control(params: EnvelopeParams, index: int) -> str:
    """ST02 of the `index`-th transaction set (0-based): at least 4 digits."""
    number = _control(params.transaction_control_number + index, "transaction_control_number")
    return f"{number:04d}"


def wrap(
    params: EnvelopeParams,
    *,
    functional_id: str,
    version: str,
    transaction_set_id: str,
    bodies: Sequence[Sequence[str]],
    convention_reference: bool = True,
) -> str:
    """One interchange with one functional group holding one transaction set per body.

    A body is the formatted segments between ST and SE (from a SegmentWriter with the same
    delimiters). `functional_id` is GS01 (HC claims, FA acks); `version` is GS08 and ST03,
    which is left out without `convention_reference` (the 835 guide does not use it).
    """
    d = params.delimiters
    isa13 = _control(params.interchange_control_number, "interchange_control_number")
    gs06 = _control(params.group_control_number, "group_control_number")
    if not bodies:
        raise X12ValueError("bodies", bodies, "an interchange needs at least one transaction set")
    if params.usage_indicator not in ("P", "T"):
        raise X12ValueError("usage_indicator", params.usage_indicator, "ISA15 is P or T")
    for field, qualifier in (
        ("sender_qualifier", params.sender_qualifier),
        ("receiver_qualifier", params.receiver_qualifier),
    ):
        check_value(qualifier, field, d)
        if len(qualifier) != 2:
            raise X12ValueError(field, qualifier, "an id qualifier is 2 characters")
    # ISA is fixed width, so ISA02/ISA04 are ten spaces (no authorization or security info).
    head = SegmentWriter(d, newline=params.newline)
    head.raw(
        d.element.join(
            (
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                params.sender_qualifier,
                _isa_id(params.sender_id, "sender_id", d),
                params.receiver_qualifier,
                _isa_id(params.receiver_id, "receiver_id", d),
                params.created.strftime("%y%m%d"),
                params.created.strftime("%H%M"),
                d.repetition,
                "00501",
                f"{isa13:09d}",
                "1" if params.acknowledgment_requested else "0",
                params.usage_indicator,
                d.component,
            )
        )
        + d.segment
        + ("\n" if params.newline else "")
    )
    head.seg(
        (
            "GS",
            functional_id,
            params.application_sender or params.sender_id,
            params.application_receiver or params.receiver_id,
            params.created.strftime("%Y%m%d"),
            params.created.strftime("%H%M"),
            str(gs06),
            "X",
            version,
        ),
        ("", "application_sender", "application_receiver"),
    )
    out = [head.text()]
    tail = SegmentWriter(d, newline=params.newline)
    for index, body in enumerate(bodies):
        st02 = st_control(params, index)
        seg = SegmentWriter(d, newline=params.newline)
        seg.seg(("ST", transaction_set_id, st02, version if convention_reference else ""))
        out.append(seg.text())
        out.extend(body)
        seg = SegmentWriter(d, newline=params.newline)
        seg.seg(("SE", str(len(body) + 2), st02))
        out.append(seg.text())
    tail.seg(("GE", str(len(bodies)), str(gs06)))
    tail.seg(("IEA", "1", f"{isa13:09d}"))
    out.append(tail.text())
    return "".join(out)
