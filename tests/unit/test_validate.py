"""validate: one broken element in a clean 837 gives the matching pyx12 finding and 999."""

from __future__ import annotations

from datetime import datetime

import pytest

from edi.envelope import EnvelopeParams
from edi.errors import UnsupportedVersionError
from edi.read_837 import UnreadableClaim, read_837
from edi.validate import AckControl, ValidationIssue, validate
from edi.write_837 import build_837
from edi.x12 import SegmentReader
from tests.unit.claims import INSTITUTIONAL_SHAPES, PROFESSIONAL_SHAPES

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=7,
    group_control_number=8,
    transaction_control_number=9,
    created=datetime(2026, 11, 3, 10, 0),
)
ACK = AckControl(4001, 4002, 4003, datetime(2026, 11, 4, 8, 30))
CLEAN = build_837([PROFESSIONAL_SHAPES["secondary-with-line-adjudication"]], PARAMS)


def _replace_segment(text: str, prefix: str, new: str | None) -> str:
    segs = text.split("~")
    (i,) = [n for n, s in enumerate(segs) if s.startswith(prefix)][:1]
    if new is None:
        del segs[i]
    else:
        segs[i] = new
    return "~".join(segs)


def _issues(text: str) -> tuple[ValidationIssue, ...]:
    report = validate(text, ACK)
    assert not report.ok
    return report.issues


def test_clean_file_and_our_999_control_numbers() -> None:
    report = validate(CLEAN, ACK)
    assert report.ok and report.issues == ()
    ack = list(SegmentReader(report.ack_999))
    isa, gs, st = ack[0], ack[1], ack[2]
    assert isa[13] == "000004001" and isa[9] == "261104" and isa[10] == "0830"
    assert isa[6].strip() == "PAYER01" and isa[8].strip() == "SUB0001"  # sent back
    assert gs[1] == "FA" and gs[6] == "4002" and gs[8] == "005010X231A1"
    assert st[:3] == ["ST", "999", "4003"]
    assert ["AK1", "HC", "8", "005010X222A1"] in ack
    assert ["AK2", "837", "0009", "005010X222A1"] in ack
    assert ack[-2] == ["GE", "1", "4002"] and ack[-1] == ["IEA", "1", "000004001"]
    se = next(s for s in ack if s[0] == "SE")
    assert int(se[1]) == ack.index(se) - 1


@pytest.mark.parametrize(
    ("prefix", "new", "level", "segment_id", "element", "code"),
    [
        # too long: CLM01 is at most 38 characters in the standard
        ("CLM*", "CLM*" + "X" * 39 + "*150.00***11:B:1*Y*A*Y*Y", "element", "CLM", 1, "5"),
        # bad code: SBR09 claim filing indicator
        ("SBR*S*", "SBR*S**GRP1******QQ", "element", "SBR", 9, "7"),
        # invalid date
        ("DTP*472*", "DTP*472*D8*20261399", "element", "DTP", 3, "8"),
    ],
)
def test_broken_element_is_located(
    prefix: str, new: str, level: str, segment_id: str, element: int, code: str
) -> None:
    text = _replace_segment(CLEAN, prefix, new)
    issues = _issues(text)
    match = [i for i in issues if i.level == level and i.segment_id == segment_id]
    assert match, issues
    issue = match[0]
    assert issue.element_position == element and issue.code == code
    segs = list(SegmentReader(text))
    assert segs[issue.segment_number - 1][0] == segment_id
    assert issue.loop in ("2300", "2000B", "2400", "2320")
    report = validate(text, ACK)
    assert "IK5*R" in report.ack_999 and "IK4*" in report.ack_999
    # The reader either reads the claim or names the segment and position.
    for item in read_837(text):
        if isinstance(item, UnreadableClaim):
            assert text[item.offset :].startswith(item.segment_id)


def test_a_character_a_999_cannot_copy_is_reported_without_its_copy() -> None:
    # A Latin-1 letter read as U+FFFD: IK404 (the copy of the bad value) cannot hold it, so
    # the 999 leaves the optional copy out instead of failing to be written.
    name = next(s for s in CLEAN.split("~") if s.startswith("NM1*IL*")).split("*")[3]
    text = CLEAN.replace(f"NM1*IL*1*{name}*", "NM1*IL*1*M\ufffdLLER*", 1)
    issues = _issues(text)
    (issue,) = [i for i in issues if i.segment_id == "NM1"]
    assert issue.element_position == 3
    assert list(SegmentReader(text))[issue.segment_number - 1][:2] == ["NM1", "IL"]
    ack = validate(text, ACK).ack_999
    (ik4,) = [s for s in SegmentReader(ack) if s[0] == "IK4"]
    assert ik4[1] == "3" and len(ik4) == 4  # no IK404
    assert validate(ack, ACK).ok


