"""build_837: every claim shape validates clean with pyx12; grouping and refusals."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from edi.claim import Accident, Address, Claim, Diagnosis, Procedure, Provider
from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.errors import X12ValueError
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from edi.x12 import Delimiters, SegmentReader
from tests.unit.claims import (
    INSTITUTIONAL_SHAPES,
    PATIENT,
    PROFESSIONAL_SHAPES,
    SUBSCRIBER,
    institutional,
    professional,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=101,
    group_control_number=102,
    transaction_control_number=103,
    created=datetime(2026, 11, 3, 10, 0),
)
ACK = AckControl(201, 202, 203, datetime(2026, 11, 3, 11, 0))


def assert_clean(text: str) -> None:
    report = validate(text, ACK)
    assert report.issues == ()
    assert report.ok
    assert "IK5*A" in report.ack_999 and "AK9*A" in report.ack_999


@pytest.mark.parametrize("shape", sorted(PROFESSIONAL_SHAPES))
def test_professional_shapes_validate_clean(shape: str) -> None:
    assert_clean(build_837([PROFESSIONAL_SHAPES[shape]], PARAMS))


@pytest.mark.parametrize("shape", sorted(INSTITUTIONAL_SHAPES))
def test_institutional_shapes_validate_clean(shape: str) -> None:
    text = build_837([INSTITUTIONAL_SHAPES[shape]], PARAMS)
    assert "*005010X223A2~" in text
    assert_clean(text)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_validate_clean(path: Path) -> None:
    assert_clean(build_837([claim_from_json(json.loads(path.read_text()))], PARAMS))


def test_all_professional_shapes_in_one_interchange_group_under_hl_loops() -> None:
    claims = [
        replace(c, patient_control_number=f"P{i}")
        for i, c in enumerate(PROFESSIONAL_SHAPES.values())
        if c.receiver is None
    ]
    # The same subscriber as patient and as policy holder of two dependents, same provider.
    other_child = replace(PATIENT, first_name="JO")
    claims += [
        professional(patient_control_number="X1"),
        professional(patient_control_number="X2", patient=PATIENT),
        professional(patient_control_number="X3", patient=other_child),
        professional(patient_control_number="X4", patient=PATIENT),
    ]
    text = build_837(claims, replace(PARAMS, newline=True))
    assert_clean(text)
    segs = list(SegmentReader(text))
    hls = [s for s in segs if s[0] == "HL"]
    assert [s[1] for s in hls] == [str(n) for n in range(1, len(hls) + 1)]
    assert sum(1 for s in segs if s[0] == "CLM") == len(claims)
    billing = [s for s in hls if s[3] == "20"]
    assert len(billing) == 2  # the person billing provider has its own 2000A
    # X2 and X4 share one 2000C; X3 gets its own; X1 sits under a 2000B without children.
    pcn_parent = {}
    current_hl = None
    for s in segs:
        if s[0] == "HL":
            current_hl = s
        elif s[0] == "CLM":
            pcn_parent[s[1]] = current_hl
    assert pcn_parent["X2"] is pcn_parent["X4"]
    assert pcn_parent["X2"][3] == "23" and pcn_parent["X3"][3] == "23"
    assert pcn_parent["X2"] is not pcn_parent["X3"]
    assert pcn_parent["X2"][2] == pcn_parent["X3"][2]  # same 2000B parent
    assert pcn_parent["X1"][3] == "22" and pcn_parent["X1"][4] == "0"
    assert pcn_parent["X1"] is not hls[int(pcn_parent["X2"][2]) - 1]


def test_institutional_claims_in_one_interchange_with_other_delimiters() -> None:
    claims = [
        replace(c, patient_control_number=f"I{i}")
        for i, c in enumerate(INSTITUTIONAL_SHAPES.values())
        if len(c.service_lines) < 10
    ]
    text = build_837(claims, replace(PARAMS, delimiters=Delimiters("|", ">", "!", "\n")))
    assert_clean(text)


def test_dotted_and_undotted_diagnoses_are_written_without_the_dot() -> None:
    claim = professional(diagnoses=(Diagnosis("J20.9"), Diagnosis("E119")))
    assert "HI*ABK:J209*ABF:E119~" in build_837([claim], PARAMS)


@pytest.mark.parametrize(
    ("claim", "field", "reason"),
    [
        (
            professional(subscriber=replace(SUBSCRIBER, last_name="O*NEIL")),
            "claims[0].subscriber.last_name (NM103)",
            "delimiter",
        ),
        (
            professional(patient_control_number="PCN~1"),
            "claims[0].patient_control_number (CLM01)",
            "delimiter",
        ),
        (
            professional(
                service_lines=(
                    replace(
                        professional().service_lines[0],
                        procedure=Procedure("99213", modifiers=("2:",)),
                    ),
                )
            ),
            "claims[0].service_lines[0].procedure (SV101-3)",
            "delimiter",
        ),
        (
            professional(patient=replace(PATIENT, first_name="ZOË")),
            "claims[0].patient.first_name (NM104)",
            "extended character set",
        ),
        (professional(frequency_code="7"), "claims[0].payer_claim_number", "REF*F8"),
        (
            professional(diagnoses=(Diagnosis("J20.9", "Y"),)),
            "claims[0].diagnoses[0].present_on_admission",
            "837P",
        ),
        (
            professional(referring_provider=Provider(organization_name="ORG")),
            "claims[0].referring_provider.organization_name",
            "person",
        ),
        (
            professional(
                rendering_provider=Provider(last_name="X", address=Address("A", "BB", "IL", "123"))
            ),
            "claims[0].rendering_provider.address",
            "N3/N4",
        ),
        (
            professional(service_facility=Provider(organization_name="NO ADDRESS")),
            "claims[0].service_facility.address",
            "address",
        ),
        (
            professional(
                service_lines=(replace(professional().service_lines[0], diagnosis_pointers=(2,)),)
            ),
            "claims[0].service_lines[0].diagnosis_pointers",
            "pointers",
        ),
        (
            professional(service_lines=professional().service_lines * 51),
            "claims[0].service_lines",
            "1..50",
        ),
        (institutional(patient_status=None), "claims[0].patient_status", "required"),
        (
            institutional(accident=Accident(("AA",))),
            "claims[0].accident",
            "837I",
        ),
        (institutional(place_of_service="11"), "claims[0].place_of_service", "professional"),
    ],
)
def test_unwritable_values_are_refused_with_the_field_named(
    claim: Claim, field: str, reason: str
) -> None:
    with pytest.raises(X12ValueError, match=re.escape(reason)) as exc:
        build_837([claim], PARAMS)
    assert exc.value.field == field


def test_mixed_claims_are_refused() -> None:
    with pytest.raises(X12ValueError, match="one claim type") as exc:
        build_837([professional(), institutional()], PARAMS)
    assert exc.value.field == "claims[1].claim_type"
    with pytest.raises(X12ValueError, match="one receiver"):
        build_837([professional(), PROFESSIONAL_SHAPES["providers-and-references"]], PARAMS)
    with pytest.raises(X12ValueError, match="at least one"):
        build_837([], PARAMS)


def test_more_than_100_claims_of_one_subscriber_spill_into_another_2000b() -> None:
    # The guide allows at most 100 loop 2300 claims under one 2000B; pyx12 enforces it.
    base = professional()
    claims = [replace(base, patient_control_number=f"SPILL{n:04d}") for n in range(101)]
    text = build_837(claims, PARAMS)
    assert len(re.findall(r"HL\*\d+\*\d+\*22\*", text)) == 2
    assert validate(text, AckControl(1, 1, 1, datetime(2026, 1, 1))).issues == ()
