"""Claim model <-> JSON: the claim JSON (schemas/claim.schema.json) to frozen dataclasses and back.

Driven by the dataclass type hints, so the model stays the one place fields are declared. Input
is assumed schema-valid: this does conversion, not validation.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from edi.claim import Claim


def claim_from_json(data: dict[str, Any]) -> Claim:
    """Build a Claim from schema-valid claim JSON (money as decimal strings, ISO dates)."""
    return _converter(Claim)(data)


def claim_to_json(claim: Claim) -> dict[str, Any]:
    """The claim's canonical JSON: absent and empty optional fields are left out."""
    return _to_json(claim)


def _same(value: Any) -> Any:
    return value


@functools.cache
def _converter(tp: Any) -> Callable[[Any], Any]:
    """JSON -> model for one type hint, worked out once per type: claims are converted on
    every intake and pipeline step, and reading the hints each time cost most of the work."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        convert = _converter(inner)
        if convert is _same:
            return _same
        return lambda value: None if value is None else convert(value)
    if origin is tuple:
        (item,) = typing.get_args(tp)[:1]
        convert = _converter(item)
        if convert is _same:
            return tuple
        return lambda value: tuple(map(convert, value))
    if origin is typing.Literal:
        return _same
    if dataclasses.is_dataclass(tp):
        return _dataclass_converter(tp)
    if tp is Decimal:
        return lambda value: Decimal(str(value))
    if tp is date:
        return date.fromisoformat
    if tp is int:
        return _integer
    return _same


def _integer(value: int | float) -> int:
    # JSON Schema counts 1.0 as an integer; the model (and X12, SV107 "1") must not see "1.0".
    return int(value) if type(value) is float else value


def _dataclass_converter(cls: Any) -> Callable[[Any], Any]:
    fields: list[tuple[str, Callable[[Any], Any]]] | None = None

    def build(value: dict[str, Any]) -> Any:
        nonlocal fields
        if fields is None:  # resolved on first use, so a type may refer to itself
            hints = typing.get_type_hints(cls)
            fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]
        return cls(**{name: convert(value[name]) for name, convert in fields if name in value})

    return build


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is None or v == ():
                continue
            out[f.name] = _to_json(v)
        return out
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
