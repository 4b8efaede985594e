"""A JSON Schema (2020-12) compiled into one Python predicate: valid or not, never why.

It lets valid claims skip jsonschema's error walk (claim_schema.py). Each keyword keeps
jsonschema's exact meaning; a keyword it does not know is refused when compiling.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

Predicate = Callable[[Any], bool]

# Keywords that assert nothing; they only describe or hold definitions.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
)
# Keywords about one value, checked together in one function (see _leaf).
_VALUE_KEYWORDS = frozenset(
    {"type", "enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum"}
)


class UnsupportedSchema(Exception):
    """The schema uses a keyword (or form of one) this compiler does not implement."""


def _is_integer(value: Any) -> bool:
    # As jsonschema's 2020-12 type checker: bools are not integers, 1.0 is one.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPES: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def compile_schema(root: dict[str, Any]) -> Predicate:
    """The predicate for `root`; raises UnsupportedSchema for keywords not implemented."""
    return _Compiler(root).compile(root)


def _always(value: Any) -> bool:
    return True


def _all(checks: list[Predicate]) -> Predicate:
    # A plain loop: all() over a generator costs a frame per value, and this runs per field.
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        for each in checks:  # noqa: SIM110
            if not each(v):
                return False
        return True

    return check


def _type_test(value: Any) -> Predicate | None:
    if value is None:
        return None
    tests = [_TYPES[name] for name in (value if isinstance(value, list) else [value])]
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _allowed(schema: dict[str, Any]) -> frozenset[str] | None:
    if "enum" in schema and "const" in schema:
        raise UnsupportedSchema("enum and const in one schema")
    if "enum" not in schema and "const" not in schema:
        return None
    values = schema["enum"] if "enum" in schema else [schema["const"]]
    # Only strings: jsonschema compares a string with ==, while numbers and booleans follow
    # its own rules (1 is not True), which are not repeated here.
    if not all(isinstance(item, str) for item in values):
        raise UnsupportedSchema("enum or const of values other than strings")
    return frozenset(values)


def _format_test(name: str | None) -> Predicate | None:
    """As FormatChecker.check: an unknown format asserts nothing; the checker's own
    exception counts as not conforming."""
    if name is None or name not in Draft202012Validator.FORMAT_CHECKER.checkers:
        return None
    func, raises = Draft202012Validator.FORMAT_CHECKER.checkers[name]

    def conforms(v: Any) -> bool:
        try:
            return bool(func(v))
        except raises:
            return False

    return conforms


def _leaf(schema: dict[str, Any]) -> Predicate:
    """Every value keyword of one schema in one function: most of a claim's fields are
    strings with a length, a pattern or a list of codes, checked here in one call."""
    type_test = _type_test(schema.get("type"))
    allowed = _allowed(schema)
    min_length = schema.get("minLength", 0)
    max_length = schema.get("maxLength")
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    conforms = _format_test(schema.get("format"))
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    numeric = minimum is not None or maximum is not None

    def check(v: Any) -> bool:
        if type_test is not None and not type_test(v):
            return False
        if allowed is not None and not (isinstance(v, str) and v in allowed):
            return False
        if isinstance(v, str):
            if len(v) < min_length or (max_length is not None and len(v) > max_length):
                return False
            # jsonschema searches; it does not anchor the pattern.
            if search is not None and search(v) is None:
                return False
        elif (
            numeric
            and _is_number(v)
            and ((minimum is not None and v < minimum) or (maximum is not None and v > maximum))
        ):
            return False
        return conforms is None or conforms(v)

    return check


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Predicate | None] = {}

    def compile(self, schema: Any) -> Predicate:
        if schema is True or schema == {}:
            return _always
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"a schema must be an object or a boolean, not {schema!r}")
        checks = []
        if schema.keys() & _VALUE_KEYWORDS:
            checks.append(_leaf(schema))
        for name, value in schema.items():
            if name in _ANNOTATIONS or name in _VALUE_KEYWORDS:
                continue
            method = getattr(self, "_k_" + name.lstrip("$"), None)
            if method is None:
                raise UnsupportedSchema(f"keyword {name!r} is not implemented")
            check = method(value, schema)
            if check is not None:  # None: checked together with another keyword
                checks.append(check)
        return _all(checks)

    # Arrays ------------------------------------------------------------------------------

    def _k_minItems(self, value: int, schema: dict[str, Any]) -> Predicate:
        return lambda v: not isinstance(v, list) or len(v) >= value

    def _k_maxItems(self, value: int, schema: dict[str, Any]) -> Predicate:
        return lambda v: not isinstance(v, list) or len(v) <= value

    def _k_items(self, value: Any, schema: dict[str, Any]) -> Predicate:
        if "prefixItems" in schema:
            raise UnsupportedSchema("prefixItems")
        item = self.compile(value)

        def check(v: Any) -> bool:
            if isinstance(v, list):
                for each in v:
                    if not item(each):
                        return False
            return True

        return check

    # Objects -----------------------------------------------------------------------------

    def _k_required(self, value: list[str], schema: dict[str, Any]) -> Predicate:
        names = tuple(value)

        def check(v: Any) -> bool:
            if isinstance(v, dict):
                for name in names:
                    if name not in v:
                        return False
            return True

        return check

    def _k_properties(self, value: dict[str, Any], schema: dict[str, Any]) -> Predicate:
        if "patternProperties" in schema:
            raise UnsupportedSchema("patternProperties")
        fields = {name: self.compile(sub) for name, sub in value.items()}
        closed = schema.get("additionalProperties", True)
        if closed not in (True, False):
            raise UnsupportedSchema("additionalProperties other than true or false")
        # Only this schema's own properties count as known, as the keyword is defined.
        known = fields.keys()

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if closed is False and not v.keys() <= known:
                return False
            for name, item in v.items():
                field = fields.get(name)
                if field is not None and not field(item):
                    return False
            return True

        return check

    def _k_additionalProperties(self, value: Any, schema: dict[str, Any]) -> Predicate | None:
        if "properties" in schema or value is True:
            return None
        if value is False:
            return lambda v: not isinstance(v, dict) or not v
        raise UnsupportedSchema("additionalProperties other than true or false")

    # Combining ---------------------------------------------------------------------------

    def _k_allOf(self, value: list[Any], schema: dict[str, Any]) -> Predicate:
        return _all([self.compile(s) for s in value])

    def _k_anyOf(self, value: list[Any], schema: dict[str, Any]) -> Predicate:
        parts = [self.compile(s) for s in value]
        return lambda v: any(p(v) for p in parts)

    def _k_oneOf(self, value: list[Any], schema: dict[str, Any]) -> Predicate:
        parts = [self.compile(s) for s in value]
        return lambda v: sum(1 for p in parts if p(v)) == 1

    def _k_not(self, value: Any, schema: dict[str, Any]) -> Predicate:
        part = self.compile(value)
        return lambda v: not part(v)

    def _k_if(self, value: Any, schema: dict[str, Any]) -> Predicate:
        condition = self.compile(value)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda v: then(v) if condition(v) else otherwise(v)

    def _k_then(self, value: Any, schema: dict[str, Any]) -> None:
        return None  # compiled with if; without an if it asserts nothing

    def _k_else(self, value: Any, schema: dict[str, Any]) -> None:
        return None

    def _k_ref(self, value: str, schema: dict[str, Any]) -> Predicate:
        if not value.startswith("#"):
            raise UnsupportedSchema(f"$ref to another document: {value}")
        refs = self.refs
        if value not in refs:
            refs[value] = None  # a reference back to itself is looked up when called
            refs[value] = self.compile(self._resolve(value[1:]))
        compiled = refs[value]
        if compiled is None:
            return lambda v: refs[value](v)  # type: ignore[misc]
        return compiled

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.root
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node
