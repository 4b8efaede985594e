"""835: build -> pyx12 -> read back equal; balancing findings; payer-shaped files; versions."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.claim import Adjustment, Procedure
from edi.envelope import EnvelopeParams
from edi.errors import UnsupportedVersionError, X12SyntaxError, X12ValueError
from edi.read_835 import iter_835, read_835
from edi.remittance import (
    ClaimPayment,
    Finding,
    Payee,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    check_balance,
)
from edi.validate import AckControl, validate
from edi.write_835 import build_835
from edi.x12 import Delimiters
from tests.unit.remittances import PAYEE, claim, denied, line, remittance, reversal
from tests.unit.writers import written_checked

D = Decimal
PARAMS = EnvelopeParams(
    sender_id="PAYER01",
    receiver_id="SUB0001",
    interchange_control_number=701,
    group_control_number=702,
    transaction_control_number=1,
    created=datetime(2026, 11, 10, 8, 0),
)
CHECK = AckControl(1, 1, 1, datetime(2026, 11, 10, 9, 0))


def assert_valid_835(text: str) -> None:
    """pyx12 4.0.0 counts a second PLB segment as a second footer loop, although the guide
    lets PLB repeat (docs/x12-responses.md), so that one message is allowed when the file has
    several PLBs."""
    assert "ST*835*0001~" in text  # no ST03: the 835 guide does not use it
    report = validate(text, CHECK)
    issues = [
        i
        for i in report.issues
        if not (text.count("PLB*") > 1 and i.message.startswith("Loop FOOTER exceeded max count"))
    ]
    assert issues == []
    assert report.ok or report.issues


def test_paid_denied_reversed_and_corrected_claims_round_trip() -> None:
    first = claim("PCN1")
    corrected = replace(claim("PCN1"), payer_claim_control_number="PAYERCCNPCN1-2")
    value = remittance((first, denied("PCN2"), reversal(first), corrected), plb="5.00")
    text = build_835([value], PARAMS)
    assert_valid_835(text)
    (back,) = read_835(text)
    assert back == value
    assert back.findings == () == check_balance(value)
    assert [c.status for c in back.claims] == ["1", "4", "22", "1"]
    assert back.claims[2].is_reversal and back.claims[2].paid == -first.paid
    assert back.claims[1].is_denied and back.claims[1].status_meaning == "Denied"
    assert back.payment.amount == back.paid_total - D("5.00")
    assert back.envelope is not None and back.envelope.transaction_control_number == "0001"


def test_balancing_findings_are_values_with_locations() -> None:
    bad_line = replace(line(), paid=D("70.00"))  # 100 - 20 should give 80
    bad_claim = replace(claim("PCN7", lines=0), total_charge=D("50"), paid=D("45"))
    good = claim("PCN8")
    value = remittance((replace(good, lines=(bad_line,)), bad_claim))
    value = replace(value, payment=replace(value.payment, amount=D("1.00")))
    text = build_835([value], replace(PARAMS, newline=True))
    (back,) = read_835(text)
    rules = [(f.rule, f.patient_control_number, f.line_number) for f in back.findings]
    assert rules == [
        ("line", "PCN8", 1),
        ("claim", "PCN8", None),
        ("claim", "PCN7", None),
        ("transaction", None, None),
    ]
    line_finding = back.findings[0]
    assert (line_finding.expected, line_finding.actual) == (D("80.00"), D("70.00"))
    lines = text.splitlines()
    for f in back.findings:
        assert f.segment_number is not None
        assert lines[f.segment_number - 1].startswith(
            {"line": "SVC", "claim": "CLP", "transaction": "BPR"}[f.rule]
        )
    assert (
        "SVC03 is 70.00 but the adjustments give 80.00 for claim PCN8 line 1"
        in line_finding.message
    )
    # The same findings without positions from the value alone.
    assert [replace(f, segment_number=None) for f in back.findings] == list(check_balance(back))


def test_bad_date_is_a_finding_not_an_exception() -> None:
    text = build_835([remittance()], PARAMS).replace("DTM*232*20261001", "DTM*232*20261301")
    (back,) = read_835(text)
    assert back.claims[0].statement_start is None
    (finding,) = back.findings
    assert finding.rule == "unreadable" and finding.patient_control_number == "PCN1"
    assert "DTM02='20261301'" in finding.message


def test_several_payers_and_interchanges_in_one_file_streamed() -> None:
    other_payer = replace(remittance(), payer=replace(remittance().payer, name="OTHER PLAN"))
    third = remittance((claim("PCN9", lines=1),))
    first = build_835([remittance(), other_payer], PARAMS)
    second = build_835(
        [third],
        replace(PARAMS, interchange_control_number=800, delimiters=Delimiters("|", ">", "{", "\n")),
    )
    text = first + "\r\n" + second
    values = list(iter_835(io.BytesIO(text.encode())))
    assert values == [remittance(), other_payer, third]
    assert [v.payer.name for v in values] == ["SYNTHETIC PLAN", "OTHER PLAN", "SYNTHETIC PLAN"]
    assert (
        values[2].envelope is not None
        and values[2].envelope.interchange_control_number == "000000800"
    )


def test_svc01_7_is_never_written() -> None:
    """The 835 guide marks SVC01-7 (the description) not used and pyx12 refuses it; a claim's
    procedure description must not reach the payer's answer. SVC06-7 may carry one."""
    described = Procedure("01999", "HC", ("AA",), description="UNLISTED ANESTHESIA")
    first = line()
    lines = (
        replace(first, procedure=described),
        replace(first, procedure=replace(described, modifiers=()), submitted_procedure=described),
    )
    payment = replace(claim(), lines=lines)
    text = build_835([remittance((payment,))], PARAMS)
    assert "SVC*HC:01999:AA*" in text
    assert text.count("UNLISTED ANESTHESIA") == 1  # SVC06-7 only
    assert_valid_835(text)
    ((back,),) = [r.claims for r in read_835(text)]
    assert [x.procedure.description for x in back.lines] == [None, None]
    assert back.lines[1].submitted_procedure == described


