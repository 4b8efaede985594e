"""999 and TA1: read, build, pyx12 validation of what we build, and build -> read round trips."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.ack import (
    ElementError,
    ErrorContext,
    ImplementationAck,
    InterchangeAck,
    SegmentError,
    TransactionSetAck,
)
from edi.envelope import EnvelopeParams
from edi.errors import UnsupportedVersionError, X12SyntaxError
from edi.read_ack import read_999, read_acknowledgments, read_ta1
from edi.validate import AckControl, validate
from edi.write_ack import ack_from_report, build_999, build_ta1, ta1_from_report
from tests.unit.claims import professional

PARAMS = EnvelopeParams(
    sender_id="PAYER01",
    receiver_id="SUB0001",
    interchange_control_number=501,
    group_control_number=502,
    transaction_control_number=503,
    created=datetime(2026, 11, 4, 9, 30),
)
CHECK = AckControl(1, 1, 1, datetime(2026, 11, 4, 9, 31))

REJECTED = ImplementationAck(
    functional_id="HC",
    group_control_number=102,
    status="P",
    sets_included=2,
    sets_received=2,
    sets_accepted=1,
    version="005010X222A1",
    transaction_sets=(
        TransactionSetAck("837", "0103", "A", "005010X222A1"),
        TransactionSetAck(
            "837",
            "0104",
            "R",
            "005010X222A1",
            errors=(
                SegmentError(
                    "NM1",
                    17,
                    "8",
                    "2010",
                    contexts=(ErrorContext("CLM01", "PCN123"),),
                    elements=(
                        ElementError(9, "7", data_element="67", bad_value="12345"),
                        ElementError(
                            1,
                            "1",
                            component_position=2,
                            contexts=(
                                ErrorContext(
                                    "SITUATIONAL TRIGGER",
                                    segment_id="CLM",
                                    segment_position=20,
                                    loop_id="2300",
                                    element_position=5,
                                    component_position=3,
                                ),
                            ),
                        ),
                    ),
                ),
                SegmentError("DTP", 25, "3", "2300"),
            ),
            error_codes=("5",),
        ),
    ),
)


def test_explicit_verdicts_build_valid_999_and_read_back_equal() -> None:
    text = build_999([REJECTED], PARAMS)
    report = validate(text, CHECK)
    assert report.issues == ()
    (back,) = read_999(text)
    assert back == REJECTED
    assert back.status_meaning.startswith("Partially accepted")
    rejected = back.transaction_sets[1]
    assert not rejected.accepted and rejected.status_meaning == "Rejected"
    assert rejected.errors[0].meaning == "Segment has data element errors"
    assert rejected.errors[0].elements[0].meaning == "Invalid code value"
    assert rejected.error_meanings() == ("One or more segments in error",)
    assert back.envelope is not None and back.envelope.sender_id == "PAYER01"
    assert back.envelope.transaction_control_number == "0503"


def test_999_from_a_validation_report_places_errors_in_their_set() -> None:
    good = professional(patient_control_number="GOOD1")
    sent = EnvelopeParams("SUB0001", "PAYER01", 101, 102, 103, datetime(2026, 11, 3, 10, 0))
    from edi.write_837 import build_837

    text = build_837([good], sent)
    broken = text.replace("*XX*1234567893~", "*XX*12345~", 1).replace("DTP*472*D8*", "DTP*472*D8*X")
    report = validate(broken, CHECK)
    assert not report.ok
    (ack,) = ack_from_report(broken, report, PARAMS)
    assert ack.group_control_number == 102 and ack.status == "R"
    (verdict,) = ack.transaction_sets
    assert verdict.control_number == "0103" and verdict.status == "R"
    assert any(e.elements for e in verdict.errors)
    out = build_999([ack], PARAMS)
    assert validate(out, CHECK).issues == ()
    assert read_999(out) == (ack,)
    # A clean file gives an accepting 999.
    (clean,) = ack_from_report(text, validate(text, CHECK), PARAMS)
    assert clean.status == "A" and clean.transaction_sets[0].status == "A"
    assert clean.sets_accepted == clean.sets_received == clean.sets_included == 1


def test_ta1_build_read_and_report() -> None:
    acks = (
        InterchangeAck(101, date(2026, 11, 3), time(10, 0), "A", "000"),
        InterchangeAck(102, date(2026, 11, 3), time(10, 5), "R", "025"),
    )
    text = build_ta1(acks, PARAMS)
    assert validate(text, CHECK).issues == ()
    back = read_ta1(text)
    assert back == acks
    assert back[1].note_meaning == "Duplicate interchange control number"
    assert back[1].status_meaning.startswith("Interchange rejected") and not back[1].accepted
    assert back[0].sender_id == "PAYER01"
    sent = build_999([REJECTED], PARAMS).replace("IEA*1*000000501", "IEA*1*000000777")
    (ta1,) = ta1_from_report(sent, validate(sent, CHECK))
    assert (ta1.control_number, ta1.status, ta1.note_code) == (501, "R", "001")


def test_ta1_and_999_in_one_interchange() -> None:
    text = build_999([REJECTED], PARAMS)
    ta1 = "TA1*000000101*261103*1000*A*000~"
    mixed = text.replace("GS*", ta1 + "GS*", 1)
    both = read_acknowledgments(mixed)
    assert both.interchange_acks[0].control_number == 101
    assert both.implementation_acks == (REJECTED,)


def test_other_999_version_is_unsupported_naming_gs() -> None:
    text = build_999([REJECTED], PARAMS).replace("005010X231A1", "005010X232")
    with pytest.raises(UnsupportedVersionError) as exc:
        read_999(text)
    assert exc.value.version == "005010X232"
    assert exc.value.segment_id == "GS" and exc.value.segment_number == 2


def test_the_original_999_guide_reads_like_its_errata() -> None:
    text = build_999([REJECTED], PARAMS)
    assert read_999(text.replace("005010X231A1", "005010X231"))[0].transaction_sets == (
        read_999(text)[0].transaction_sets
    )


def test_malformed_999_names_the_segment() -> None:
    text = build_999([REJECTED], PARAMS).replace("IK5*A~", "", 1)
    with pytest.raises(X12SyntaxError, match="AK2"):
        read_999(text)
    bad = build_999([REJECTED], PARAMS).replace("AK1*HC*102", "AK1*HC*1X2")
    with pytest.raises(X12SyntaxError, match="AK102") as exc:
        read_999(bad)
    assert exc.value.segment_id == "AK1"


def test_unknown_codes_are_kept() -> None:
    odd = TransactionSetAck("837", "0001", "Q", error_codes=("99",))
    assert odd.status_meaning == "unknown code"
    assert odd.error_meanings() == ("unknown code",)


_text = (
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1, max_size=10)
    .map(str.strip)
    .filter(bool)
)
_code = st.sampled_from(["1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I9"])
_pos = st.integers(1, 99)
# Contexts as the guide shapes them: in loop 2100 at most one business unit (name:value only,
# names from the guide's list), then segment contexts (SITUATIONAL TRIGGER with the segment's
# id and position); in 2110 element contexts only. pyx12 wants the business unit first.
_trigger = st.builds(
    ErrorContext,
    name=st.just("SITUATIONAL TRIGGER"),
    segment_id=st.sampled_from(["CLM", "SV1", "NM1"]),
    segment_position=_pos,
    loop_id=st.none() | st.sampled_from(["2300", "2400", "2010"]),
    element_position=st.none() | _pos,
    component_position=st.none() | _pos,
    element_reference=st.none() | st.sampled_from(["1028", "66"]),
)
_unit = st.builds(ErrorContext, name=st.sampled_from(["CLM01", "TRN02"]), reference=_text)
_segment_contexts = st.tuples(st.lists(_unit, max_size=1), st.lists(_trigger, max_size=2)).map(
    lambda t: tuple(t[0] + t[1])
)
_element = st.builds(
    ElementError,
    position=_pos,
    code=st.sampled_from(["1", "2", "4", "5", "6", "7", "8", "I12"]),
    component_position=st.none() | _pos,
    repeat_position=st.none() | _pos,
    data_element=st.none() | st.sampled_from(["66", "67", "1028"]),
    bad_value=st.none() | _text,
    contexts=st.lists(_trigger, max_size=2).map(tuple),
)
_segment = st.builds(
    SegmentError,
    segment_id=st.sampled_from(["NM1", "CLM", "SV1", "DTP", "HI"]),
    position=_pos,
    code=_code,
    loop_id=st.none() | st.sampled_from(["2300", "2400", "2010"]),
    contexts=_segment_contexts,
    elements=st.lists(_element, max_size=3).map(tuple),
)
_set = st.builds(
    TransactionSetAck,
    transaction_set_id=st.just("837"),
    control_number=st.integers(1, 99999).map(lambda n: f"{n:04d}"),
    status=st.sampled_from(["A", "E", "R", "M", "W", "X"]),
    version=st.none() | st.just("005010X222A1"),
    errors=st.lists(_segment, max_size=3).map(tuple),
    error_codes=st.lists(st.sampled_from(["1", "2", "3", "4", "5", "23"]), max_size=3).map(tuple),
)
_group = st.builds(
    ImplementationAck,
    functional_id=st.just("HC"),
    group_control_number=st.integers(1, 999_999_999),
    status=st.sampled_from(["A", "E", "P", "R"]),
    sets_included=st.integers(0, 99),
    sets_received=st.integers(0, 99),
    sets_accepted=st.integers(0, 99),
    version=st.sampled_from(["005010X222A1", "005010X223A2"]),  # AK103 is required
    transaction_sets=st.lists(_set, min_size=1, max_size=3).map(tuple),
    error_codes=st.lists(st.sampled_from(["1", "2", "4", "5"]), max_size=2).map(tuple),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_group, min_size=1, max_size=3), st.booleans())
def test_999_round_trip(acks: list[ImplementationAck], newline: bool) -> None:
    params = replace(PARAMS, newline=newline)
    assert read_999(build_999(acks, params)) == tuple(acks)


@settings(max_examples=10, deadline=None)
@given(st.lists(_group, min_size=1, max_size=2))
def test_generated_999_validates(acks: list[ImplementationAck]) -> None:
    text = build_999(acks, PARAMS)
    assert validate(text, CHECK).issues == ()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.builds(
            InterchangeAck,
            control_number=st.integers(0, 999_999_999),
            date=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
            time=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
            status=st.sampled_from(["A", "E", "R"]),
            note_code=st.sampled_from(["000", "001", "006", "025", "024"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_ta1_round_trip(acks: list[InterchangeAck]) -> None:
    assert read_ta1(build_ta1(acks, PARAMS)) == tuple(acks)
