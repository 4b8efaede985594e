"""ICD-10-CM lookups: does a code exist, and is it billable, in the bundled code set.

The code set is the FY2026 ICD-10-CM (CMS April 1, 2026 update) as packaged by
simple_icd_10_cm; it is read once, on first use, into a dictionary.
"""

from __future__ import annotations

import functools
import re
import warnings
from datetime import date
from typing import Literal

# The fiscal year the bundled data belongs to and the dates of service it governs.
DATA_VINTAGE = "FY2026 (CMS ICD-10-CM, April 1, 2026 update)"
VINTAGE_START = date(2025, 10, 1)
VINTAGE_END = date(2026, 9, 30)

CodeStatus = Literal["billable", "header", "unknown"]

# Categories, subcategories and full codes; chapters ("1") and blocks ("A00-A09") are not codes.
_CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")


@functools.cache
def _code_table() -> dict[str, bool]:
    # Imported here: parsing the package's tabular XML takes about a second, paid only by
    # processes that check diagnoses.
    with warnings.catch_warnings():
        # The package reads its data with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm

    return {
        code.replace(".", ""): cm.is_leaf(code)
        for code in cm.get_all_codes(with_dots=True)
        if _CODE_SHAPE.fullmatch(code)
    }


def code_status(code: str) -> CodeStatus:
    """billable (a leaf code), header (a category with subcodes) or unknown; dot optional."""
    leaf = _code_table().get(code.replace(".", "").upper())
    if leaf is None:
        return "unknown"
    return "billable" if leaf else "header"


def vintage_covers(service_date: date) -> Literal["before", "within", "after"]:
    """Where a date of service falls against the fiscal year of the bundled data."""
    if service_date < VINTAGE_START:
        return "before"
    if service_date > VINTAGE_END:
        return "after"
    return "within"


def warm_up() -> None:
    """Load the code table now rather than on the first claim (e.g. at process start)."""
    _code_table()


def loaded() -> bool:
    """Whether the code table is in memory (checking a diagnosis then costs no loading)."""
    return _code_table.cache_info().currsize > 0