def test_cas_and_plb_segments_split_at_six() -> None:
    many = (*(Adjustment("CO", str(100 + i), D(1)) for i in range(8)), Adjustment("PR", "1", D(2)))
    c = replace(claim("PCN1", lines=0), total_charge=D(20), paid=D(10), adjustments=many)
    plb = tuple(
        ProviderAdjustment("1234567893", date(2026, 12, 31), "L6", D("0.01"), f"R{i}")
        for i in range(7)
    )
    value = replace(remittance((c,)), provider_adjustments=plb)
    value = replace(value, payment=replace(value.payment, amount=D("9.93")))
    text = build_835([value], PARAMS)
    assert text.count("CAS*CO*") == 2 and text.count("CAS*PR*") == 1 and text.count("PLB*") == 2
    assert_valid_835(text)
    assert read_835(text) == (value,)


def test_meanings_and_unknown_codes() -> None:
    a = Adjustment("CO", "45", D(1))
    from edi.remittance import adjustment_meaning, group_meaning, remark_meaning

    assert group_meaning(a.group).startswith("Contractual")
    assert adjustment_meaning("45").startswith("Charge exceeds")
    assert adjustment_meaning("ZZ9") == "unknown code"
    assert remark_meaning("N130").startswith("Consult plan")
    assert replace(denied(), status="99").status_meaning == "unknown code"


def test_other_versions_are_unsupported_naming_gs08() -> None:
    text = build_835([remittance()], PARAMS).replace("005010X221A1", "004010X091A1")
    with pytest.raises(UnsupportedVersionError) as exc:
        read_835(text)
    assert exc.value.version == "004010X091A1" and exc.value.segment_number == 2
    assert "GS08='004010X091A1'" in str(exc.value)


def test_unreadable_amount_names_the_segment() -> None:
    text = build_835([remittance()], PARAMS).replace("CLP*PCN2*4*250.00", "CLP*PCN2*4*25O.00")
    with pytest.raises(X12SyntaxError) as exc:
        read_835(text)
    assert exc.value.segment_id == "CLP"


def test_a_ta1_in_front_of_the_group_is_passed_over() -> None:
    text = build_835([remittance()], PARAMS).replace(
        "GS*", "TA1*000000101*261103*1000*A*000~GS*", 1
    )
    assert read_835(text) == (remittance(),)


def test_set_cut_short_is_an_error() -> None:
    text = build_835([remittance()], PARAMS)
    without_se = text[: text.index("SE*")] + text[text.index("GE*") :]
    with pytest.raises(X12SyntaxError, match="SE is missing") as exc:
        read_835(without_se)
    assert exc.value.segment_id == "GE"
    with pytest.raises(X12SyntaxError, match="no SE"):
        read_835(text[: text.index("SE*")])


