"""Acknowledgments of files we sent: TA1 (interchange) and 999 (implementation, 005010X231A1).

    TA1                        interchange ack (between ISA and GS, or alone in an interchange)
    ST 999
      AK1                      the acked functional group (GS01, GS06, GS08)
        2000 AK2               one acked transaction set (ST01, ST02, ST03)
          2100 IK3 CTX*        segment error
            2110 IK4 CTX       element error
          IK5                  transaction set verdict
      AK9                      group verdict and counts
    SE

Each code keeps its X12 value; the `*_meaning` properties give the description from edi/codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from edi.codes import describe
from edi.read_envelope import Envelope

ACK_VERSION = "005010X231A1"


@dataclass(frozen=True, slots=True)
class InterchangeAck:
    """TA1: the receiver's verdict on one whole interchange."""

    control_number: int  # TA101: the ISA13 acknowledged
    date: date  # TA102: the acked interchange's date (YYMMDD)
    time: time  # TA103: its time (HHMM)
    status: str  # TA104: A accepted, E accepted with errors, R rejected
    note_code: str  # TA105: 000 no error, else why (ta105 codes)
    sender_id: str | None = field(default=None, compare=False)  # ISA06 of the TA1's interchange
    receiver_id: str | None = field(default=None, compare=False)  # ISA08

    @property
    def status_meaning(self) -> str:
        return describe("ta104", self.status)

    @property
    def note_meaning(self) -> str:
        return describe("ta105", self.note_code)

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """CTX: where an error sits, or which business unit it concerns (e.g. CLM01 of the claim)."""

    name: str  # CTX01-1: SITUATIONAL TRIGGER, or a business unit such as CLM01
    reference: str | None = None  # CTX01-2: the business unit's value (the patient control no.)
    segment_id: str | None = None  # CTX02
    segment_position: int | None = None  # CTX03: position in the transaction set
    loop_id: str | None = None  # CTX04
    element_position: int | None = None  # CTX05-1
    component_position: int | None = None  # CTX05-2
    repeat_position: int | None = None  # CTX05-3
    element_reference: str | None = None  # CTX06-1: data element reference number


@dataclass(frozen=True, slots=True)
class ElementError:
    """Loop 2110 IK4: one bad element of a segment in error."""

    position: int  # IK401-1: element position in the segment
    code: str  # IK403: 1 missing, 4 too short, 7 invalid code, 8 invalid date ...
    component_position: int | None = None  # IK401-2
    repeat_position: int | None = None  # IK401-3
    data_element: str | None = None  # IK402: data element reference number
    bad_value: str | None = None  # IK404: copy of the bad data
    contexts: tuple[ErrorContext, ...] = ()  # CTX of loop 2110

    @property
    def meaning(self) -> str:
        return describe("ik403", self.code)


@dataclass(frozen=True, slots=True)
class SegmentError:
    """Loop 2100 IK3: one segment in error within an acked transaction set."""

    segment_id: str  # IK301
    position: int  # IK302: position in the transaction set (ST is 1)
    code: str  # IK304: 1 unrecognized, 3 required missing, 8 has element errors ...
    loop_id: str | None = None  # IK303: loop id, e.g. 2300
    contexts: tuple[ErrorContext, ...] = ()  # CTX of loop 2100
    elements: tuple[ElementError, ...] = ()  # loop 2110

    @property
    def meaning(self) -> str:
        return describe("ik304", self.code)


@dataclass(frozen=True, slots=True)
class TransactionSetAck:
    """Loop 2000: the verdict on one transaction set we sent (AK2 .. IK5)."""

    transaction_set_id: str  # AK201: ST01 acked (837)
    control_number: str  # AK202: ST02 acked, the correlation key to what we sent
    status: str  # IK501: A, E, R, M, W, X
    version: str | None = None  # AK203: ST03 acked
    errors: tuple[SegmentError, ...] = ()  # loop 2100
    error_codes: tuple[str, ...] = ()  # IK502-IK506: set-level syntax error codes

    @property
    def status_meaning(self) -> str:
        return describe("ik501", self.status)

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")

    def error_meanings(self) -> tuple[str, ...]:
        return tuple(describe("ik502", c) for c in self.error_codes)


@dataclass(frozen=True, slots=True)
class ImplementationAck:
    """One 999 transaction set: the verdict on one functional group we sent."""

    functional_id: str  # AK101: GS01 acked (HC)
    group_control_number: int  # AK102: GS06 acked
    status: str  # AK901: A, E, P partially accepted, R, M, W, X
    sets_included: int  # AK902: sets in the acked group (its GE01)
    sets_received: int  # AK903
    sets_accepted: int  # AK904
    version: str | None = None  # AK103: GS08 acked
    transaction_sets: tuple[TransactionSetAck, ...] = ()  # loop 2000
    error_codes: tuple[str, ...] = ()  # AK905-AK909: group-level error codes
    envelope: Envelope | None = field(default=None, compare=False)  # where this 999 came from

    @property
    def status_meaning(self) -> str:
        return describe("ak901", self.status)

    def error_meanings(self) -> tuple[str, ...]:
        return tuple(describe("ak905", c) for c in self.error_codes)


@dataclass(frozen=True, slots=True)
class Acknowledgments:
    """Everything acknowledgment-like in one file: TA1s and 999 transaction sets."""

    interchange_acks: tuple[InterchangeAck, ...]
    implementation_acks: tuple[ImplementationAck, ...]
