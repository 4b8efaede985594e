"""Tokenizer, writer and envelope: delimiters from ISA, streaming, refusing bad values."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.envelope import EnvelopeParams, wrap
from edi.errors import X12SyntaxError, X12ValueError
from edi.x12 import ISA_LENGTH, Delimiters, SegmentReader, SegmentWriter, check_value, parse_isa

PARAMS = EnvelopeParams(
    sender_id="SENDER",
    receiver_id="RECEIVER",
    interchange_control_number=905,
    group_control_number=12,
    transaction_control_number=1,
    created=datetime(2026, 11, 2, 9, 30),
)


def _interchange(params: EnvelopeParams = PARAMS, bodies: int = 1) -> str:
    w = SegmentWriter(params.delimiters)
    w.seg(("BHT", "0019", "00", "REF1", "20261102", "0930", "CH"))
    w.seg(("NM1", "41", "2", "NAME WITH SPACE", "", "", "", "", "46", "ID1"))
    return wrap(
        params,
        functional_id="HC",
        version="005010X222A1",
        transaction_set_id="837",
        bodies=[w.parts] * bodies,
    )


def test_isa_is_fixed_width_and_counts_are_computed() -> None:
    text = _interchange(bodies=2)
    isa = text[: text.index("~") + 1]
    assert len(isa) == ISA_LENGTH
    segments = list(SegmentReader(text))
    ids = [s[0] for s in segments]
    assert ids == ["ISA", "GS", "ST", "BHT", "NM1", "SE", "ST", "BHT", "NM1", "SE", "GE", "IEA"]
    assert segments[5] == ["SE", "4", "0001"]
    assert segments[9] == ["SE", "4", "0002"]
    assert segments[10] == ["GE", "2", "12"]
    assert segments[11] == ["IEA", "1", "000000905"]
    assert segments[0][13] == "000000905" and segments[0][15] == "T"
    assert segments[1][6] == "12"


@pytest.mark.parametrize(
    "delims",
    [
        Delimiters(),
        Delimiters("|", "^", "{", "\n"),
        Delimiters("~", "^", "!", "_"),
        Delimiters("\x1d", "\x1f", "\x1c", "\x1e"),
    ],
)
@pytest.mark.parametrize("newline", [False, True])
def test_any_legal_delimiters_round_trip(delims: Delimiters, newline: bool) -> None:
    params = EnvelopeParams(
        sender_id="S",
        receiver_id="R",
        interchange_control_number=1,
        group_control_number=1,
        transaction_control_number=1,
        created=datetime(2026, 1, 1),
        delimiters=delims,
        newline=newline and delims.segment != "\n",
    )
    text = _interchange(params)
    found, length = parse_isa(text)
    assert found == delims and length == ISA_LENGTH
    reader = SegmentReader(text)
    segments = list(reader)
    assert reader.delimiters == delims
    assert segments[4] == ["NM1", "41", "2", "NAME WITH SPACE", "", "", "", "", "46", "ID1"]


def test_crlf_between_segments_and_offsets() -> None:
    text = _interchange().replace("~", "~\r\n")
    reader = SegmentReader(io.BytesIO(text.encode()), chunk_size=7)
    seen = []
    for seg in reader:
        seen.append((seg[0], reader.segment_number, reader.offset))
    assert [s[0] for s in seen][:3] == ["ISA", "GS", "ST"]
    for seg_id, _, offset in seen:
        assert text[offset : offset + len(seg_id)] == seg_id


def test_several_interchanges_with_different_delimiters() -> None:
    other = EnvelopeParams(
        sender_id="S2",
        receiver_id="R2",
        interchange_control_number=2,
        group_control_number=2,
        transaction_control_number=1,
        created=datetime(2026, 1, 1),
        delimiters=Delimiters("|", "^", "{", "!"),
    )
    text = _interchange() + "\n" + _interchange(other)
    for chunk in (5, 100, 1 << 20):
        segments = list(SegmentReader(io.StringIO(text), chunk_size=chunk))
        assert [s[0] for s in segments].count("ISA") == 2
        assert segments[-1] == ["IEA", "1", "000000002"]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=97))
def test_chunk_boundaries_do_not_matter(chunk: int) -> None:
    text = _interchange(bodies=3)
    assert list(SegmentReader(io.StringIO(text), chunk_size=chunk)) == list(SegmentReader(text))


def test_missing_isa_and_missing_terminator_name_the_segment() -> None:
    with pytest.raises(X12SyntaxError) as exc:
        list(SegmentReader("GS*HC*A~"))
    assert exc.value.segment_id == "GS" and exc.value.offset == 0
    # Cut short after GE: the end of the stream ends only an IEA.
    text = _interchange()
    cut = text[: text.index("~IEA")]
    with pytest.raises(X12SyntaxError, match="no segment terminator") as exc:
        list(SegmentReader(cut + "\r\n"))
    assert exc.value.segment_id == "GE"
    assert cut[exc.value.offset :].startswith("GE*")
    with pytest.raises(X12SyntaxError, match="16 elements"):
        list(SegmentReader("ISA*00*short~"))


def test_invalid_utf8_is_a_syntax_error() -> None:
    with pytest.raises(X12SyntaxError, match="UTF-8"):
        list(SegmentReader(io.BytesIO(_interchange().encode() + b"\xff\xfe")))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("A*B", "delimiter '*'"),
        ("A:B", "delimiter ':'"),
        ("A~B", "delimiter '~'"),
        ("A^B", "delimiter '^'"),
        ("CAFÉ", "outside the X12 extended character set"),
        ("TAB\tX", "outside the X12 extended character set"),
    ],
)
def test_writer_refuses_delimiters_and_foreign_characters(value: str, reason: str) -> None:
    w = SegmentWriter()
    with pytest.raises(X12ValueError, match=re.escape(reason)) as exc:
        w.seg(("NM1", "IL", "1", value), ("entity", "kind", "subscriber.last_name"))
    assert exc.value.field == "subscriber.last_name (NM103)"
    assert exc.value.value == value
    with pytest.raises(X12ValueError) as exc:
        w.seg(("SV1", ("HC", value)), ("line.procedure",))
    assert exc.value.field == "line.procedure (SV101-2)"
    assert check_value("lower case & [ok] #1 @2 $3 %4 {5} |6| <7> `8` \\9", "f")


def test_writer_trims_trailing_empty_elements_and_components() -> None:
    w = SegmentWriter()
    w.seg(("SV1", ("HC", "99213", "", ""), "10", "", ""))
    assert w.text() == "SV1*HC:99213*10~"


def test_envelope_refuses_bad_parameters() -> None:
    from dataclasses import replace

    with pytest.raises(X12ValueError, match="control number"):
        _interchange(replace(PARAMS, interchange_control_number=0))
    with pytest.raises(X12ValueError, match=r"1\.\.15"):
        _interchange(replace(PARAMS, sender_id="X" * 16))
    with pytest.raises(X12ValueError, match="delimiter"):
        _interchange(replace(PARAMS, receiver_id="A*B"))
    with pytest.raises(X12ValueError, match="differ"):
        Delimiters("*", "*", "^", "~")


def test_isa_elements_reads_the_header_or_nothing() -> None:
    from edi.x12 import isa_elements

    isa = "ISA|00|          |00|          |ZZ|SENDER         |ZZ|RECEIVER       |261120|0930|^|00501|000000042|0|T|>~GS|HC"
    elements = isa_elements(isa)
    assert elements is not None
    assert (elements[6], elements[13], elements[15], elements[16]) == (
        "SENDER",
        "000000042",
        "T",
        ">",
    )
    assert isa_elements("hello world") is None
    assert isa_elements("ISA*00*short") is None


def test_head_segments_gives_whole_segments_only() -> None:
    from edi.x12 import head_segments

    text = _interchange()
    segments = head_segments(text, 3)
    assert [s[0] for s in segments] == ["ISA", "GS", "ST"]
    assert segments[0][6] == segments[0][6].strip()  # ISA blanks trimmed
    cut = text[: text.index("~ST") + 5]  # stops inside ST
    assert [s[0] for s in head_segments(cut, 5)] == ["ISA", "GS"]
    assert [s[0] for s in head_segments(text.replace("~", "~\r\n"), 2)] == ["ISA", "GS"]
    assert head_segments("not x12", 3) == []


# --- Files as other systems write them ----------------------------------------------------------

LOOSE_GAPS = ["\r\n", "\n", "\r\n    ", " ", "\t", "\n\t  \r\n", "  \r\n\r\n "]


@pytest.mark.parametrize("gap", LOOSE_GAPS)
@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_a_bom_and_blanks_between_segments_are_skipped(gap: str, chunk: int) -> None:
    text = _interchange(bodies=2)
    loose = "\ufeff" + gap + text.replace("~", "~" + gap)
    reader = SegmentReader(io.BytesIO(loose.encode()), chunk_size=chunk)
    seen = []
    for segment in reader:
        seen.append(segment)
        # Located at the segment id itself, past the blanks.
        assert loose[reader.offset :].startswith(segment[0] + "*")
    assert seen == list(SegmentReader(text))
    assert not reader.unterminated


def test_a_newline_terminator_is_not_a_blank_but_what_follows_it_is() -> None:
    params = EnvelopeParams(
        sender_id="S",
        receiver_id="R",
        interchange_control_number=1,
        group_control_number=1,
        transaction_control_number=1,
        created=datetime(2026, 1, 1),
        delimiters=Delimiters("|", "^", "{", "\n"),
    )
    text = _interchange(params)
    indented = text.replace("\n", "\n  \t")
    assert list(SegmentReader(indented)) == list(SegmentReader(text))
    # Blank lines are empty segments, dropped as ever.
    assert list(SegmentReader(text.replace("\n", "\n\n"))) == list(SegmentReader(text))


@pytest.mark.parametrize("gap", ["", "\r\n  "])
def test_an_iea_without_its_terminator_ends_the_stream(gap: str) -> None:
    text = _interchange().replace("~", "~" + gap)
    cut = text.rstrip().removesuffix("~")
    for chunk in (5, 1 << 20):
        reader = SegmentReader(io.StringIO(cut + "\r\n"), chunk_size=chunk)
        segments = list(reader)
        assert segments == list(SegmentReader(text))
        assert reader.unterminated
        assert cut[reader.offset :].startswith("IEA*1*")


def test_the_header_is_read_after_a_bom_and_blanks() -> None:
    from edi.x12 import head_segments, isa_elements

    text = "\ufeff \r\n" + _interchange().replace("~", "~\r\n    ")
    segments = head_segments(text, 4)
    assert [s[0] for s in segments] == ["ISA", "GS", "ST", "BHT"]
    assert segments[1] == ["GS", *_interchange().split("~")[1].split("*")[1:]]
    elements = isa_elements(text)
    assert elements is not None and elements[13] == "000000905"