def test_payee_ids_and_refusals() -> None:
    by_tax_id = replace(remittance(), payee=Payee("CLINIC", tax_id="111223333"))
    text = build_835([by_tax_id], PARAMS)
    assert "N1*PE*CLINIC*FI*111223333~" in text
    assert read_835(text) == (by_tax_id,)
    with pytest.raises(X12ValueError, match=r"remittances\[0\]\.payee"):
        build_835([replace(remittance(), payee=Payee("NOBODY"))], PARAMS)
    bad = replace(claim(), patient_control_number="PCN*1")
    with pytest.raises(X12ValueError, match=r"claims\[0\]\.patient_control_number"):
        build_835([remittance((bad,))], PARAMS)


# --- Property: any balanced remittance survives build -> read --------------------------------

_money = st.decimals(min_value=0, max_value=99999, places=2)
_id = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=2, max_size=12)
_code = st.sampled_from(["1", "2", "3", "45", "97", "253", "ZZ9"])
_group = st.sampled_from(["CO", "OA", "PI", "PR"])
_date = st.dates(date(2015, 1, 1), date(2030, 12, 31))


@st.composite
def _adjustments(draw: st.DrawFn) -> tuple[Adjustment, ...]:
    return tuple(
        draw(
            st.lists(
                st.builds(
                    Adjustment,
                    group=_group,
                    reason=_code,
                    amount=_money,
                    quantity=st.none() | st.decimals(1, 99, places=0),
                ),
                max_size=8,
            )
        )
    )


@st.composite
def _line(draw: st.DrawFn) -> ServicePayment:
    adjustments = draw(_adjustments())
    charge = draw(_money)
    end = draw(st.none() | _date)
    return ServicePayment(
        procedure=Procedure(
            draw(st.sampled_from(["99213", "J1100", "0450"])),
            draw(st.sampled_from(["HC", "NU"])),
            tuple(draw(st.lists(st.sampled_from(["25", "59", "LT"]), max_size=4))),
        ),
        charge=charge,
        paid=charge - sum((a.amount for a in adjustments), D(0)),
        revenue_code=draw(st.none() | st.just("0450")),
        units=draw(st.none() | st.decimals(1, 30, places=0)),
        service_date=draw(st.none() | _date) if end is None else draw(_date),
        service_end_date=end,
        adjustments=adjustments,
        line_control_number=draw(st.none() | _id),
        allowed_amount=draw(st.none() | _money),
        remark_codes=tuple(draw(st.lists(st.sampled_from(["N130", "M15", "N4"]), max_size=2))),
    )


@st.composite
def _claim(draw: st.DrawFn, strict: bool = False) -> ClaimPayment:
    """A balanced claim; `strict` keeps to what the guide requires (CLP07), lax may not."""
    lines = tuple(draw(st.lists(_line(), max_size=3)))
    adjustments = draw(_adjustments())
    charge = sum((x.charge for x in lines), D(0)) if lines else draw(_money)
    paid = charge - sum((a.amount for a in adjustments), D(0))
    paid -= sum((x.adjustment_total for x in lines), D(0))
    status = draw(st.sampled_from(["1", "2", "4", "19", "22", "23"]))
    return ClaimPayment(
        patient_control_number=draw(_id),
        status=status,
        total_charge=charge,
        paid=paid,
        filing_indicator=draw(st.sampled_from(["12", "HM", "MB", "MC"])),
        patient_responsibility=draw(st.none() | _money),
        payer_claim_control_number=draw(_id if strict else st.none() | _id),
        facility_type=draw(st.none() | st.sampled_from(["11", "13"])),
        frequency_code=draw(st.none() | st.sampled_from(["1", "7"])),
        patient_last_name=draw(st.sampled_from(["TESTPERSON", "SAMPLE"])),
        patient_first_name=draw(st.none() | st.just("ALEX")),
        patient_id=draw(st.none() | _id),
        statement_start=draw(st.none() | _date),
        statement_end=draw(st.none() | _date),
        received_date=draw(st.none() | _date),
        adjustments=adjustments,
        remark_codes=tuple(draw(st.lists(st.sampled_from(["MA130", "N4"]), max_size=2))),
        lines=lines,
    )


