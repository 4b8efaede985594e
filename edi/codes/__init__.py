"""Code lists of the response transactions (999, TA1, 277CA, 835) and their descriptions.

Kept as TSV data beside this module, each file naming its source at the top; loaded once.
A code missing from a list is shown as "unknown code", never refused: code lists grow faster
than any copy of them.
"""

from __future__ import annotations

import functools
from importlib import resources

UNKNOWN = "unknown code"

# Table name -> file. Two-column files hold one table; ack_codes.tsv holds several, named in
# its first column (they are small and come from the same two guides).
_FILES = (
    "claim_status_category.tsv",
    "claim_status.tsv",
    "entity_identifier.tsv",
    "claim_payment_status.tsv",
    "adjustment_group.tsv",
    "carc.tsv",
    "rarc.tsv",
    "ack_codes.tsv",
)


@functools.cache
def _tables() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    folder = resources.files(__package__)
    for name in _FILES:
        default = name.removesuffix(".tsv")
        for line in folder.joinpath(name).read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            table, code, text = (default, *cells) if len(cells) == 2 else cells
            tables.setdefault(table, {})[code] = text
    return tables


def table(name: str) -> dict[str, str]:
    """Every code of one table with its description (a copy; KeyError for an unknown table)."""
    return dict(_tables()[name])


def describe(name: str, code: str | None) -> str:
    """The description of `code` in table `name`, or "unknown code"."""
    if code is None:
        return UNKNOWN
    return _tables()[name].get(code, UNKNOWN)
