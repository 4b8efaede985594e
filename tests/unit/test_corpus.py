"""read_837 over the shared corpus of public sample files (read in place, never copied here)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from edi.errors import UnsupportedVersionError
from edi.read_837 import SUPPORTED_VERSIONS, UnreadableClaim, read_837

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def corpus_837() -> list[dict[str, str]]:
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        return []
    with index.open(newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["st01"] == "837"]


ROWS = corpus_837()
pytestmark = pytest.mark.skipif(not ROWS, reason="the shared corpus (../shared/corpus) is absent")


@pytest.mark.parametrize("row", ROWS, ids=[r["file"].split("/")[-1] for r in ROWS])
def test_corpus_837(row: dict[str, str]) -> None:
    path = CORPUS / row["file"]
    with path.open("rb") as f:
        if row["gs08"] not in SUPPORTED_VERSIONS:
            with pytest.raises(UnsupportedVersionError) as exc:
                list(read_837(f))
            assert exc.value.version == row["gs08"] and exc.value.segment_id == "GS"
            return
        items = list(read_837(f))
    assert len(items) == int(row["clm"])
    text = path.read_bytes().decode()
    for item in items:
        if isinstance(item, UnreadableClaim):
            # Located: the offset points at the named segment.
            assert text[item.offset :].startswith(item.segment_id)
