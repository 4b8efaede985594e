"""read_837: what build_837 writes reads back equal; bad input gives located errors."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.claim import Claim
from edi.envelope import EnvelopeParams
from edi.errors import UnsupportedVersionError, X12SyntaxError
from edi.read_837 import UnreadableClaim, read_837
from edi.write_837 import build_837, receiver_of
from edi.x12 import Delimiters
from tests.unit.claims import INSTITUTIONAL_SHAPES, PROFESSIONAL_SHAPES, professional
from tests.unit.strategies import canonical, claims

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=1,
    group_control_number=1,
    transaction_control_number=1,
    created=datetime(2026, 11, 3, 10, 0),
)


@pytest.mark.parametrize(
    "claim",
    [*PROFESSIONAL_SHAPES.values(), *INSTITUTIONAL_SHAPES.values()],
    ids=[*(f"P-{k}" for k in PROFESSIONAL_SHAPES), *(f"I-{k}" for k in INSTITUTIONAL_SHAPES)],
)
def test_every_shape_reads_back_equal(claim: Claim) -> None:
    assert list(read_837(build_837([claim], PARAMS))) == [canonical(claim)]


@st.composite
def batches(draw: st.DrawFn) -> list[Claim]:
    kind = draw(st.sampled_from(["professional", "institutional"]))
    first = draw(claims(kind))
    rest = draw(st.lists(claims(kind), max_size=2))
    receiver = receiver_of(first)
    return [first] + [replace(c, submitter=first.submitter, receiver=receiver) for c in rest]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=batches(),
    delims=st.sampled_from([Delimiters(), Delimiters("|", ">", "!", "\n")]),
    newline=st.booleans(),
)
def test_build_then_read_gives_back_the_claims(
    batch: list[Claim], delims: Delimiters, newline: bool
) -> None:
    if delims != Delimiters():
        # Values drawn for the default delimiters may hold these ones.
        batch = [c for c in batch if not any(ch in repr(c) for ch in "|>!")]
        if not batch:
            return
    text = build_837(batch, replace(PARAMS, delimiters=delims, newline=newline))
    back = list(read_837(io.BytesIO(text.encode())))
    assert back == [canonical(c) for c in _hl_order(batch)]


def _hl_order(batch: list[Claim]) -> list[Claim]:
    """build_837 groups claims by billing provider, subscriber and patient: reading follows."""
    groups: dict[object, dict[object, dict[object, list[Claim]]]] = {}
    for c in batch:
        groups.setdefault((c.billing_provider, c.pay_to_address), {}).setdefault(
            (c.subscriber, c.payer, c.patient is None), {}
        ).setdefault(c.patient, []).append(c)
    return [c for b in groups.values() for s in b.values() for p in s.values() for c in p]


def test_many_interchanges_groups_and_sets_in_one_stream() -> None:
    a = build_837([professional(patient_control_number="A")], PARAMS)
    b = build_837(
        [professional(patient_control_number="B"), professional(patient_control_number="C")],
        replace(PARAMS, delimiters=Delimiters("|", ">", "!", "\n")),
    )
    i = build_837([INSTITUTIONAL_SHAPES["minimal"]], PARAMS)
    # Second group and second set inside the first interchange.
    st_part = a[a.index("ST*") : a.index("GE*")]
    gs_part = a[a.index("GS*") : a.index("IEA*")]
    doubled = a.replace("GE*1*", st_part + "GE*2*", 1)
    doubled = doubled.replace("IEA*1*", gs_part + "IEA*2*", 1)
    pcns = [c.patient_control_number for c in read_837(doubled + "\r\n" + b + i)]
    assert pcns == ["A", "A", "A", "B", "C", "HOSP-0001"]


def test_reading_is_lazy() -> None:
    text = build_837([professional(patient_control_number=f"N{i}") for i in range(3)], PARAMS)
    claims_iter = read_837(io.StringIO(text + "GARBAGE"))
    assert next(claims_iter).patient_control_number == "N0"
    assert next(claims_iter).patient_control_number == "N1"


@pytest.mark.parametrize("version", ["004010X098A1", "005010X224A2", "005010X221A1"])
def test_other_versions_are_unsupported_with_gs08_and_position(version: str) -> None:
    text = build_837([professional()], PARAMS).replace("005010X222A1", version)
    with pytest.raises(UnsupportedVersionError) as exc:
        list(read_837(text))
    assert exc.value.version == version
    assert exc.value.segment_id == "GS" and exc.value.segment_number == 2
    assert exc.value.offset == 106
    assert version in str(exc.value)


def test_later_errata_are_read() -> None:
    text = build_837([professional()], PARAMS).replace("005010X222A1", "005010X222A2")
    assert list(read_837(text)) == [canonical(professional())]


@pytest.mark.parametrize(
    ("shapes", "later", "earlier"),
    [
        (PROFESSIONAL_SHAPES, "005010X222A1", "005010X222"),
        (INSTITUTIONAL_SHAPES, "005010X223A2", "005010X223A1"),
    ],
)
def test_earlier_guides_are_read_with_the_later_rules(
    shapes: dict[str, Claim], later: str, earlier: str
) -> None:
    for claim in shapes.values():
        text = build_837([claim], PARAMS)
        assert list(read_837(text.replace(later, earlier))) == list(read_837(text))


def test_not_x12_and_not_837() -> None:
    with pytest.raises(X12SyntaxError, match="ISA"):
        list(read_837("hello"))
    with pytest.raises(X12SyntaxError, match="no X12"):
        list(read_837(""))
    text = build_837([professional()], PARAMS).replace("ST*837*", "ST*835*")
    with pytest.raises(X12SyntaxError, match="not an 837") as exc:
        list(read_837(text))
    assert exc.value.segment_id == "ST" and exc.value.segment_number == 3


def _segments(text: str) -> list[str]:
    return [s for s in text.split("~") if s]


def _mutate(text: str, seg_id: str, old: str, new: str) -> str:
    segs = _segments(text)
    for i, s in enumerate(segs):
        if s.startswith(seg_id + "*") and old in s:
            segs[i] = s.replace(old, new, 1)
            break
    else:
        raise AssertionError(f"{seg_id} with {old!r} not found")
    return "~".join(segs) + "~"


@pytest.mark.parametrize(
    ("seg_id", "old", "new", "message"),
    [
        ("CLM", "*150.00*", "*1X0*", "CLM"),
        ("DTP", "*20261102", "*2026110", "CCYYMMDD"),
        ("SV1", "*1~", "*1", "SV1"),
        ("HI", "ABK:J209", "ABK", "composite"),
        ("DMG", "19800412", "19801312", "DMG"),
    ],
)
def test_bad_values_give_an_unreadable_claim_naming_the_segment(
    seg_id: str, old: str, new: str, message: str
) -> None:
    text = build_837([professional(patient_control_number="BAD"), professional()], PARAMS)
    if old.endswith("~"):
        text = text.replace("SV1*HC:99213*150.00*UN*1***1~", "SV1*HC:99213*150.00*UN*1***1.5~", 1)
        seg_id = "SV1"
    else:
        text = _mutate(text, seg_id, old, new)
    items = list(read_837(text))
    assert len(items) == 2
    bad = [i for i in items if isinstance(i, UnreadableClaim)]
    assert bad, items
    problem = bad[0]
    assert message in f"{problem.segment_id} {problem.message}"
    segs = _segments(text)
    assert segs[problem.segment_number - 1].startswith(problem.segment_id)
    assert text[problem.offset :].startswith(problem.segment_id)


def test_missing_loops_name_the_claim() -> None:
    text = build_837([professional(patient_control_number="NOPAYER")], PARAMS)
    segs = [s for s in _segments(text) if not s.startswith("NM1*PR")]
    (item,) = read_837("~".join(segs) + "~")
    assert isinstance(item, UnreadableClaim)
    assert item.segment_id == "CLM" and "2010BB" in item.message
    assert item.patient_control_number == "NOPAYER"
