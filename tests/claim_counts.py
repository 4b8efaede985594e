"""The guard that no claim goes unmentioned: what a reader gives for a file, claims (or claim
payments) readable or not, numbers the file's CLM (or CLP) segments, counted here without the
readers' code."""

from __future__ import annotations

from edi.read_835 import read_835
from edi.read_837 import read_837


def segment_ids(text: str | bytes) -> list[str]:
    """The segment ids of a file of one interchange (or several sharing its delimiters), by a
    plain split: the element separator follows "ISA", the terminator follows ISA16; a BOM and
    blanks around segments dropped (not a blank that is the terminator)."""
    if isinstance(text, bytes):
        text = text.decode()
    body = text.lstrip("\ufeff \t\r\n")
    sep = body[3]
    at = 3
    for _ in range(15):
        at = body.index(sep, at + 1)
    term = body[at + 2]
    blanks = " \t\r\n".replace(term, "")
    pieces = (piece.strip(blanks) for piece in body.split(term))
    return [piece.split(sep, 1)[0] for piece in pieces if piece]


def read_counts(text: str | bytes) -> tuple[int, int]:
    """(items read_837 yields, claim payments read_835 gives) for a file, each read only when
    the file holds any CLM (CLP) segment."""
    ids = segment_ids(text)
    claims = len(list(read_837(text))) if "CLM" in ids else 0
    payments = sum(len(r.claims) for r in read_835(text)) if "CLP" in ids else 0
    return claims, payments


def assert_claims_accounted_for(text: str | bytes) -> None:
    """Every CLM becomes a Claim or an UnreadableClaim, every CLP a ClaimPayment."""
    ids = segment_ids(text)
    assert read_counts(text) == (ids.count("CLM"), ids.count("CLP")), "claims unaccounted for"
