"""Checks claim JSON against schemas/claim.schema.json, listing every problem by JSON pointer.

Messages never repeat the submitted value: they go back to the client and into the stored
rejection record, and the value may be PHI.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from gateway.intake.schema_predicate import Predicate, compile_schema


@functools.cache
def claim_schema() -> dict[str, Any]:
    return json.loads(resources.files("schemas").joinpath("claim.schema.json").read_text())


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(claim_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.cache
def _is_valid() -> Predicate:
    return compile_schema(claim_schema())


def claim_errors(data: Any) -> list[dict[str, str]]:
    """Every schema violation as {"pointer": RFC 6901 pointer, "message": what to fix}."""
    # A valid claim is confirmed by the compiled predicate, about twenty times faster than
    # jsonschema's walk; only an invalid one is walked, to name each problem.
    if _is_valid()(data):
        return []
    found: dict[tuple[str, str], None] = {}
    for error in _validator().iter_errors(data):
        for pointer, message in _describe(error):
            found[(pointer, message)] = None
    return [{"pointer": p, "message": m} for p, m in sorted(found, key=_order)]


def _order(item: tuple[str, str]) -> tuple[list[str], str]:
    return item[0].split("/"), item[1]


def pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    at = pointer(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required":
        missing = [name for name in value if name not in (error.instance or {})]
        return [(f"{at}/{name}", "is required") for name in missing]
    if kind == "additionalProperties":
        known = set(schema.get("properties", {}))
        extra = [name for name in error.instance if name not in known]
        return [(f"{at}/{name}", "is not a known field") for name in extra]
    if kind == "not" and schema.get("not") == {}:
        return [(at, f"is not allowed for this claim_type: {schema.get('description', '')}")]
    messages = {
        "type": lambda: f"must be {_a(value)}",
        "enum": lambda: "must be one of " + ", ".join(map(str, value)),
        "const": lambda: f"must be {value!r}",
        "pattern": lambda: _pattern_message(schema),
        "format": lambda: (
            "must be a valid date (YYYY-MM-DD)" if value == "date" else f"must be a valid {value}"
        ),
        "minLength": lambda: f"must be at least {value} characters",
        "maxLength": lambda: f"must be at most {value} characters",
        "minItems": lambda: f"must have at least {value} item{'s' if value != 1 else ''}",
        "maxItems": lambda: f"must have at most {value} items",
        "minimum": lambda: f"must be at least {value}",
        "maximum": lambda: f"must be at most {value}",
        "oneOf": lambda: _one_of_message(error),
        "anyOf": lambda: _any_of_message(error),
    }
    describe = messages.get(str(kind))
    return [(at, describe() if describe else f"fails the schema's {kind} rule")]


def _a(type_name: Any) -> str:
    names = {
        "object": "an object",
        "array": "an array",
        "string": "a string",
        "integer": "an integer",
    }
    if isinstance(type_name, list):
        return " or ".join(names.get(t, t) for t in type_name)
    return names.get(type_name, f"a {type_name}")


def _pattern_message(schema: dict[str, Any]) -> str:
    description = schema.get("description")
    if description:
        return f"has the wrong format: {description}"
    return f"has the wrong format (expected {schema.get('pattern')})"


def _one_of_message(error: ValidationError) -> str:
    options = error.validator_value
    if all("required" in option for option in options):
        return "give either organization_name or last_name (with first_name), not both"
    if all("type" in option for option in options):
        return 'must be a decimal string such as "1" or "2.5", or a whole number'
    return "matches none of the allowed forms"


def _any_of_message(error: ValidationError) -> str:
    fields = [option["required"][0] for option in error.validator_value if "required" in option]
    return "give at least one of " + ", ".join(fields) if fields else "matches no allowed form"
