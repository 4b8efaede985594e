"""read_837's memos of whole segment texts: repeated texts read the same as fresh ones.

The claim loop remembers SV1/SV2, a line's DTP and HI texts (and what a claim takes from them
and from CLM03-11) after reading them once without a problem. These tests repeat texts, good
and bad, claim after claim, and check that every claim reads as if it were alone: same values,
and a bad text reported at its own segment every time it occurs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from edi.claim import Claim, Procedure, ServiceLine
from edi.envelope import EnvelopeParams
from edi.errors import X12SyntaxError
from edi.read_837 import UnreadableClaim, _Reader, read_837
from edi.write_837 import build_837
from edi.x12 import Delimiters, SegmentReader
from tests.unit.claims import INSTITUTIONAL_SHAPES, professional
from tests.unit.strategies import canonical

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=1,
    group_control_number=1,
    transaction_control_number=1,
    created=datetime(2026, 11, 3, 10, 0),
)


def _claims(n: int) -> list[Claim]:
    """Claims whose SV1, DTP and HI texts repeat; control numbers and charges differ."""
    base = professional()
    out = []
    for i in range(n):
        lines = tuple(
            ServiceLine(
                charge=Decimal("75.00"),
                units=Decimal("1"),
                service_date=date(2026, 11, 2),
                procedure=Procedure("99213", modifiers=("25",) if k else ()),
                diagnosis_pointers=(1,),
                line_control_number=f"L{i}-{k}",
            )
            for k in range(1 + i % 2)
        )
        out.append(
            replace(
                base,
                patient_control_number=f"P{i}",
                total_charge=Decimal("75.00") * len(lines),
                service_lines=lines,
            )
        )
    return out


def _segments(text: str) -> list[str]:
    return [s for s in text.split("~") if s]


def _locate(text: str, item: UnreadableClaim) -> str:
    """The segment an unreadable claim names, checked against its number and offset."""
    seg = _segments(text)[item.segment_number - 1]
    assert seg.startswith(item.segment_id)
    assert text[item.offset :].startswith(seg)
    return seg


def test_repeated_texts_read_the_same_as_fresh_ones() -> None:
    claims = _claims(8)
    text = build_837(claims, PARAMS)
    assert list(read_837(text)) == [canonical(c) for c in claims]
    # Read alone, each claim gives the same value as inside the run of repeated texts.
    assert [next(read_837(build_837([c], PARAMS))) for c in claims] == list(read_837(text))


def test_a_repeated_bad_line_date_is_reported_at_each_segment() -> None:
    text = build_837(_claims(4), PARAMS).replace("DTP*472*D8*20261102", "DTP*472*D8*20261340")
    items = list(read_837(text))
    assert all(isinstance(i, UnreadableClaim) for i in items)
    numbers = set()
    for item in items:
        assert isinstance(item, UnreadableClaim)
        assert item.segment_id == "DTP" and "month" in item.message
        assert _locate(text, item) == "DTP*472*D8*20261340"
        numbers.add(item.segment_number)
    assert len(numbers) == 4  # the first bad DTP of each claim, not one remembered place


def test_a_bad_text_after_the_same_good_one_is_still_bad() -> None:
    claims = _claims(3)
    text = build_837(claims, PARAMS)
    segs = _segments(text)
    # The third claim's first line date is not a date; the first two read it as good text.
    third = segs.index(next(s for s in segs if s.startswith("CLM*P2*")))
    dtp = next(i for i in range(third, len(segs)) if segs[i].startswith("DTP*472"))
    segs[dtp] = "DTP*472*D8*2026110"
    text = "~".join(segs) + "~"
    first, second, bad = read_837(text)
    assert [first, second] == [canonical(c) for c in claims[:2]]
    assert isinstance(bad, UnreadableClaim) and bad.patient_control_number == "P2"
    assert bad.segment_number == dtp + 1 and "CCYYMMDD" in bad.message
    _locate(text, bad)


def test_a_repeated_bad_pointer_and_hi_are_reported_at_each_segment() -> None:
    text = build_837(_claims(3), PARAMS)
    for old, new, seg_id in (
        ("*UN*1***1~", "*UN*1***13~", "SV1"),
        ("HI*ABK:J209", "HI*ABK", "HI"),
    ):
        bad_text = text.replace(old, new)
        items = list(read_837(bad_text))
        assert len(items) == 3
        places = set()
        for item in items:
            assert isinstance(item, UnreadableClaim) and item.segment_id == seg_id, item
            _locate(bad_text, item)
            places.add(item.segment_number)
        assert len(places) == 3


def test_a_line_ref_without_value_and_other_refs_in_a_line() -> None:
    text = build_837(_claims(2), PARAMS)
    text = text.replace("REF*6R*L0-0~", "REF*6R~").replace("REF*6R*L1-0~", "REF*6R*L1-0~REF*EA*X~")
    first, second = read_837(text)
    assert isinstance(first, Claim) and isinstance(second, Claim)
    assert first.service_lines[0].line_control_number == ""
    assert second.service_lines[0].line_control_number == "L1-0"


def test_same_texts_under_other_delimiters_in_one_stream() -> None:
    claims = _claims(3)
    other = replace(PARAMS, delimiters=Delimiters("|", ">", "!", "\n"))
    text = build_837(claims, PARAMS) + build_837(claims, other) + build_837(claims, PARAMS)
    assert list(read_837(text)) == [canonical(c) for c in claims] * 3


def test_texts_remembered_under_another_component_separator_are_read_again() -> None:
    claims = _claims(2)
    other = replace(PARAMS, delimiters=Delimiters("*", ">", "^", "~"))
    # Written with ":" composites but declared with ">" (ISA16): HI and SV107 are wrong there,
    # though their texts are those read without a problem in the first interchange.
    second = build_837(claims, other).replace(">", ":")
    isa_end = second.index("~") + 1
    second = second[: isa_end - 2] + ">" + second[isa_end - 1 :]
    text = build_837(claims, PARAMS) + second
    items = list(read_837(text))
    assert items[:2] == [canonical(c) for c in claims]
    for item in items[2:]:
        assert isinstance(item, UnreadableClaim) and item.segment_id == "HI", item
        _locate(text, item)
    assert len(items) == 4


def test_professional_then_institutional_in_one_stream() -> None:
    inst = INSTITUTIONAL_SHAPES["minimal"]
    claims = _claims(2)
    text = build_837(claims, PARAMS) + build_837([inst, inst], PARAMS) + build_837(claims, PARAMS)
    expected = [canonical(c) for c in claims] + [canonical(inst)] * 2
    assert list(read_837(text)) == expected + expected[:2]


def test_chunk_boundaries_and_locations_after_remembered_segments() -> None:
    claims = _claims(6)
    text = build_837(claims, PARAMS)
    for size in (50, 97, 1000):
        got = list(_Reader(SegmentReader(text, chunk_size=size)).claims())
        assert got == [canonical(c) for c in claims]
    # The interchange after one read mostly from memos: a broken ISA is located exactly.
    second = build_837(claims[:1], PARAMS).replace("ISA*00*", "ISA*00", 1)
    try:
        list(read_837(text + second))
    except X12SyntaxError as exc:
        assert exc.segment_number == len(_segments(text)) + 1
        assert exc.offset == len(text)
    else:
        raise AssertionError("a broken ISA was read")
    # A stream cut off after a remembered DTP: the unterminated tail is the next segment.
    cut = text[: text.rindex("DTP*472")]
    cut = cut[: cut.index("~", cut.rindex("DTP*472")) + 1] + "REF*6R*L9"
    try:
        list(read_837(cut))
    except X12SyntaxError as exc:
        assert "terminator" in exc.message
        assert exc.segment_number == len(_segments(cut))
        assert exc.offset == cut.rindex("REF*6R*L9")
    else:
        raise AssertionError("a segment without terminator was read")


def test_claims_under_a_new_subscriber_take_the_new_loop_objects() -> None:
    claims = _claims(4)
    moved = [
        c if i < 2 else replace(c, subscriber=replace(c.subscriber, member_id="OTHER"))
        for i, c in enumerate(claims)
    ]
    items = list(read_837(build_837(moved, PARAMS)))
    assert items == [canonical(c) for c in moved]
    assert [c.subscriber.member_id for c in items] == [  # type: ignore[union-attr]
        claims[0].subscriber.member_id,
        claims[0].subscriber.member_id,
        "OTHER",
        "OTHER",
    ]
