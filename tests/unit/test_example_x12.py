"""examples/professional-batch.x12, the README's sample 837 file: what build_837 makes of the
professional example claims, and clean under pyx12.

Regenerate after a change to the examples or the writer with
`python -m tests.unit.test_example_x12 > examples/professional-batch.x12`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.read_837 import read_837
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from tests.conftest import EXAMPLES, example

SAMPLE = EXAMPLES / "professional-batch.x12"
SOURCES = [
    "professional-office-visit.json",
    "preoperative-clearance.json",
    "professional-secondary.json",
]


def example_837() -> str:
    claims = []
    submitter = example(SOURCES[0])["submitter"]
    for n, name in enumerate(SOURCES, 1):
        data = example(name)
        # A billing system sends one file to the clearinghouse (1000B), whatever the payers.
        data["submitter"] = submitter
        data["receiver"] = {"name": "CLEARWAY", "identifier": "CLEARWAY"}
        # Their own account numbers: the file can be sent after the JSON examples without
        # being taken for the same claims again.
        data["patient_control_number"] = f"X12-2026-{n:04d}"
        claims.append(claim_from_json(data))
    params = EnvelopeParams(
        sender_id="SUNRISEBILLING",
        receiver_id="CLEARWAY",
        interchange_control_number=1,
        group_control_number=1,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        newline=True,
    )
    return build_837(claims, params)


def test_the_sample_file_is_what_the_writer_makes() -> None:
    assert SAMPLE.read_text() == example_837(), __doc__


def test_the_sample_file_is_clean_and_reads_back() -> None:
    text = SAMPLE.read_text()
    assert validate(text, AckControl(1, 1, 1, datetime.now(UTC))).ok
    pcns = [c.patient_control_number for c in read_837(text)]  # type: ignore[union-attr]
    assert pcns == ["X12-2026-0001", "X12-2026-0002", "X12-2026-0003"]


if __name__ == "__main__":
    print(example_837(), end="")
