"""build_999 and build_ta1: acknowledgment values -> X12 text, and a 999 from a pyx12 report.

    ISA TA1 IEA*0                                   build_ta1 (an interchange holding only TA1s)
    ISA GS*FA ST*999 AK1 (AK2 (IK3 CTX (IK4 CTX)) IK5) AK9 SE GE IEA   build_999

Control numbers are always the caller's (pyx12's own come from the clock and can collide).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import IO

from edi.ack import (
    ACK_VERSION,
    ElementError,
    ErrorContext,
    ImplementationAck,
    InterchangeAck,
    SegmentError,
    TransactionSetAck,
)
from edi.envelope import EnvelopeParams, wrap
from edi.errors import X12ValueError
from edi.validate import ValidationIssue, ValidationReport
from edi.x12 import SegmentReader, SegmentWriter, check_value


def _n(value: int | None) -> str:
    return "" if value is None else str(value)


def _ctx(w: SegmentWriter, c: ErrorContext) -> None:
    w.seg(
        (
            "CTX",
            (c.name, c.reference or ""),
            c.segment_id or "",
            _n(c.segment_position),
            c.loop_id or "",
            (_n(c.element_position), _n(c.component_position), _n(c.repeat_position)),
            c.element_reference or "",
        ),
        ("name", "segment_id", "segment_position", "loop_id", "element_position", "reference"),
    )


def _set(w: SegmentWriter, s: TransactionSetAck) -> None:
    w.seg(("AK2", s.transaction_set_id, s.control_number, s.version or ""))
    for err in s.errors:
        w.seg(("IK3", err.segment_id, str(err.position), err.loop_id or "", err.code))
        for ctx in err.contexts:
            _ctx(w, ctx)
        for el in err.elements:
            w.seg(
                (
                    "IK4",
                    (str(el.position), _n(el.component_position), _n(el.repeat_position)),
                    el.data_element or "",
                    el.code,
                    el.bad_value or "",
                ),
                ("position", "data_element", "code", "bad_value"),
            )
            for ctx in el.contexts:
                _ctx(w, ctx)
    if len(s.error_codes) > 5:
        raise X12ValueError("error_codes", s.error_codes, "IK5 holds at most 5 error codes")
    w.seg(("IK5", s.status, *s.error_codes))


def build_999(acks: Sequence[ImplementationAck], params: EnvelopeParams) -> str:
    """One interchange, one FA group, one 999 transaction set per acked functional group."""
    if not acks:
        raise X12ValueError("acks", acks, "a 999 interchange needs at least one acknowledgment")
    bodies = []
    for i, ack in enumerate(acks):
        w = SegmentWriter(params.delimiters, newline=params.newline)
        try:
            w.seg(("AK1", ack.functional_id, str(ack.group_control_number), ack.version or ""))
            for j, s in enumerate(ack.transaction_sets):
                try:
                    _set(w, s)
                except X12ValueError as exc:
                    raise X12ValueError(
                        f"transaction_sets[{j}].{exc.field}", exc.value, exc.reason
                    ) from None
            if len(ack.error_codes) > 5:
                raise X12ValueError("error_codes", ack.error_codes, "AK9 holds at most 5 codes")
            w.seg(
                (
                    "AK9",
                    ack.status,
                    str(ack.sets_included),
                    str(ack.sets_received),
                    str(ack.sets_accepted),
                    *ack.error_codes,
                )
            )
        except X12ValueError as exc:
            raise X12ValueError(f"acks[{i}].{exc.field}", exc.value, exc.reason) from None
        bodies.append(w.parts)
    return wrap(
        params, functional_id="FA", version=ACK_VERSION, transaction_set_id="999", bodies=bodies
    )


def build_ta1(acks: Sequence[InterchangeAck], params: EnvelopeParams) -> str:
    """An interchange holding only TA1 segments (ISA, TA1..., IEA with 0 groups).

    The ISA comes from envelope.wrap, so it is formatted in exactly one place; the group it
    also writes is dropped, since a TA1-only interchange has none.
    """
    if not acks:
        raise X12ValueError("acks", acks, "a TA1 interchange needs at least one TA1")
    d = params.delimiters
    probe = wrap(
        params, functional_id="FA", version=ACK_VERSION, transaction_set_id="999", bodies=[[]]
    )
    isa = probe[: probe.index(d.segment) + 1] + ("\n" if params.newline else "")
    w = SegmentWriter(d, newline=params.newline)
    for i, ack in enumerate(acks):
        if not 0 <= ack.control_number <= 999_999_999:
            raise X12ValueError(f"acks[{i}].control_number", ack.control_number, "0..999999999")
        w.seg(
            (
                "TA1",
                f"{ack.control_number:09d}",
                ack.date.strftime("%y%m%d"),
                ack.time.strftime("%H%M"),
                ack.status,
                ack.note_code,
            ),
            ("control_number", "date", "time", "status", "note_code"),
        )
    w.seg(("IEA", "0", f"{params.interchange_control_number:09d}"))
    return isa + w.text()


# --- From a pyx12 validation report -------------------------------------------------------


@dataclass
class _SetSpan:
    st: list[str]
    first: int  # segment number of ST
    last: int = 1 << 62  # segment number of SE
    issues: list[ValidationIssue] = field(default_factory=list)


@dataclass
class _GroupSpan:
    gs: list[str]
    first: int
    last: int = 1 << 62
    sets_included: int | None = None  # GE01
    sets: list[_SetSpan] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)


def _spans(original: str | IO[str]) -> list[_GroupSpan]:
    reader = SegmentReader(original)
    groups: list[_GroupSpan] = []
    for seg in reader:
        tag, n = seg[0], reader.segment_number
        if tag == "GS":
            groups.append(_GroupSpan(seg, n))
        elif tag == "ST" and groups:
            groups[-1].sets.append(_SetSpan(seg, n))
        elif tag == "SE" and groups and groups[-1].sets:
            groups[-1].sets[-1].last = n
        elif tag == "GE" and groups:
            groups[-1].last = n
            if seg[1:2] and seg[1].isdigit():
                groups[-1].sets_included = int(seg[1])
    return groups


def _safe(value: str | None, params: EnvelopeParams) -> str | None:
    """A bad-value copy (IK404) only when it can be written: the bad value may hold the very
    character that made it bad."""
    if not value:
        return None
    value = value[:99]
    try:
        return check_value(value, "bad_value", params.delimiters)
    except X12ValueError:
        return None


def _loop_id(name: str | None) -> str | None:
    """IK303 is 1-4 characters: pyx12's loop names become the numeric loop id ("2010BA" ->
    "2010"); its table names (HEADER, DETAIL) have no loop id and are left out."""
    if not name or not name[:4].isdigit():
        return None
    return name[:4]


def _set_ack(span: _SetSpan, params: EnvelopeParams) -> TransactionSetAck:
    by_segment: dict[int, list[ValidationIssue]] = {}
    set_codes: list[str] = []
    for issue in span.issues:
        if issue.level in ("segment", "element") and issue.segment_number is not None:
            by_segment.setdefault(issue.segment_number, []).append(issue)
        elif issue.level == "transaction" and issue.code not in set_codes:
            set_codes.append(issue.code)
    errors: list[SegmentError] = []
    for number in sorted(by_segment):
        issues = by_segment[number]
        first = issues[0]
        position = first.position_in_set or (number - span.first + 1)
        seg_id = first.segment_id or ""
        for issue in issues:
            if issue.level == "segment":
                errors.append(SegmentError(seg_id, position, issue.code, _loop_id(first.loop)))
        elements = tuple(
            ElementError(
                position=issue.element_position or 1,
                code=issue.code,
                component_position=issue.component_position,
                bad_value=_safe(issue.value, params),
            )
            for issue in issues
            if issue.level == "element"
        )
        if elements:
            errors.append(
                SegmentError(seg_id, position, "8", _loop_id(first.loop), elements=elements)
            )
    rejected = bool(errors or set_codes)
    if rejected and errors and "5" not in set_codes:
        set_codes.append("5")  # one or more segments in error
    return TransactionSetAck(
        transaction_set_id=span.st[1] if len(span.st) > 1 else "",
        control_number=span.st[2] if len(span.st) > 2 else "",
        status="R" if rejected else "A",
        version=(span.st[3] or None) if len(span.st) > 3 else None,
        errors=tuple(errors),
        error_codes=tuple(set_codes[:5]),
    )


def ack_from_report(
    original: str | IO[str], report: ValidationReport, params: EnvelopeParams
) -> tuple[ImplementationAck, ...]:
    """One ImplementationAck per functional group of `original` (its text, or a stream read
    once), from edi.validate's report.

    Every issue is placed in the set whose ST..SE holds its segment; a set with any issue is
    rejected (R), the group is A, P (some sets rejected) or R. Interchange-level issues belong
    in a TA1 (see ta1_from_report), not here. `params` gives the delimiters the 999 will use.
    """
    groups = _spans(original)
    for issue in report.issues:
        n = issue.segment_number
        if n is None or issue.level == "interchange":
            continue
        group = next((g for g in groups if g.first <= n <= g.last), None)
        if group is None:
            continue
        span = next((s for s in group.sets if s.first <= n <= s.last), None)
        if span is not None and issue.level != "group":
            span.issues.append(issue)
        elif issue.level == "group":
            group.issues.append(issue)
    acks = []
    for g in groups:
        sets = tuple(_set_ack(s, params) for s in g.sets)
        accepted = sum(1 for s in sets if s.accepted)
        codes = tuple(dict.fromkeys(i.code for i in g.issues))[:5]
        if codes or accepted == 0:
            status = "R"
        elif accepted < len(sets):
            status = "P"
        else:
            status = "A"
        acks.append(
            ImplementationAck(
                functional_id=g.gs[1] if len(g.gs) > 1 else "",
                group_control_number=int(g.gs[6]) if len(g.gs) > 6 and g.gs[6].isdigit() else 0,
                status=status,
                sets_included=g.sets_included if g.sets_included is not None else len(sets),
                sets_received=len(sets),
                sets_accepted=accepted,
                version=(g.gs[8] or None) if len(g.gs) > 8 else None,
                transaction_sets=sets,
                error_codes=codes,
            )
        )
    return tuple(acks)


def ta1_from_report(
    original: str | IO[str], report: ValidationReport
) -> tuple[InterchangeAck, ...]:
    """One TA1 per interchange of `original`: R with the first interchange-level issue's code
    (a TA105 note code), else A with 000."""
    reader = SegmentReader(original)
    isas = [(reader.segment_number, s) for s in reader if s[0] == "ISA"]
    out = []
    for i, (start, isa) in enumerate(isas):
        end = isas[i + 1][0] if i + 1 < len(isas) else 1 << 62
        # An issue located nowhere (pyx12 could not read the file at all) rejects every one.
        codes = [
            x.code or "024"
            for x in report.issues
            if x.level == "interchange"
            and (x.segment_number is None or start <= x.segment_number < end)
        ]
        out.append(
            InterchangeAck(
                control_number=int(isa[13]) if isa[13].isdigit() else 0,
                date=_isa_date(isa[9]),
                time=_isa_time(isa[10]),
                status="R" if codes else "A",
                note_code=codes[0].zfill(3) if codes else "000",
            )
        )
    return tuple(out)


def _isa_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        return date(1970, 1, 1)  # unreadable ISA09: pyx12 reports it; the TA1 still goes out


def _isa_time(text: str) -> time:
    try:
        return datetime.strptime(text, "%H%M").time()
    except ValueError:
        return time(0, 0)
