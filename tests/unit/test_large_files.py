"""Large 837 files are read as streams: sets one at a time without holding a set's text, pyx12
validation from a file on disk with the same report as from text."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from edi.envelope import EnvelopeParams
from edi.read_837 import read_837
from edi.read_envelope import single_set_interchanges
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from edi.x12 import Delimiters
from tests.unit.claims import professional

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=1,
    group_control_number=1,
    transaction_control_number=1,
    created=datetime(2026, 11, 3, 10, 0),
)
ACK = AckControl(4001, 4002, 4003, datetime(2026, 11, 4, 8, 30))


class CountingStream(io.StringIO):
    """Remembers how much of the source has been taken."""

    taken = 0

    def read(self, size: int | None = -1) -> str:
        text = super().read(size)
        self.taken += len(text)
        return text


def many(count: int, prefix: str = "N", params: EnvelopeParams = PARAMS) -> str:
    return build_837(
        [professional(patient_control_number=f"{prefix}{i:06d}") for i in range(count)], params
    )


def test_a_large_set_is_read_without_its_whole_text() -> None:
    text = many(30_000)  # one set of about 3.6 MB
    assert len(text) > 3_000_000
    source = CountingStream(text)
    ((gs06, st01, st02, one_set),) = [next(single_set_interchanges(source))]
    assert (gs06, st01, st02) == ("1", "837", "0001")
    first = next(read_837(one_set))
    assert first.patient_control_number == "N000000"  # type: ignore[union-attr]
    # The set's reader and the file's each hold one chunk (1 MiB) of the file, not the file.
    assert source.taken <= 2 << 20 < len(text)


def test_sets_read_as_streams_give_the_claims_of_each_set() -> None:
    a = many(3, "A")
    b = many(2, "B", replace(PARAMS, delimiters=Delimiters("|", ">", "!", "\n")))
    sets = []
    for gs06, st01, st02, one_set in single_set_interchanges(io.StringIO(a + "\r\n" + b)):
        if gs06 == "1" and len(sets) == 0:
            sets.append([c.patient_control_number for c in read_837(one_set)])  # type: ignore[union-attr]
        else:
            sets.append(["skipped"])  # a set left unread is passed over
    assert sets == [["A000000", "A000001", "A000002"], ["skipped"]]
    pcns = [
        c.patient_control_number  # type: ignore[union-attr]
        for _, _, _, one_set in single_set_interchanges(a + b)
        for c in read_837(one_set)
    ]
    assert pcns == ["A000000", "A000001", "A000002", "B000000", "B000001"]


def test_a_set_read_partly_then_left_does_not_disturb_the_next() -> None:
    a, b = many(5, "A"), many(2, "B")
    seen = []
    for _, _, _, one_set in single_set_interchanges(io.StringIO(a + b)):
        seen.append(next(read_837(one_set)).patient_control_number)  # type: ignore[union-attr]
    assert seen == ["A000000", "B000000"]


def test_validate_from_a_file_gives_the_report_of_its_text(tmp_path: Path) -> None:
    text = many(40).replace("CLM*N000007*", "CLM*N000007*X", 1)
    path = tmp_path / "big.x12"
    path.write_text(text)
    from_text, from_file = validate(text, ACK), validate(path, ACK)
    assert not from_file.ok
    assert from_file == from_text
    (issue,) = [i for i in from_file.issues if i.segment_id == "CLM"]
    assert issue.loop == "2300"  # kept for the lines with an error, and only for those
