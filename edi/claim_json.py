"""Claim model <-> JSON: the claim JSON (schemas/claim.schema.json) to frozen dataclasses and back.

Driven by the dataclass type hints, so the model stays the one place fields are declared. Input
is assumed schema-valid: this does conversion, not validation.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any

from edi.claim import Claim


def claim_from_json(data: dict[str, Any]) -> Claim:
    """Build a Claim from schema-valid claim JSON (money as decimal strings, ISO dates)."""
    return _from_json(Claim, data)


def claim_to_json(claim: Claim) -> dict[str, Any]:
    """The claim's canonical JSON: absent and empty optional fields are left out."""
    return _to_json(claim)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _from_json(inner, value)
    if origin is tuple:
        (item,) = typing.get_args(tp)[:1]
        return tuple(_from_json(item, v) for v in value)
    if origin is typing.Literal:
        return value
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {
            f.name: _from_json(hints[f.name], value[f.name])
            for f in dataclasses.fields(tp)
            if f.name in value
        }
        return tp(**kwargs)
    if tp is Decimal:
        return Decimal(str(value))
    if tp is date:
        return date.fromisoformat(value)
    return value


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
