"""The claim JSON schema, the dataclass model that mirrors it, and schema error reporting."""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from edi import claim as model
from edi.claim_json import claim_from_json, claim_to_json
from gateway.intake.claim_schema import claim_errors, claim_schema
from tests.conftest import EXAMPLES, example

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))

# Each schema definition and the dataclass that mirrors it.
MIRRORS = {
    "address": model.Address,
    "contact": model.Contact,
    "submitter": model.Submitter,
    "receiver": model.Receiver,
    "provider": model.Provider,
    "billing_provider": model.BillingProvider,
    "subscriber": model.Subscriber,
    "patient": model.Patient,
    "payer": model.Payer,
    "accident": model.Accident,
    "admission": model.Admission,
    "diagnosis": model.Diagnosis,
    "procedure": model.Procedure,
    "adjustment": model.Adjustment,
    "line_adjudication": model.LineAdjudication,
    "service_line": model.ServiceLine,
    "other_subscriber": model.OtherSubscriber,
    "other_payer": model.OtherPayer,
}


def test_at_least_the_three_promised_examples() -> None:
    assert {
        "professional-office-visit.json",
        "institutional-outpatient.json",
        "professional-secondary.json",
    } <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_match_the_schema(name: str) -> None:
    assert claim_errors(example(name)) == []


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_model_round_trip(name: str) -> None:
    claim = claim_from_json(example(name))
    assert claim_from_json(claim_to_json(claim)) == claim
    assert claim_errors(claim_to_json(claim)) == []
    assert isinstance(claim.total_charge, Decimal)
    assert claim.total_charge == sum(line.charge for line in claim.service_lines)


def test_an_integer_written_as_a_float_becomes_an_int() -> None:
    # JSON Schema accepts 1.0 for "integer"; an SV107 written "1.0" fails pyx12 at the payer.
    data = example("professional-office-visit.json")
    data["service_lines"][0]["diagnosis_pointers"] = [1.0]
    assert claim_errors(data) == []
    pointers = claim_from_json(data).service_lines[0].diagnosis_pointers
    assert pointers == (1,)
    assert all(type(p) is int for p in pointers)


def test_schema_and_model_have_the_same_fields() -> None:
    schema = claim_schema()
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(model.Claim)}
    for name, cls in MIRRORS.items():
        assert set(schema["$defs"][name]["properties"]) == {
            f.name for f in dataclasses.fields(cls)
        }, name


def _broken(**changes: Any) -> dict[str, Any]:
    claim = example("professional-office-visit.json")
    for pointer, value in changes.items():
        *parents, last = pointer.split("__")
        target = claim
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return claim


_DELETE = object()


@pytest.mark.parametrize(
    ("changes", "pointer", "message"),
    [
        ({"total_charge": 225.0}, "/total_charge", "must be a string"),
        ({"total_charge": "1.234"}, "/total_charge", "wrong format"),
        ({"billing_provider__npi": "12345"}, "/billing_provider/npi", "at least 10"),
        ({"subscriber__birth_date": "1980-02-31"}, "/subscriber/birth_date", "valid date"),
        ({"subscriber__gender": "X"}, "/subscriber/gender", "must be one of M, F, U"),
        ({"payer__payer_id": _DELETE}, "/payer/payer_id", "is required"),
        ({"favourite_colour": "blue"}, "/favourite_colour", "is not a known field"),
        ({"facility_type": "13"}, "/facility_type", "not allowed for this claim_type"),
        (
            {"service_lines__0__diagnosis_pointers": [13]},
            "/service_lines/0/diagnosis_pointers/0",
            "at most 12",
        ),
        ({"service_lines__1__procedure": _DELETE}, "/service_lines/1/procedure", "is required"),
        ({"diagnoses": []}, "/diagnoses", "at least 1 item"),
        (
            {"billing_provider__last_name": "SMITH"},
            "/billing_provider",
            "either organization_name or last_name",
        ),
        (
            {"submitter__contact": {"name": "X"}},
            "/submitter/contact",
            "at least one of phone, email, fax",
        ),
    ],
)
def test_errors_name_the_field(changes: dict[str, Any], pointer: str, message: str) -> None:
    errors = claim_errors(_broken(**changes))
    assert any(e["pointer"] == pointer and message in e["message"] for e in errors), errors


def test_every_error_listed_and_no_value_echoed() -> None:
    claim = _broken(
        subscriber__last_name="X" * 61,
        subscriber__member_id="",
        total_charge="-5",
    )
    errors = claim_errors(claim)
    assert {e["pointer"] for e in errors} >= {
        "/subscriber/last_name",
        "/subscriber/member_id",
        "/total_charge",
    }
    assert not any("XXXX" in e["message"] or "-5" in e["message"] for e in errors)


def test_non_object_body() -> None:
    assert claim_errors([1, 2]) == [{"pointer": "", "message": "must be an object"}]


def test_institutional_rules() -> None:
    claim = example("institutional-outpatient.json")
    bad = copy.deepcopy(claim)
    del bad["statement_from"]
    bad["service_lines"][0]["diagnosis_pointers"] = [1]
    del bad["service_lines"][1]["revenue_code"]
    pointers = {e["pointer"] for e in claim_errors(bad)}
    assert {
        "/statement_from",
        "/service_lines/0/diagnosis_pointers",
        "/service_lines/1/revenue_code",
    } <= pointers
