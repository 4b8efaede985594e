"""The fast paths of the 837 writer and reader give what the plain paths give.

build_837 writes each claim as one `SegmentWriter.batch` (values checked with one search at
the end); these tests compare it with the element-by-element path and check that a refused
value is still caught and named when the batch is taken. read_837 memoizes values by their
text, builds Claim and ServiceLine through their slots, and SegmentReader locates segments
only when asked; these tests check errors, separators and locations on those paths.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.claim import Claim, Diagnosis, Procedure
from edi.envelope import EnvelopeParams
from edi.errors import X12ValueError
from edi.write_837 import build_837
from edi.x12 import Delimiters, SegmentReader, SegmentWriter
from tests.unit.claims import (
    INSTITUTIONAL_SHAPES,
    PATIENT,
    PROFESSIONAL_SHAPES,
    SUBSCRIBER,
    professional,
)
from tests.unit.strategies import claims
from tests.unit.writers import written_checked

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=1,
    group_control_number=1,
    transaction_control_number=1,
    created=datetime(2026, 11, 3, 10, 0),
)
SHAPES = [*PROFESSIONAL_SHAPES.values(), *INSTITUTIONAL_SHAPES.values()]


def _build_checked(
    monkeypatch: pytest.MonkeyPatch, claims_: list[Claim], params: EnvelopeParams
) -> str:
    """build_837 with every element checked as it is written (no batches)."""
    return written_checked(build_837, claims_, params)


@pytest.mark.parametrize(
    "delims",
    [Delimiters(), Delimiters("|", ">", "!", "\n"), Delimiters("\x1d", "\x1f", "\x1c", "\x1e")],
)
@pytest.mark.parametrize("newline", [False, True])
def test_batched_text_equals_checked_text(
    monkeypatch: pytest.MonkeyPatch, delims: Delimiters, newline: bool
) -> None:
    params = replace(PARAMS, delimiters=delims, newline=newline and delims.segment != "\n")
    for claim in SHAPES:
        assert build_837([claim], params) == _build_checked(monkeypatch, [claim], params)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim=claims("professional"))
def test_batched_text_equals_checked_text_for_drawn_claims(claim: Claim) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert build_837([claim], PARAMS) == _build_checked(monkeypatch, [claim], PARAMS)


@pytest.mark.parametrize(
    ("claim", "field", "reason"),
    [
        (
            professional(subscriber=replace(SUBSCRIBER, first_name="AL*X")),
            "claims[1].subscriber.first_name (NM104)",
            "delimiter '*'",
        ),
        (
            professional(patient=replace(PATIENT, last_name="TEST\tPERSON")),
            "claims[1].patient.last_name (NM103)",
            "extended character set",
        ),
        (
            professional(
                service_lines=(
                    professional().service_lines[0],
                    replace(
                        professional().service_lines[0],
                        procedure=Procedure("99213", modifiers=("25", "A~")),
                    ),
                )
            ),
            "claims[1].service_lines[1].procedure (SV101-4)",
            "delimiter '~'",
        ),
        (
            # A trailing separator would vanish if only the joined text were checked.
            professional(
                service_lines=(replace(professional().service_lines[0], unit_type="UN*"),)
            ),
            "claims[1].service_lines[0].unit_type (SV103)",
            "delimiter '*'",
        ),
        (
            # The last part of a composite ending with the component separator.
            professional(
                service_lines=(
                    replace(
                        professional().service_lines[0],
                        procedure=Procedure("99213", modifiers=("25", "59:")),
                    ),
                )
            ),
            "claims[1].service_lines[0].procedure (SV101-4)",
            "delimiter ':'",
        ),
        (
            professional(diagnoses=(Diagnosis("J2:0"),)),
            "claims[1].diagnoses[0].code (HI01-2)",
            "delimiter ':'",
        ),
        (
            professional(patient_control_number="P:1"),
            "claims[1].patient_control_number (CLM01)",
            "delimiter ':'",
        ),
    ],
)
def test_a_bad_value_in_a_batched_claim_is_named(claim: Claim, field: str, reason: str) -> None:
    good = professional(patient_control_number="GOOD")
    with pytest.raises(X12ValueError, match=re.escape(reason)) as exc:
        build_837([good, claim, good], PARAMS)
    assert exc.value.field == field


def test_batch_rewrites_a_refused_group_checked_and_names_the_field() -> None:
    w = SegmentWriter()
    w.seg(("LX", "1"))

    def write(w: SegmentWriter, value: str) -> None:
        w.flat(("REF", "6R", "OK"), ("", "line_control_number"))
        w.seg(("SV1", ("HC", value), "1"), ("procedure", "charge"))

    w.batch(write, "99213")
    assert w.text() == "LX*1~REF*6R*OK~SV1*HC:99213*1~" and w.count == 3
    with pytest.raises(X12ValueError) as exc:
        w.batch(write, "9^9")
    assert exc.value.field == "procedure (SV101-2)"
    # The unchecked segments were dropped; left is what the checked path writes before failing.
    assert w.text() == "LX*1~REF*6R*OK~SV1*HC:99213*1~REF*6R*OK~" and w.count == 4


def test_flat_outside_a_batch_checks_each_element() -> None:
    w = SegmentWriter()
    with pytest.raises(X12ValueError) as exc:
        w.flat(("REF", "6R", "A*B"), ("", "line_control_number"))
    assert exc.value.field == "line_control_number (REF02)"
    w.flat(("DTP", "472", "D8", "20261102", "", ""))
    assert w.text() == "DTP*472*D8*20261102~"


def test_clean_claims_are_written_once_and_a_bad_one_again_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import edi.write_837 as write_837

    calls: list[str] = []
    real = write_837._claim

    def spy(w: SegmentWriter, c: Claim, professional: bool) -> None:
        calls.append(c.patient_control_number)
        real(w, c, professional)

    monkeypatch.setattr(write_837, "_claim", spy)
    build_837([professional(patient_control_number=f"P{i}") for i in range(3)], PARAMS)
    assert calls == ["P0", "P1", "P2"]
    calls.clear()
    bad = professional(patient_control_number="P~1")
    with pytest.raises(X12ValueError):
        build_837([professional(patient_control_number="P0"), bad], PARAMS)
    assert calls == ["P0", "P~1", "P~1"]


# --- reader ------------------------------------------------------------------------------


def test_fast_constructor_builds_the_same_objects() -> None:
    from dataclasses import dataclass, fields

    from edi.read_837 import _constructor

    for claim in SHAPES:
        for obj in (claim, *claim.service_lines):
            cls = type(obj)
            values = [getattr(obj, f.name) for f in fields(cls)]
            made = _constructor(cls)(*values)
            assert type(made) is cls
            assert made == obj and hash(made) == hash(obj) and repr(made) == repr(obj)
    with pytest.raises(TypeError, match="takes"):
        _constructor(Procedure)("99213")

    @dataclass(slots=True)
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="frozen"):
        _constructor(Mutable)


def test_a_bad_value_is_reported_each_time_it_occurs() -> None:
    # Values are memoized by their text; a failure is not, so every claim holding it is caught.
    from edi.read_837 import UnreadableClaim, read_837

    text = build_837([professional(patient_control_number=f"P{i}") for i in range(4)], PARAMS)
    text = text.replace("*20261102~", "*20261302~")
    items = list(read_837(text))
    assert len(items) == 4
    assert all(isinstance(i, UnreadableClaim) and i.segment_id == "DTP" for i in items)
    offsets = [i.offset for i in items]
    assert len(set(offsets)) == 4
    assert all(text[o:].startswith("DTP*472*D8*20261302~") for o in offsets)


def test_memoized_composites_follow_each_interchanges_separator() -> None:
    from edi.read_837 import read_837
    from tests.unit.strategies import canonical

    def with_procedure(procedure: Procedure) -> Claim:
        line = replace(professional().service_lines[0], procedure=procedure)
        return professional(service_lines=(line,))

    # The same SV101 text, "HC:99213>25", means different procedures under ":" and ">".
    first = with_procedure(Procedure("99213>25"))
    second = with_procedure(Procedure("25", qualifier="HC:99213"))
    a = build_837([first], PARAMS)
    b = build_837([second], replace(PARAMS, delimiters=Delimiters("|", ">", "!", "\n")))
    assert "SV1*HC:99213>25*" in a and "SV1|HC:99213>25|" in b
    assert list(read_837(a + b + a)) == [canonical(first), canonical(second), canonical(first)]


def _reference_locations(text: str) -> list[tuple[str, int, int]]:
    """(id, number, offset) of each segment, worked out the slow way (one delimiter set)."""
    out = []
    pos = 0
    for raw in text.split("~")[:-1]:
        start = pos + len(raw) - len(raw.lstrip("\r\n"))
        pos += len(raw) + 1
        if raw.strip("\r\n"):
            out.append((raw.strip("\r\n").split("*")[0], len(out) + 1, start))
    return out


@settings(max_examples=40, deadline=None)
@given(
    breaks=st.lists(st.sampled_from(["", "\n", "\r\n", "~", "\r\n~\n"]), min_size=1),
    chunk=st.integers(min_value=1, max_value=300),
)
def test_segment_locations_are_worked_out_right(breaks: list[str], chunk: int) -> None:
    import io

    base = build_837([professional(patient_control_number=f"P{i}") for i in range(3)], PARAMS)
    segments = base.split("~")[:-1]
    # Line breaks and empty segments between segments (not after IEA: an ISA must follow it).
    text = "".join(s + "~" + breaks[i % len(breaks)] for i, s in enumerate(segments[:-1]))
    text += segments[-1] + "~"
    expected = _reference_locations(text)
    reader = SegmentReader(io.StringIO(text), chunk_size=chunk)
    seen = [(seg[0], reader.segment_number, reader.offset) for seg in reader]
    assert seen == expected
    assert reader.segment_id == "IEA"


def test_a_reader_is_freed_without_the_cyclic_gc() -> None:
    # Memos hold no reference back to the reader, so a finished or abandoned read_837 frees its
    # buffers at once rather than when the cyclic GC next runs.
    import gc
    import weakref

    from edi.read_837 import _Reader

    text = build_837([professional(), professional(patient_control_number="P2")], PARAMS)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for consume in (list, next):
            reader = _Reader(SegmentReader(text))
            ref = weakref.ref(reader)
            consume(reader.claims())
            del reader
            assert ref() is None
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
def test_claims_found_unreadable_later_are_located_across_chunks(chunk: int) -> None:
    # The CLM and SV1 locations are kept as marks and resolved only for an unreadable claim,
    # which may be finished several chunks after those segments were read.
    import io

    from edi.read_837 import UnreadableClaim, _Reader

    text = build_837([professional(patient_control_number=f"P{i}") for i in range(3)], PARAMS)
    segments = text.split("~")[:-1]
    dtp = [i for i, s in enumerate(segments) if s.startswith("DTP*472")][1]
    text = "~".join(segments[:dtp] + segments[dtp + 1 :]) + "~"
    items = list(_Reader(SegmentReader(io.StringIO(text), chunk_size=chunk)).claims())
    (bad,) = [i for i in items if isinstance(i, UnreadableClaim)]
    assert bad.patient_control_number == "P1" and bad.segment_id == "SV1"
    assert text[bad.offset :].startswith("SV1*")
    assert text.split("~")[bad.segment_number - 1].startswith("SV1*")
    nopayer = "~".join(s for s in text.split("~")[:-1] if not s.startswith("NM1*PR")) + "~"
    items = list(_Reader(SegmentReader(io.StringIO(nopayer), chunk_size=chunk)).claims())
    assert all(isinstance(i, UnreadableClaim) and i.segment_id == "CLM" for i in items)
    assert [nopayer[i.offset :][:7] for i in items] == ["CLM*P0*", "CLM*P1*", "CLM*P2*"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ISA*1~IEA*1~", 6),
        ("ISA*1~\r\nIEA*1~", 8),
        ("ISA*1~\r\n  \tIEA*1~", 11),
        ("ISA*1~IEA\r\n~", 6),  # the id ends at the terminator once line breaks are stripped
        ("ISA*1~IEA\r\n*1~", -1),  # the id would be "IEA\r\n", as the iterator splits it
        ("ISA*1~NM1*IEA*1~", -1),
        ("ISA*1~XIEA*1~", -1),
        ("ISA*1~IEA", -1),  # not terminated yet: the next chunk decides
    ],
)
def test_the_end_of_an_interchange_is_found_as_the_segment_id_iea(text: str, found: int) -> None:
    from edi.x12 import _find_iea

    assert _find_iea(text, "~", "*", " \t\r\n") == found


@pytest.mark.parametrize("chunk", [7, 300, 1 << 20])
@pytest.mark.parametrize("kind", ["str", "bytes", "stream"])
def test_many_interchanges_in_one_buffer_are_split_once_and_located(chunk: int, kind: str) -> None:
    # Interchanges are cut out of the buffer by position (no re-joining of the rest), and text
    # in memory is handed out in chunks; numbers and offsets stay those of the whole stream.
    import io

    one = build_837([professional()], PARAMS)
    text = "".join(one + ("\r\n" if i % 2 else "") for i in range(9))
    expected = _reference_locations(text)
    source: Any = {"str": text, "bytes": text.encode(), "stream": io.StringIO(text)}[kind]
    reader = SegmentReader(source, chunk_size=chunk)
    seen = [(seg[0], reader.segment_number, reader.offset) for seg in reader]
    assert seen == expected
    assert [s[0] for s in seen].count("ISA") == 9


def test_find_iea_from_a_position() -> None:
    from edi.x12 import _find_iea

    text = "ISA*1~IEA*1~ISA*2~IEA*2~"
    assert _find_iea(text, "~", "*", "\r\n", 12) == 18
    assert _find_iea(text, "~", "*", "\r\n", 12, 18) == -1  # "IEA" must start before the stop
    assert _find_iea("IEA*1~", "~", "*", "\r\n", 0) == 0


def test_the_segment_iterator_resumes_after_segments_a_caller_took() -> None:
    # read_835 takes raw texts from `batch` and moves `index` (and `next_batch`) itself; the
    # shared iterator carries on after the last segment it took, in the same or a later batch.
    import io

    text = build_837([professional(patient_control_number=f"P{i}") for i in range(2)], PARAMS)
    ids = [s.split("*")[0] for s in text.split("~")[:-1]]
    for chunk in (40, 1 << 20):
        reader = SegmentReader(io.StringIO(text), chunk_size=chunk)
        segments = iter(reader)
        got = [next(segments)[0]]
        while len(got) < 10:  # take raw texts by hand, across batches
            if reader.index + 1 < len(reader.batch):
                reader.index += 1
                got.append(reader.batch[reader.index].split("*")[0])
            else:
                assert reader.next_batch()
        got += [seg[0] for seg in segments]
        assert got == ids


def test_constructor_with_a_head_tuple_builds_the_same_objects() -> None:
    # read_835 passes SVC01-07 as the one tuple it remembered, then the line's other fields.
    from dataclasses import fields

    from edi.fastbuild import constructor
    from edi.remittance import ServicePayment
    from tests.unit.remittances import claim

    make = constructor(ServicePayment, head=7)
    for line in claim("PCN1", lines=3).lines:
        values = [getattr(line, f.name) for f in fields(ServicePayment)]
        made = make(tuple(values[:7]), *values[7:])
        assert type(made) is ServicePayment
        assert made == line and hash(made) == hash(line) and repr(made) == repr(line)
    with pytest.raises(TypeError):
        make(tuple(values[:7]), *values[7:-1])
