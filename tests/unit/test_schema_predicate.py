"""The compiled schema predicate answers exactly as jsonschema does, on claims and on keywords.

claim_errors trusts it to skip the error walk, so a claim it calls valid must be one
jsonschema calls valid, and the reverse (or valid claims would lose the fast path).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from edi.claim_json import claim_to_json
from gateway.intake.claim_schema import claim_errors, claim_schema
from gateway.intake.schema_predicate import UnsupportedSchema, compile_schema
from tests.conftest import EXAMPLES, example
from tests.e2e.support import varied_claims
from tests.unit.strategies import claims

JSONSCHEMA = Draft202012Validator(
    claim_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
)
PREDICATE = compile_schema(claim_schema())
BASES = [example(p.name) for p in sorted(EXAMPLES.glob("*.json"))] + varied_claims(12)

# Values that sit on the edges of the schema's rules, mixed with ones from real claims.
EDGES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    13,
    99999999,
    100000000,
    "",
    " ",
    "A",
    "AB",
    "X" * 61,
    "1",
    "1.5",
    "-5",
    "225.00",
    "225.001",
    "2026-11-02",
    "2026-02-30",
    "2026-1-2",
    "1234567890",
    "123456789",
    "207Q00000X",
    "J20.9",
    "professional",
    "institutional",
    "M",
    "01",
    "EI",
    "PCN 1",
    "PCN  1",
    "a@b",
    [],
    [1],
    {},
    {"code": "J20.9"},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in _leaves(value)]
    return [node]


@st.composite
def mutated_claims(draw: st.DrawFn) -> Any:
    claim = copy.deepcopy(draw(st.sampled_from(BASES)))
    values = st.sampled_from(EDGES + _leaves(claim))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(claim)))
        if not path:
            continue
        parent = claim
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "add", "grow"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent[last], dict):
            parent[last][draw(st.sampled_from(["nickname", "npi", "code", "last_name"]))] = draw(
                values
            )
        elif action == "grow" and isinstance(parent[last], list) and parent[last]:
            parent[last] = parent[last] * draw(st.integers(2, 60))
    return claim


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_claims())
def test_mutated_claims_answer_as_jsonschema(claim: Any) -> None:
    assert PREDICATE(claim) == JSONSCHEMA.is_valid(claim)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims())
def test_generated_claims_are_valid_both_ways(claim: Any) -> None:
    data = claim_to_json(claim)
    assert PREDICATE(data) == JSONSCHEMA.is_valid(data)


def test_every_base_claim_is_valid() -> None:
    for claim in BASES:
        assert PREDICATE(claim) and claim_errors(claim) == []


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None]),
        ({"type": ["string", "integer"]}, ["a", 2, 2.5, None]),
        ({"enum": ["1", "7"]}, ["1", 1, True, ["1"], None]),
        ({"const": "professional"}, ["professional", "Professional", 0]),
        ({"pattern": "[0-9]{2}"}, ["a12b", "1", 12]),  # searched, not anchored
        ({"format": "date"}, ["2026-02-28", "2026-02-30", "20260228", 5]),
        ({"format": "no-such-format"}, ["anything"]),
        ({"minLength": 2, "maxLength": 3}, ["a", "ab", "abcd", 5, ["a"]]),
        ({"minimum": 0, "maximum": 10}, [-1, 0, 10, 10.5, "5", True]),
        ({"minItems": 1, "maxItems": 2}, [[], [1], [1, 2, 3], "ab"]),
        ({"items": {"type": "string"}}, [["a"], ["a", 1], "x"]),
        ({"required": ["a"]}, [{"a": 1}, {}, [], "a"]),
        (
            {
                "properties": {"a": {"type": "string"}},
                "additionalProperties": False,
                "allOf": [{"properties": {"b": {"type": "string"}}}],
            },
            [{"a": "x"}, {"a": 1}, {"b": "x"}, {}, 3],
        ),
        ({"additionalProperties": False}, [{}, {"a": 1}, []]),
        (
            {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
            [{"a": 1}, {"b": 1}, {"a": 1, "b": 1}, {}],
        ),
        ({"anyOf": [{"type": "string"}, {"minimum": 3}]}, ["x", 4, 2, None]),
        ({"not": {}}, [1, None]),
        (
            {
                "if": {"properties": {"t": {"const": "p"}}, "required": ["t"]},
                "then": {"required": ["x"]},
                "else": {"required": ["y"]},
            },
            [{"t": "p", "x": 1}, {"t": "p"}, {"t": "i", "y": 1}, {"t": "i"}, {}],
        ),
        (
            {
                "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#"}}}},
                "$ref": "#/$defs/node",
            },
            [{"next": {"next": {}}}, {"next": {"next": 1}}, 3],
        ),
    ],
)
def test_keywords_answer_as_jsonschema(schema: dict[str, Any], values: list[Any]) -> None:
    predicate = compile_schema(schema)
    reference = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for value in values:
        assert predicate(value) == reference.is_valid(value), value


@pytest.mark.parametrize(
    "schema",
    [
        {"patternProperties": {"^x": {}}},
        {"unevaluatedProperties": False},
        {"enum": [1, 2]},
        {"$ref": "other.json#/a"},
        {"dependentRequired": {"a": ["b"]}},
    ],
)
def test_unknown_keywords_are_refused_when_compiling(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)
