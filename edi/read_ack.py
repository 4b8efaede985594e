"""read_acknowledgments: TA1 segments and 999 (005010X231A1) transaction sets -> edi.ack values.

    ISA TA1 ... IEA                      -> InterchangeAck
    ST*999 AK1 (AK2 (IK3 CTX (IK4 CTX)) IK5) AK9 SE -> ImplementationAck

Raises UnsupportedVersionError for a 999 group of another GS08 and X12SyntaxError for text that
is not X12 or an ack segment out of place; a rejection inside a 999 is a value, not an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from edi.ack import (
    ACK_VERSION,
    Acknowledgments,
    ElementError,
    ErrorContext,
    ImplementationAck,
    InterchangeAck,
    SegmentError,
    TransactionSetAck,
)
from edi.read_envelope import Envelope, Source, TransactionSets
from edi.x12 import SegmentReader
from edi.x12_values import (
    element,
    optional,
    parse_count,
    parse_short_date,
    parse_time,
)

# The A1 errata changed code lists, not the 999's structure, so the original guide reads too.
VERSIONS = frozenset((ACK_VERSION, "005010X231"))


def read_acknowledgments(source: Source) -> Acknowledgments:
    """Every TA1 and every 999 transaction set in a file (any number of interchanges)."""
    ta1s: list[InterchangeAck] = []

    def outside(seg: list[str], isa: list[str], reader: SegmentReader) -> None:
        if seg[0] != "TA1":
            raise reader.error(f"segment {seg[0]} outside a transaction set")
        ta1s.append(_ta1(seg, isa, reader))

    sets = TransactionSets(source, "999", VERSIONS, outside=outside, older_ids=frozenset(("997",)))
    acks = tuple(_999(envelope, body, sets.reader) for envelope, body in sets)
    return Acknowledgments(tuple(ta1s), acks)


def read_999(source: Source) -> tuple[ImplementationAck, ...]:
    """Every 999 transaction set in a file; TA1 segments are read and dropped."""
    return read_acknowledgments(source).implementation_acks


def read_ta1(source: Source) -> tuple[InterchangeAck, ...]:
    """Every TA1 in a file; 999 sets in it are read and dropped."""
    return read_acknowledgments(source).interchange_acks


def _ta1(seg: list[str], isa: list[str], reader: SegmentReader) -> InterchangeAck:
    return InterchangeAck(
        control_number=parse_count(element(seg, 1), reader, "TA101"),
        date=parse_short_date(element(seg, 2), reader, "TA102"),
        time=parse_time(element(seg, 3), reader, "TA103"),
        status=element(seg, 4),
        note_code=element(seg, 5),
        sender_id=element(isa, 6).rstrip(),
        receiver_id=element(isa, 8).rstrip(),
    )


def _ints(composite: str | None, sep: str, reader: SegmentReader, name: str) -> list[int | None]:
    """A C030 position composite (position:component:repeat) -> up to three ints."""
    parts = (composite or "").split(sep)
    out: list[int | None] = [
        parse_count(p, reader, f"{name}-{i + 1}") if p else None for i, p in enumerate(parts[:3])
    ]
    return out + [None] * (3 - len(out))


def _ctx(seg: list[str], sep: str, reader: SegmentReader) -> ErrorContext:
    name, _, reference = element(seg, 1).partition(sep)
    position, component, repeat = _ints(optional(seg, 5), sep, reader, "CTX05")
    return ErrorContext(
        name=name,
        reference=reference or None,
        segment_id=optional(seg, 2),
        segment_position=parse_count(seg[3], reader, "CTX03") if optional(seg, 3) else None,
        loop_id=optional(seg, 4),
        element_position=position,
        component_position=component,
        repeat_position=repeat,
        element_reference=(optional(seg, 6) or "").split(sep)[0] or None,
    )


class _Open:
    """The IK3 or IK4 being read: its fields (converted when read, so errors point at it) and
    the CTX segments gathered so far."""

    __slots__ = ("contexts", "elements", "fields")

    def __init__(self, fields: dict[str, object]) -> None:
        self.fields = fields
        self.contexts: list[ErrorContext] = []
        self.elements: list[ElementError] = []


def _999(envelope: Envelope, body: Iterator[list[str]], reader: SegmentReader) -> ImplementationAck:
    delims = reader.delimiters
    assert delims is not None
    sep = delims.component
    group: dict[str, object] | None = None
    sets: list[TransactionSetAck] = []
    ak2: list[str] | None = None
    segment_errors: list[SegmentError] = []
    ik3: _Open | None = None
    ik4: _Open | None = None

    def close_ik4() -> None:
        nonlocal ik4
        if ik4 is not None and ik3 is not None:
            ik3.elements.append(ElementError(**ik4.fields, contexts=tuple(ik4.contexts)))  # type: ignore[arg-type]
        ik4 = None

    def close_ik3() -> None:
        nonlocal ik3
        close_ik4()
        if ik3 is not None:
            segment_errors.append(
                SegmentError(
                    **ik3.fields,  # type: ignore[arg-type]
                    contexts=tuple(ik3.contexts),
                    elements=tuple(ik3.elements),
                )
            )
        ik3 = None

    for seg in body:
        tag = seg[0]
        if tag == "IK4":
            if ik3 is None:
                raise reader.error("IK4 without an IK3 before it")
            close_ik4()
            position, component, repeat = _ints(element(seg, 1), sep, reader, "IK401")
            ik4 = _Open(
                dict(
                    position=position or 0,
                    code=element(seg, 3),
                    component_position=component,
                    repeat_position=repeat,
                    data_element=optional(seg, 2),
                    bad_value=optional(seg, 4),
                )
            )
        elif tag == "CTX":
            target = ik4 or ik3
            if target is None:
                raise reader.error("CTX outside an IK3 or IK4 loop")
            target.contexts.append(_ctx(seg, sep, reader))
        elif tag == "IK3":
            if ak2 is None:
                raise reader.error("IK3 without an AK2 before it")
            close_ik3()
            ik3 = _Open(
                dict(
                    segment_id=element(seg, 1),
                    position=parse_count(element(seg, 2), reader, "IK302"),
                    code=element(seg, 4),
                    loop_id=optional(seg, 3),
                )
            )
        elif tag == "AK2":
            if ak2 is not None:
                raise reader.error("AK2 before the previous set's IK5")
            ak2 = seg
        elif tag == "IK5":
            if ak2 is None:
                raise reader.error("IK5 without an AK2 before it")
            close_ik3()
            sets.append(
                TransactionSetAck(
                    transaction_set_id=element(ak2, 1),
                    control_number=element(ak2, 2),
                    status=element(seg, 1),
                    version=optional(ak2, 3),
                    errors=tuple(segment_errors),
                    error_codes=tuple(e for e in seg[2:7] if e),
                )
            )
            ak2 = None
            segment_errors = []
        elif tag == "AK1":
            group = dict(
                functional_id=element(seg, 1),
                group_control_number=parse_count(element(seg, 2), reader, "AK102"),
                version=optional(seg, 3),
            )
        elif tag == "AK9":
            if ak2 is not None:
                raise reader.error("a transaction set ack (AK2) has no IK5 before AK9")
            if group is None:
                raise reader.error("AK9 without an AK1 before it")
            return ImplementationAck(
                **group,  # type: ignore[arg-type]
                status=element(seg, 1),
                sets_included=parse_count(element(seg, 2), reader, "AK902"),
                sets_received=parse_count(element(seg, 3), reader, "AK903"),
                sets_accepted=parse_count(element(seg, 4), reader, "AK904"),
                transaction_sets=tuple(sets),
                error_codes=tuple(e for e in seg[5:10] if e),
                envelope=envelope,
            )
        else:
            raise reader.error(f"segment {tag} has no place in a 999")
    raise reader.error("a 999 ends without AK9")