def test_missing_required_segment() -> None:
    text = _replace_segment(CLEAN, "DTP*472*", None)
    issues = _issues(text)
    assert any(i.level == "segment" and i.code == "3" for i in issues), issues
    (item,) = read_837(text)
    assert isinstance(item, UnreadableClaim) and item.segment_id == "SV1"
    assert "DTP*472" in item.message


def test_wrong_se_count() -> None:
    se = next(s for s in CLEAN.split("~") if s.startswith("SE*"))
    text = CLEAN.replace(se, "SE*99*0009")
    issues = _issues(text)
    assert any(i.level == "transaction" and i.segment_id == "ST" for i in issues), issues
    assert len(list(read_837(text))) == 1  # counts are validate()'s job, not the reader's


def test_bad_control_numbers() -> None:
    text = CLEAN.replace("IEA*1*000000007", "IEA*1*000000070")
    issues = _issues(text)
    assert any(i.level == "interchange" for i in issues), issues
    text = CLEAN.replace("GE*1*8", "GE*1*80")
    assert any(i.level == "group" for i in _issues(text))
    se = next(s for s in CLEAN.split("~") if s.startswith("SE*"))
    text = CLEAN.replace(se, se.replace("*0009", "*0010"))
    assert any(i.level == "transaction" for i in _issues(text))


def test_version_without_map_is_our_error() -> None:
    text = CLEAN.replace("005010X222A1", "005010X222A2")
    with pytest.raises(UnsupportedVersionError) as exc:
        validate(text, ACK)
    assert exc.value.version == "005010X222A2" and exc.value.segment_number == 2


_FRESH = """
import sys
from datetime import datetime
from edi.validate import AckControl, validate
report = validate(sys.stdin.read(), AckControl(1, 1, 1, datetime(2026, 11, 4, 8, 30)))
print(report.ok, len(report.issues))
"""


@pytest.mark.parametrize(
    "text",
    [
        # No GS: nothing looks a map up before pyx12 does, under the swapped-in loaders.
        CLEAN[: CLEAN.index("~") + 1] + "IEA*0*000000007~",
        # The same clean file as another system may write it.
        "\ufeff" + CLEAN.replace("~", "~\r\n    "),
    ],
    ids=["no-group", "indented"],
)
def test_validate_in_a_fresh_process(text: str) -> None:
    """The map index is built on first use; in a new process that may happen while pyx12 runs
    with our cached loaders in place, which must not call themselves (a RecursionError)."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", _FRESH],
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RecursionError" not in done.stderr
    assert done.stdout.split() == ["True", "0"]


def _loose(text: str, gap: str = "\r\n    ", last: bool = True) -> str:
    """`text` as some other systems write it: a byte-order mark, `gap` after every terminator,
    the last terminator left out unless `last`."""
    loose = "\ufeff" + text.replace("~", "~" + gap)
    return loose if last else loose.rstrip().removesuffix("~")


@pytest.mark.parametrize("gap", ["\r\n    ", " ", "\t", "\n \r\n"])
@pytest.mark.parametrize("broken", [False, True])
def test_a_bom_and_blanks_between_segments_validate_as_the_plain_file(
    gap: str, broken: bool
) -> None:
    text = _replace_segment(CLEAN, "SBR*S*", "SBR*S**GRP1******QQ") if broken else CLEAN
    plain = validate(text, ACK)
    loose = validate(_loose(text, gap), ACK)
    assert loose == plain and loose.ok is not broken
    assert loose.warnings == ()


def test_a_missing_last_terminator_is_accepted_with_a_warning() -> None:
    for text in (CLEAN.removesuffix("~"), _loose(CLEAN, last=False)):
        report = validate(text, ACK)
        assert report.ok and report.issues == ()
        assert report.ack_999 == validate(CLEAN, ACK).ack_999
        (warning,) = report.warnings
        assert "IEA" in warning and "terminator" in warning


@pytest.mark.parametrize(
    ("claim", "later", "earlier"),
    [
        (PROFESSIONAL_SHAPES["providers-and-references"], "005010X222A1", "005010X222"),
        (INSTITUTIONAL_SHAPES["providers-and-references"], "005010X223A2", "005010X223A1"),
    ],
)
def test_earlier_guides_are_validated_with_the_later_rules_and_a_warning(
    claim: object, later: str, earlier: str
) -> None:
    text = build_837([claim], PARAMS).replace(later, earlier)  # type: ignore[list-item]
    report = validate(text, ACK)
    assert report.ok and report.issues == ()
    (warning,) = report.warnings
    assert earlier in warning and later in warning and "GS #2" in warning
    # The 999 echoes the version the file gave.
    ack = list(SegmentReader(report.ack_999))
    assert ["AK1", "HC", "8", earlier] in ack and ["AK2", "837", "0009", earlier] in ack
    # A broken element is still found, with the later guide's rules.
    broken = _replace_segment(text, "CLM*", "CLM*" + "X" * 39 + "*150.00***11:B:1*Y*A*Y*Y")
    assert any(i.segment_id == "CLM" for i in validate(broken, ACK).issues)
