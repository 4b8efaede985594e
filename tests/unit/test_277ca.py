"""277CA: build from per-claim verdicts -> pyx12 -> read back equal; versions; meanings."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.claim import Procedure
from edi.claim_ack import ClaimAcknowledgment, ClaimStatus, LineStatus, Party, Status, StatusCode
from edi.envelope import EnvelopeParams
from edi.errors import UnsupportedVersionError, X12ValueError
from edi.read_277ca import iter_277ca, read_277ca
from edi.validate import AckControl, validate
from edi.write_277ca import acknowledge_claims, build_277ca
from edi.x12 import Delimiters
from tests.unit.writers import written_checked

D = Decimal
PARAMS = EnvelopeParams(
    sender_id="PAYER01",
    receiver_id="SUB0001",
    interchange_control_number=801,
    group_control_number=802,
    transaction_control_number=1,
    created=datetime(2026, 11, 5, 7, 0),
)
CHECK = AckControl(1, 1, 1, datetime(2026, 11, 5, 8, 0))
DAY = date(2026, 11, 5)
SOURCE = Party("SYNTHETIC PLAN", "PAYER01", "PI")
RECEIVER = Party("SYNTHETIC BILLING", "SUB0001", "46")
CLINIC = Party("SYNTHETIC CLINIC", "1234567893", "XX")
DOCTOR = Party("TESTDOC", "1679576722", "XX", first_name="ROBIN", is_person=True)


def patient(first: str = "ALEX") -> Party:
    return Party("TESTPERSON", "MEM0001", "MI", first_name=first, is_person=True)


def accepted(pcn: str, charge: str = "125.00") -> ClaimStatus:
    return ClaimStatus(
        patient=patient(),
        patient_control_number=pcn,
        statuses=(Status(StatusCode("A2", "20", "PR"), DAY, "WQ", D(charge)),),
        payer_claim_control_number=f"PAYER{pcn}",
        clearinghouse_trace=f"CH{pcn}",
        service_date=date(2026, 10, 1),
    )


def rejected(pcn: str) -> ClaimStatus:
    return ClaimStatus(
        patient=patient("SAM"),
        patient_control_number=pcn,
        statuses=(
            Status(
                StatusCode("A7", "562", "85"),
                DAY,
                "U",
                D("199.14"),
                additional=(StatusCode("A7", "454"),),
                message="NPI NOT ON FILE",
            ),
        ),
        service_date=date(2026, 10, 1),
        service_end_date=date(2026, 10, 3),
        bill_type="131",
        lines=(
            LineStatus(
                Procedure("99213", modifiers=("25",)),
                D("99.14"),
                (Status(StatusCode("A7", "454"), DAY, "U"),),
                units=D(1),
                line_control_number="L1",
                service_date=date(2026, 10, 1),
            ),
            LineStatus(
                Procedure("0450", "NU"),
                D("100.00"),
                (Status(StatusCode("A7", "454"), DAY, "U"),),
                revenue_code="0450",
                service_date=date(2026, 10, 2),
                service_end_date=date(2026, 10, 3),
            ),
        ),
    )


def batch() -> ClaimAcknowledgment:
    return acknowledge_claims(
        [(CLINIC, accepted("PCN1")), (DOCTOR, rejected("PCN2")), (CLINIC, accepted("PCN3", "5"))],
        reference="ACK0001",
        created=DAY,
        source=SOURCE,
        receiver=RECEIVER,
        receiver_trace="BATCH42",
    )


def test_per_claim_statuses_build_a_valid_277ca_that_reads_back_equal() -> None:
    ack = batch()
    assert (ack.accepted_quantity, ack.rejected_quantity) == (2, 1)
    assert (ack.accepted_amount, ack.rejected_amount) == (D("130.00"), D("199.14"))
    assert [p.provider for p in ack.providers] == [CLINIC, DOCTOR]
    text = build_277ca([ack], PARAMS)
    report = validate(text, CHECK)
    assert report.issues == ()
    assert report.ok
    (back,) = read_277ca(text)
    assert back == ack
    pairs = [(p.provider.name, c.patient_control_number) for p, c in back.claims()]
    assert pairs == [
        ("SYNTHETIC CLINIC", "PCN1"),
        ("SYNTHETIC CLINIC", "PCN3"),
        ("TESTDOC", "PCN2"),
    ]


def test_claim_fields_and_meanings() -> None:
    (back,) = read_277ca(build_277ca([batch()], replace(PARAMS, newline=True)))
    claims = {c.patient_control_number: c for _, c in back.claims()}
    good, bad = claims["PCN1"], claims["PCN2"]
    assert good.category == "A2" and not good.rejected
    assert good.payer_claim_control_number == "PAYERPCN1" and good.clearinghouse_trace == "CHPCN1"
    status = good.statuses[0].status
    assert status.category_meaning == "Acknowledged: accepted into the adjudication system"
    assert status.code_meaning == "Accepted for processing"
    assert status.entity_meaning == "Payer"
    assert bad.rejected and bad.total_charge == D("199.14")
    assert [c.code for c in bad.statuses[0].codes] == ["562", "454"]
    assert bad.statuses[0].status.code_meaning == "Entity's National Provider Identifier (NPI)"
    assert (bad.service_date, bad.service_end_date) == (date(2026, 10, 1), date(2026, 10, 3))
    assert bad.lines[0].line_control_number == "L1" and bad.lines[1].revenue_code == "0450"
    assert StatusCode("Q9", "99999", "ZZ").code_meaning == "unknown code"


def test_several_interchanges_and_sets_stream() -> None:
    one = batch()
    two = replace(batch(), reference="ACK0002", receiver_trace="BATCH43")
    text = (
        build_277ca([one, two], PARAMS)
        + "\n"
        + build_277ca([one], replace(PARAMS, interchange_control_number=900))
    )
    values = list(iter_277ca(text.encode()))
    assert values == [one, two, one]
    assert values[2].envelope is not None
    assert values[2].envelope.interchange_control_number == "000000900"


def test_one_bad_date_is_a_located_finding_and_the_rest_is_read() -> None:
    """As read_835 does: a date the sender wrote wrongly is None and a finding, not a refusal
    of the whole file."""
    from edi.x12 import SegmentReader

    text = build_277ca([batch()], PARAMS)
    day = DAY.strftime("%Y%m%d")
    # PCN3's claim STC02, and the second line's service date of PCN2.
    stc = next(s for s in text.split("~") if s.startswith("STC*A2:20:PR*") and s.endswith("*5"))
    text = text.replace(stc, stc.replace(day, "20261340"))
    text = text.replace("DTP*472*RD8*20261002-20261003", "DTP*472*RD8*2026102-20261003")
    (back,) = read_277ca(text)
    claims = {c.patient_control_number: c for _, c in back.claims()}
    assert sorted(claims) == ["PCN1", "PCN2", "PCN3"]
    assert claims["PCN3"].statuses[0].date is None
    assert claims["PCN3"].statuses[0].status.category == "A2"  # the rest of the STC is read
    assert claims["PCN2"].lines[1].service_date is None
    assert claims["PCN2"].lines[1].service_end_date == date(2026, 10, 3)
    assert claims["PCN1"] == batch().providers[0].claims[0]
    segments = list(SegmentReader(text))
    stc_finding, dtp_finding = back.findings
    assert (stc_finding.rule, stc_finding.patient_control_number) == ("unreadable", "PCN3")
    assert stc_finding.detail == "STC02='20261340'" and stc_finding.line_number is None
    assert segments[stc_finding.segment_number - 1][0] == "STC"
    assert "STC02='20261340' for claim PCN3" in stc_finding.message
    assert (dtp_finding.patient_control_number, dtp_finding.line_number) == ("PCN2", 2)
    assert segments[dtp_finding.segment_number - 1][:2] == ["DTP", "472"]
    # A file read without trouble has none.
    assert read_277ca(build_277ca([batch()], PARAMS))[0].findings == ()


def test_x212_claim_status_response_is_unsupported() -> None:
    text = build_277ca([batch()], PARAMS).replace("005010X214", "005010X212")
    with pytest.raises(UnsupportedVersionError) as exc:
        read_277ca(text)
    assert exc.value.version == "005010X212" and exc.value.segment_number == 2


def test_refusals_name_the_field() -> None:
    ack = acknowledge_claims(
        [(CLINIC, accepted("PCN*1"))],
        reference="R",
        created=DAY,
        source=SOURCE,
        receiver=RECEIVER,
        receiver_trace="T",
    )
    with pytest.raises(X12ValueError, match=r"acks\[0\]\.providers\[0\]\.claims\[0\]\.patient_"):
        build_277ca([ack], PARAMS)


# --- Property: generated acknowledgments survive build -> read ------------------------------

_id = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=2, max_size=12)
_date = st.dates(date(2015, 1, 1), date(2030, 12, 31))
_money = st.decimals(min_value=0, max_value=99999, places=2)
_code = st.builds(
    StatusCode,
    category=st.sampled_from(["A1", "A2", "A3", "A6", "A7", "A8"]),
    code=st.sampled_from(["0", "3", "19", "20", "21", "33", "116", "145", "164", "562"]),
    entity=st.none() | st.sampled_from(["85", "IL", "QC", "PR", "41", "40"]),
)
_status = st.builds(
    Status,
    status=_code,
    date=_date,
    action=st.sampled_from(["WQ", "U"]),
    charge=_money,
    # pyx12's map has no entity codes for STC10/STC11, so those carry category and code only.
    additional=st.lists(_code.map(lambda c: replace(c, entity=None)), max_size=2).map(tuple),
)
# Line STC: STC03 is always U (a line is only reported when rejected), STC04 is not used.
_line_status = st.builds(Status, status=_code, date=_date, action=st.just("U"))


@st.composite
def _line(draw: st.DrawFn) -> LineStatus:
    end = draw(st.none() | _date)
    return LineStatus(
        procedure=Procedure(draw(st.sampled_from(["99213", "J1100"])), "HC"),
        charge=draw(_money),
        statuses=(draw(_line_status),),
        units=draw(st.none() | st.decimals(1, 30, places=0)),
        line_control_number=draw(st.none() | _id),
        service_date=draw(_date),
        service_end_date=end,
    )


@st.composite
def _claim(draw: st.DrawFn) -> ClaimStatus:
    return ClaimStatus(
        patient=Party(draw(_id), draw(_id), "MI", first_name=draw(st.none() | _id), is_person=True),
        patient_control_number=draw(_id),
        statuses=tuple(draw(st.lists(_status, min_size=1, max_size=2))),
        payer_claim_control_number=draw(st.none() | _id),
        clearinghouse_trace=draw(st.none() | _id),
        service_date=draw(_date),
        service_end_date=draw(st.none() | _date),
        lines=tuple(draw(st.lists(_line(), max_size=2))),
    )


@st.composite
def _ack(draw: st.DrawFn) -> ClaimAcknowledgment:
    providers = draw(st.lists(st.sampled_from([CLINIC, DOCTOR]), min_size=1, max_size=3))
    claims = [(p, draw(_claim())) for p in providers]
    return acknowledge_claims(
        claims,
        reference=draw(_id),
        created=draw(_date),
        source=SOURCE,
        receiver=RECEIVER,
        receiver_trace=draw(_id),
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(_ack(), min_size=1, max_size=2), st.booleans())
def test_277ca_round_trip(acks: list[ClaimAcknowledgment], newline: bool) -> None:
    assert read_277ca(build_277ca(acks, replace(PARAMS, newline=newline))) == tuple(acks)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_ack(), min_size=1, max_size=2),
    st.sampled_from([PARAMS, replace(PARAMS, delimiters=Delimiters("|", "^", "~", "\n"))]),
)
def test_batched_277ca_equals_the_element_by_element_text(
    acks: list[ClaimAcknowledgment], params: EnvelopeParams
) -> None:
    """Each set is written as one SegmentWriter.batch; checking every element as it is written
    gives the same text."""
    assert build_277ca(acks, params) == written_checked(build_277ca, acks, params)


@settings(max_examples=8, deadline=None)
@given(_ack())
def test_generated_277ca_validates(ack: ClaimAcknowledgment) -> None:
    assert validate(build_277ca([ack], PARAMS), CHECK).issues == ()
