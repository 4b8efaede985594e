"""X12 as other systems write it reads as the plain file, through every reader: a UTF-8
byte-order mark, blanks (spaces, tabs, line breaks) between a segment terminator and the next
segment id, no terminator after the last IEA. And a claim (CLM) or claim payment (CLP) a reader
cannot take is never passed over without a word."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.ack import InterchangeAck
from edi.claim import Claim
from edi.envelope import EnvelopeParams
from edi.errors import X12SyntaxError
from edi.read_277ca import read_277ca
from edi.read_835 import read_835
from edi.read_837 import UnreadableClaim, read_837
from edi.read_ack import read_acknowledgments
from edi.read_envelope import single_set_interchanges
from edi.validate import AckControl, validate
from edi.write_277ca import build_277ca
from edi.write_835 import build_835
from edi.write_837 import build_837
from edi.write_ack import build_999, build_ta1
from edi.x12 import Delimiters, SegmentReader, head_segments
from tests.unit.claims import INSTITUTIONAL_SHAPES, PROFESSIONAL_SHAPES, professional
from tests.unit.loose import layouts, loosened
from tests.unit.remittances import claim as claim_payment
from tests.unit.remittances import remittance
from tests.unit.test_277ca import _ack, batch
from tests.unit.test_835 import _remittance
from tests.unit.test_ack import REJECTED, _group
from tests.unit.test_read_837 import batches

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=17,
    group_control_number=17,
    transaction_control_number=1,
    created=datetime(2026, 11, 20, 9, 30),
)
CHECK = AckControl(1, 1, 1, datetime(2026, 11, 20, 10, 0))
SHAPES = {**{f"P-{k}": v for k, v in PROFESSIONAL_SHAPES.items()},
          **{f"I-{k}": v for k, v in INSTITUTIONAL_SHAPES.items()}}  # fmt: skip
FORMS = {
    "bom-crlf-indent": {"gap_cycle": ("\r\n    ",)},
    "spaces": {"gap_cycle": (" ",), "bom": False},
    "tabs-and-lines": {"gap_cycle": ("\t", "\n\t\t", "\r\n", ""), "lead": " \r\n"},
    "no-last-terminator": {"gap_cycle": ("\r\n",), "last": False},
    "no-last-terminator-compact": {"gap_cycle": ("",), "bom": False, "last": False},
}


def _read_837(text: str) -> list[Claim | UnreadableClaim]:
    """The claims of an 837, unreadable ones checked to point at their segment and then
    compared without their offset (blanks move it, not the segment number)."""
    out: list[Claim | UnreadableClaim] = []
    for item in read_837(io.BytesIO(text.encode())):
        if isinstance(item, UnreadableClaim):
            assert text[item.offset :].startswith(item.segment_id)
            item = replace(item, offset=0)
        out.append(item)
    return out


def _by_set(text: str) -> list[tuple[str, str, str, list[Claim | UnreadableClaim]]]:
    """What the intake reads: each set re-enveloped alone, then its claims."""
    return [
        (gs06, st01, st02, _read_837(one.read()))
        for gs06, st01, st02, one in single_set_interchanges(io.StringIO(text))
    ]


def _same_837(text: str, loose: str) -> None:
    assert _read_837(loose) == _read_837(text)
    assert _by_set(loose) == _by_set(text)
    assert head_segments(loose, 4) == head_segments(text, 4)
    reader = SegmentReader(loose)
    assert list(reader) == list(SegmentReader(text))


# --- Each reader, each form -----------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_of_claim_reads_the_same_from_a_loose_837(shape: str, form: str) -> None:
    """The first thing the issue saw: a BOM and indented segments read as zero claims."""
    text = build_837([SHAPES[shape]], PARAMS)
    loose = loosened(text, **FORMS[form])  # type: ignore[arg-type]
    _same_837(text, loose)
    assert len(_read_837(loose)) == 1


@pytest.mark.parametrize("form", FORMS)
def test_835_277ca_999_and_ta1_read_the_same_when_loose(form: str) -> None:
    layout: Any = FORMS[form]
    remit = build_835([remittance(), remittance((claim_payment("PCN9", 3),))], PARAMS)
    assert read_835(loosened(remit, **layout)) == read_835(remit)
    ack = build_277ca([batch()], PARAMS)
    assert read_277ca(loosened(ack, **layout)) == read_277ca(ack)
    nine = build_999([REJECTED], PARAMS)
    assert read_acknowledgments(loosened(nine, **layout)) == read_acknowledgments(nine)
    ta1 = build_ta1([InterchangeAck(17, date(2026, 11, 20), time(9, 30), "R", "024")], PARAMS)
    assert read_acknowledgments(loosened(ta1, **layout)) == read_acknowledgments(ta1)


# --- Any file we write, any loose form --------------------------------------------------------

_DELIMS = st.sampled_from([Delimiters(), Delimiters("|", ">", "{", "!")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=batches(), layout=layouts(), delims=_DELIMS, newline=st.booleans())
def test_any_837_we_write_reads_the_same_loosened(
    batch: list[Claim], layout: dict[str, Any], delims: Delimiters, newline: bool
) -> None:
    if delims != Delimiters():
        batch = [c for c in batch if not any(ch in repr(c) for ch in "|>{!")]
        if not batch:
            return
    text = build_837(batch, replace(PARAMS, delimiters=delims, newline=newline))
    _same_837(text, loosened(text, **layout))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_remittance(), min_size=1, max_size=2), layout=layouts())
def test_any_835_we_write_reads_the_same_loosened(
    values: list[Any], layout: dict[str, Any]
) -> None:
    text = build_835(values, PARAMS)
    assert read_835(loosened(text, **layout)) == read_835(text) == tuple(values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acks=st.lists(_ack(), min_size=1, max_size=2), layout=layouts())
def test_any_277ca_we_write_reads_the_same_loosened(
    acks: list[Any], layout: dict[str, Any]
) -> None:
    text = build_277ca(acks, PARAMS)
    assert read_277ca(loosened(text, **layout)) == read_277ca(text) == tuple(acks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=st.lists(_group, min_size=1, max_size=2), layout=layouts())
def test_any_999_we_write_reads_the_same_loosened(
    groups: list[Any], layout: dict[str, Any]
) -> None:
    text = build_999(groups, PARAMS)
    loose = loosened(text, **layout)
    assert read_acknowledgments(loose) == read_acknowledgments(text)
    assert read_acknowledgments(loose).implementation_acks == tuple(groups)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["837", "835", "277CA", "999"]),
    shape=st.sampled_from(sorted(SHAPES)),
    layout=layouts(),
)
def test_a_loosened_file_validates_as_the_plain_one(
    kind: str, shape: str, layout: dict[str, Any]
) -> None:
    """pyx12 judges what the readers read: the same issues and the same 999, with a warning
    only for a missing last terminator."""
    text = {
        "837": lambda: build_837([SHAPES[shape]], PARAMS),
        "835": lambda: build_835([remittance()], PARAMS),
        "277CA": lambda: build_277ca([batch()], PARAMS),
        "999": lambda: build_999([REJECTED], PARAMS),
    }[kind]()
    plain = validate(text, CHECK)
    loose = validate(loosened(text, **layout), CHECK)
    assert (loose.ok, loose.issues, loose.ack_999) == (plain.ok, plain.issues, plain.ack_999)
    assert len(loose.warnings) == (0 if layout["last"] else 1)


# --- Never silent -----------------------------------------------------------------------------


@pytest.mark.parametrize("stray", ["\x0bCLM", "clm", "\ufeffCLM", "C\x00LM"])
def test_a_clm_the_reader_cannot_take_is_an_unreadable_claim_naming_it(stray: str) -> None:
    text = build_837(
        [professional(patient_control_number=f"P{i}") for i in range(3)], replace(PARAMS)
    )
    one = text.replace("CLM*P1*", f"{stray}*P1*")
    items = list(read_837(one))
    assert [i.patient_control_number for i in items] == ["P0", "P1", "P2"]
    bad = items[1]
    assert isinstance(bad, UnreadableClaim)
    assert bad.segment_id == stray and "not CLM" in bad.message
    assert one[bad.offset :].startswith(stray + "*P1*")
    assert not isinstance(items[2], UnreadableClaim)  # the next claim is its own
    # A set whose every CLM is so written still says so, claim by claim.
    every = text.replace("CLM*", f"{stray}*")
    items = list(read_837(every))
    assert len(items) == 3 and all(isinstance(i, UnreadableClaim) for i in items)


@pytest.mark.parametrize("stray", ["\x0bCLP", "clp"])
@pytest.mark.parametrize("which", [0, 1])
def test_a_clp_the_reader_cannot_take_is_an_error_naming_it(stray: str, which: int) -> None:
    text = build_835([remittance((claim_payment("PCN1"), claim_payment("PCN2")))], PARAMS)
    pcn = ("PCN1", "PCN2")[which]
    bad = text.replace(f"CLP*{pcn}*", f"{stray}*{pcn}*")
    with pytest.raises(X12SyntaxError, match="not CLP") as exc:
        read_835(bad)
    assert exc.value.segment_id == stray
    assert bad[exc.value.offset :].startswith(f"{stray}*{pcn}*")