@st.composite
def _remittance(draw: st.DrawFn, strict: bool = False) -> Remittance:
    claims = tuple(draw(st.lists(_claim(strict), max_size=4)))
    plb = tuple(
        draw(
            st.lists(
                st.builds(
                    ProviderAdjustment,
                    provider_id=st.just("1234567893"),
                    fiscal_period_date=_date,
                    reason=st.sampled_from(["WO", "FB", "L6", "72"]),
                    amount=st.decimals(-999, 999, places=2),
                    reference=st.none() | _id,
                ),
                max_size=8,
            )
        )
    )
    base = remittance(())
    amount = sum((c.paid for c in claims), D(0)) - sum((p.amount for p in plb), D(0))
    return replace(
        base,
        payment=replace(base.payment, amount=amount, date=draw(_date)),
        trace_number=draw(_id),
        payee=draw(st.sampled_from([PAYEE, Payee("CLINIC", tax_id="111223333")])),
        claims=claims,
        provider_adjustments=plb,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(_remittance(), min_size=1, max_size=3), st.booleans())
def test_835_round_trip(values: list[Remittance], newline: bool) -> None:
    text = build_835(values, replace(PARAMS, newline=newline))
    assert read_835(text) == tuple(values)
    assert all(v.findings == () for v in read_835(text))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_remittance(), min_size=1, max_size=2),
    st.sampled_from([PARAMS, replace(PARAMS, delimiters=Delimiters("|", ">", "{", "\n"))]),
)
def test_batched_835_equals_the_element_by_element_text(
    values: list[Remittance], params: EnvelopeParams
) -> None:
    """Each set is written as one SegmentWriter.batch; checking every element as it is written
    gives the same text."""
    assert build_835(values, params) == written_checked(build_835, values, params)


@settings(max_examples=8, deadline=None)
@given(_remittance(strict=True))
def test_generated_835_validates(value: Remittance) -> None:
    assert_valid_835(build_835([value], PARAMS))


def test_finding_type_is_exported() -> None:
    assert Finding("claim").message.startswith("CLP04")


def test_remembered_segments_read_as_the_first_time() -> None:
    # read_835 remembers the text of CAS, SVC and DTM segments it has read: a repeat must give
    # the same values, a bad date must be a finding each time it appears, and a remembered
    # segment in the wrong place must still be refused.
    text = build_835([remittance(), remittance()], PARAMS)
    first, second = read_835(text)
    assert first == second == remittance()
    assert first.claims[0].lines[0].adjustments[0] is second.claims[0].lines[0].adjustments[0]
    bad = text.replace("DTM*472*20261001", "DTM*472*20261301")
    values = read_835(bad)
    unreadable = [f for v in values for f in v.findings if f.rule == "unreadable"]
    lines = sum(len(c.lines) for v in values for c in v.claims)
    assert len(unreadable) == lines and len({f.segment_number for f in unreadable}) == lines
    for f in unreadable:
        assert bad.split("~")[f.segment_number - 1] == "DTM*472*20261301"
    cas = next(s for s in text.split("~") if s.startswith("CAS*"))
    misplaced = text.replace("~LX*1~", f"~{cas}~LX*1~", 2)
    assert misplaced.count(cas) > text.count(cas)
    with pytest.raises(X12SyntaxError, match="CAS outside a claim") as exc:
        read_835(misplaced)
    assert exc.value.segment_id == "CAS"
    assert misplaced[exc.value.offset :].startswith(cas)


@pytest.mark.parametrize("chunk", [13, 200, 5000])
def test_sets_read_across_batches(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # The set reader walks the reader's batches itself and hands back its place at SE; with
    # small chunks sets, claims and lines straddle batches, and locations stay those of the file.
    from edi.x12 import SegmentReader

    values = [remittance(), replace(remittance(), trace_number="EFT2")]
    bad_line = replace(line(), paid=D("70.00"))
    values.append(remittance((replace(claim("PCN3"), lines=(bad_line,)),)))
    text = build_835(values, PARAMS) + build_835(values, replace(PARAMS, newline=True))
    expected = read_835(text)
    monkeypatch.setattr(SegmentReader.__init__, "__kwdefaults__", {"chunk_size": chunk})
    assert read_835(io.StringIO(text)) == expected
    assert [v.findings for v in read_835(text)] == [v.findings for v in expected]
    cut = text[: text.index("SE*", len(text) // 2)]
    with pytest.raises(X12SyntaxError, match="no SE"):
        read_835(cut)


def test_remembered_segments_are_forgotten_when_the_delimiters_change() -> None:
    # The same segment text reads differently under another component separator.
    first = build_835([remittance()], PARAMS)
    other = replace(PARAMS, interchange_control_number=702, delimiters=Delimiters("*", ">"))
    second = build_835([remittance()], other).replace("HC>", "HC:")
    alone = read_835(second)
    assert alone[0].claims[0].lines[0].procedure.qualifier.startswith("HC:")
    assert read_835(first + second)[1:] == alone
