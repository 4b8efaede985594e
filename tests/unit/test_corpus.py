"""The readers over the shared corpus of public sample files (read in place, never copied here):
every claim (CLM) and claim payment (CLP) the index counts is accounted for, and each file reads
the same when written as other systems write X12 (a BOM, blanks between segments, no last
terminator)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from edi.errors import UnsupportedVersionError
from edi.read_835 import read_835
from edi.read_837 import SUPPORTED_VERSIONS, UnreadableClaim, read_837
from edi.x12 import parse_isa
from tests.claim_counts import read_counts, segment_ids
from tests.unit.loose import loosened

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def corpus_rows(*kinds: str) -> list[dict[str, str]]:
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        return []
    with index.open(newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["st01"] in kinds]


ROWS = corpus_rows("837")
CLAIM_ROWS = corpus_rows("837", "835")
pytestmark = pytest.mark.skipif(not ROWS, reason="the shared corpus (../shared/corpus) is absent")


def _name(row: dict[str, str]) -> str:
    return row["file"].split("/")[-1]


@pytest.mark.parametrize("row", ROWS, ids=[_name(r) for r in ROWS])
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


@pytest.mark.parametrize("row", CLAIM_ROWS, ids=[_name(r) for r in CLAIM_ROWS])
def test_every_claim_of_the_corpus_is_accounted_for(row: dict[str, str]) -> None:
    """The guard: the claims (or claim payments) a reader returns, readable or not, number the
    file's CLM (or CLP) segments, as the index counts them; a file whose version is not read
    is refused naming its GS08, never read as nothing."""
    data = (CORPUS / row["file"]).read_bytes()
    expected = (int(row["clm"]), int(row["clp"]))
    ids = segment_ids(data)
    assert (ids.count("CLM"), ids.count("CLP")) == expected
    if row["st01"] == "837" and row["gs08"] not in SUPPORTED_VERSIONS:
        with pytest.raises(UnsupportedVersionError):
            read_counts(data)
        return
    assert read_counts(data) == expected


@pytest.mark.parametrize("row", CLAIM_ROWS, ids=[_name(r) for r in CLAIM_ROWS])
def test_the_corpus_reads_the_same_loosened(row: dict[str, str]) -> None:
    text = (CORPUS / row["file"]).read_bytes().decode()
    if row["st01"] == "837" and row["gs08"] not in SUPPORTED_VERSIONS:
        return
    if parse_isa(text.lstrip("\ufeff \t\r\n"))[0].segment.isspace():
        pytest.skip("a blank terminator: no blanks to add between segments")
    loose = loosened(text.lstrip("\ufeff \t\r\n"), ("\r\n  ", "\t", ""), last=False)
    if row["st01"] == "835":
        assert read_835(loose) == read_835(text)
        return
    plain, again = list(read_837(text)), list(read_837(loose))
    assert [type(i) for i in again] == [type(i) for i in plain]
    for was, now in zip(plain, again, strict=True):
        if isinstance(was, UnreadableClaim):
            assert isinstance(now, UnreadableClaim)
            assert (now.message, now.segment_id, now.segment_number) == (
                was.message,
                was.segment_id,
                was.segment_number,
            )
            assert loose[now.offset :].startswith(now.segment_id)
        else:
            assert now == was
