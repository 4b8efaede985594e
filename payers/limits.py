"""Size and text edits (SNIP 1-2): repeat limits, element lengths and the 837 character set."""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from edi.claim import Claim
from payers.registry import ScrubContext, Violation, rule

MAX_DIAGNOSES = 12  # HI: 12 diagnosis codes on a claim
MAX_LINES = {"professional": 50, "institutional": 999}  # loop 2400 repeat

# Element lengths (min, max) from the 5010 837 guides, by model class and field. Fields not
# listed are codes or identifiers checked by other rules.
_P = {"last_name": (1, 60), "first_name": (1, 35), "middle_name": (1, 25), "suffix": (1, 10)}
_PROVIDER = {
    **_P,
    "npi": (2, 80),
    "organization_name": (1, 60),
    "taxonomy": (1, 50),
    "secondary_id": (1, 50),
}
FIELD_LENGTHS: dict[str, dict[str, tuple[int, int]]] = {
    "Claim": {
        "patient_control_number": (1, 20),
        "payer_claim_number": (1, 50),
        "prior_authorization": (1, 50),
        "referral_number": (1, 50),
        "admitting_diagnosis": (1, 30),
    },
    "Submitter": {"name": (1, 60), "identifier": (2, 80), "first_name": (1, 35)},
    "Contact": {"name": (1, 60), "phone": (1, 256), "email": (1, 256), "fax": (1, 256)},
    "Receiver": {"name": (1, 60), "identifier": (2, 80)},
    "Address": {
        "line1": (1, 55),
        "line2": (1, 55),
        "city": (2, 30),
        "state": (2, 2),
        "postal_code": (3, 15),
        "country_code": (2, 3),
    },
    "Provider": _PROVIDER,
    "BillingProvider": {**_PROVIDER, "tax_id": (1, 50)},
    "Subscriber": {**_P, "member_id": (2, 80), "group_number": (1, 50), "group_name": (1, 60)},
    "Patient": _P,
    "Payer": {"payer_id": (2, 80), "name": (1, 60)},
    "Diagnosis": {"code": (1, 30)},
    "Procedure": {"code": (1, 48), "description": (1, 80)},
    "ServiceLine": {"line_control_number": (1, 50), "revenue_code": (1, 48)},
    "LineAdjudication": {"payer_id": (2, 80)},
    "Adjustment": {"reason": (1, 5)},
    "OtherSubscriber": {"member_id": (2, 80), "last_name": (1, 60), "first_name": (1, 35)},
    "OtherPayer": {"payer_id": (2, 80), "name": (1, 60), "group_number": (1, 50)},
}

# Printable ASCII is the X12 basic and extended character set as the 837 uses it; ~ * : ^ are
# excluded because they are the usual segment, element, component and repetition separators.
_BAD_CHARACTER = re.compile(r"[^\x20-\x7E]|[~*:^]")
DELIMITERS = "~*:^"
_NO_BOUNDS: dict[str, tuple[int, int]] = {}

# How to walk each field: a string, a tuple of strings, a nested dataclass, a tuple of them.
_STR, _STRS, _NODE, _NODES = 0, 1, 2, 3


@functools.cache
def _layout(cls: type) -> tuple[tuple[str, int], ...]:
    out = []
    for name, tp in typing.get_type_hints(cls).items():
        if tp is str or _optional(tp) is str or typing.get_origin(tp) is typing.Literal:
            out.append((name, _STR))
            continue
        inner = _optional(tp) or tp
        if dataclasses.is_dataclass(inner):
            out.append((name, _NODE))
        elif typing.get_origin(inner) is tuple:
            item = typing.get_args(inner)[0]
            if item is str:
                out.append((name, _STRS))
            elif dataclasses.is_dataclass(item):
                out.append((name, _NODES))
    return tuple(out)


def _optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return None


# (parent pointer, class name, field name, list index or -1, value) of one string in a claim.
_Text = tuple[str, str, str, int, str]


