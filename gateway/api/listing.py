"""Query parameters shared by the listings (claims, files, interchanges): the page (`limit`,
`cursor`), single-valued parameters, true/false flags, unknown parameters.

Each reader appends what is wrong to the caller's `errors` instead of raising, so one 400
problem names every bad parameter at once; `check` raises it.
"""

from __future__ import annotations

import re

from multidict import MultiMapping

from gateway.errors import BadRequest
from gateway.storage import claims as store

DEFAULT_PAGE = 50
MAX_PAGE = 200
PAGE_PARAMETERS = frozenset({"limit", "cursor"})

Errors = list[dict[str, str]]

# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,4}")


def single(query: MultiMapping[str], name: str, errors: Errors) -> str | None:
    """The parameter's value, None when absent. Given more than once it is an error rather
    than a silent pick of one of them."""
    values = query.getall(name, [])
    if len(values) > 1:
        errors.append({"parameter": name, "message": "give it at most once"})
        return None
    return values[0] if values else None


def page(query: MultiMapping[str], errors: Errors, cursor_kind: str) -> tuple[int, str | None]:
    """`limit` (default DEFAULT_PAGE, at most MAX_PAGE) and `cursor`, which must be a
    next_cursor of the listing whose cursors start with `cursor_kind`."""
    limit = DEFAULT_PAGE
    raw_limit = single(query, "limit", errors)
    if raw_limit is not None:
        if _WHOLE_NUMBER.fullmatch(raw_limit) and 1 <= int(raw_limit) <= MAX_PAGE:
            limit = int(raw_limit)
        else:
            errors.append({"parameter": "limit", "message": f"must be a whole number 1-{MAX_PAGE}"})
    cursor = single(query, "cursor", errors) or None
    if cursor is not None:
        try:
            store.decode_cursor(cursor_kind, cursor)
        except ValueError:
            errors.append(
                {"parameter": "cursor", "message": "use next_cursor from a previous page"}
            )
            cursor = None
    return limit, cursor


def flag(query: MultiMapping[str], name: str, errors: Errors) -> bool:
    """A true/false parameter, false when absent."""
    raw = single(query, name, errors)
    if raw not in (None, "true", "false"):
        errors.append({"parameter": name, "message": "must be true or false"})
    return raw == "true"


def check(query: MultiMapping[str], errors: Errors, known: frozenset[str]) -> None:
    """Raise the 400 problem for everything found wrong, adding parameters that are neither
    `known` nor the page's: a misspelt filter must not quietly list everything."""
    unknown = set(query) - known - PAGE_PARAMETERS
    errors.extend(
        {"parameter": name, "message": "is not a known parameter"} for name in sorted(unknown)
    )
    if errors:
        raise BadRequest("Some query parameters are not valid; see errors.", errors=errors)