def _texts(claim: Claim, ctx: ScrubContext) -> list[_Text]:
    """Every string of the claim; the text rules share one walk per scrub."""
    cached = ctx.memo.get("texts")
    if cached is not None and cached[0] is claim:
        texts: list[_Text] = cached[1]
        return texts
    out: list[_Text] = []
    stack: list[tuple[Any, str]] = [(claim, "")]
    while stack:
        node, path = stack.pop()
        owner = type(node).__name__
        for name, kind in _layout(type(node)):
            value = getattr(node, name)
            if value is None:
                continue
            if kind == _STR:
                out.append((path, owner, name, -1, value))
            elif kind == _NODE:
                stack.append((value, f"{path}/{name}"))
            elif kind == _STRS:
                out.extend((path, owner, name, k, item) for k, item in enumerate(value))
            else:
                stack.extend((item, f"{path}/{name}/{k}") for k, item in enumerate(value))
    ctx.memo["texts"] = (claim, out)
    return out


def _where(path: str, name: str, index: int) -> str:
    return f"{path}/{name}" if index < 0 else f"{path}/{name}/{index}"


@rule(
    "DIAGNOSIS_LIMIT",
    snip_type=2,
    severity="error",
    description=f"A claim carries at most {MAX_DIAGNOSES} diagnoses (HI).",
    failing_example="13 diagnoses",
)
def diagnosis_limit(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        yield (
            f"/diagnoses/{MAX_DIAGNOSES}",
            f"{len(claim.diagnoses)} diagnoses; an 837 carries at most {MAX_DIAGNOSES}: keep the "
            "ones the lines point at.",
        )


@rule(
    "LINE_LIMIT",
    snip_type=2,
    severity="error",
    description="At most 50 service lines on a professional claim, 999 on an institutional one.",
    failing_example="51 lines on a professional claim",
)
def line_limit(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    limit = MAX_LINES[claim.claim_type]
    if len(claim.service_lines) > limit:
        yield (
            f"/service_lines/{limit}",
            f"{len(claim.service_lines)} service lines; a {claim.claim_type} 837 carries at "
            f"most {limit}: split the services over more claims.",
        )


@rule(
    "FIELD_LENGTH",
    snip_type=1,
    severity="error",
    description="Text fields fit the 837 element's minimum and maximum length (e.g. names 60, "
    "first names 35, address lines 55, city 2-30, patient control number 20).",
    failing_example="patient_control_number of 21 characters",
)
def field_length(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for path, owner, name, index, value in _texts(claim, ctx):
        bounds = FIELD_LENGTHS.get(owner, _NO_BOUNDS).get(name)
        if bounds is not None and not bounds[0] <= len(value) <= bounds[1]:
            low, high = bounds
            yield (
                _where(path, name, index),
                f"{name} has {len(value)} characters; the 837 allows {low} to {high}.",
            )


@rule(
    "TEXT_CHARACTERS",
    snip_type=1,
    severity="error",
    description="Text uses printable ASCII only (the X12 extended character set) and none of "
    "the separators ~ * : ^.",
    failing_example='address line1 "100 MAPLE ST*B"',
)
def text_characters(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    search = _BAD_CHARACTER.search
    for path, _, name, index, value in _texts(claim, ctx):
        bad = search(value)
        if bad is not None:
            char = bad.group()
            why = "is an X12 separator" if char in DELIMITERS else "is outside printable ASCII"
            yield (
                _where(path, name, index),
                f"{name} contains {char!r}, which {why}; remove or replace it.",
            )


@rule(
    "BLANK_TEXT",
    snip_type=1,
    severity="error",
    description="A text field given is not only spaces (an 837 element holds a value; leave an "
    "optional field out instead).",
    failing_example='subscriber last_name "   "',
)
def blank_text(claim: Claim, ctx: ScrubContext) -> Iterator[Violation]:
    for path, _, name, index, value in _texts(claim, ctx):
        if value and value.isspace():
            yield (
                _where(path, name, index),
                f"{name} holds only spaces; give its value, or leave it out if it is optional.",
            )
