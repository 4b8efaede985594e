"""The few exceptions edi/ raises: one base class and one subclass per kind of caller mistake.

Problems found *inside* a well-formed document (a 999 error, a pyx12 finding) are values, not these.
"""

from __future__ import annotations


class EdiError(Exception):
    """Base of every exception raised by edi/."""


class X12ValueError(EdiError, ValueError):
    """A value cannot be written to X12: it holds a delimiter, a character outside the X12
    extended character set, or the 837 has no place for it. `field` names the model field
    (for example ``claims[2].subscriber.last_name``) and its X12 home."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (value {value!r})")


class X12SyntaxError(EdiError):
    """Input is not readable X12, or holds something the reader cannot turn into the model.

    Names the segment id, its 1-based number in the stream and the character offset where it
    starts, so a user can find it in the file."""

    def __init__(self, message: str, *, segment_id: str, segment_number: int, offset: int) -> None:
        self.message = message
        self.segment_id = segment_id
        self.segment_number = segment_number
        self.offset = offset
        super().__init__(
            f"{message} (segment {segment_id or '?'} #{segment_number} at offset {offset})"
        )


class UnsupportedVersionError(X12SyntaxError):
    """The functional group's version (GS08) is not one this code reads or validates."""

    def __init__(self, version: str, *, segment_number: int, offset: int) -> None:
        self.version = version
        super().__init__(
            f"unsupported version GS08={version!r}",
            segment_id="GS",
            segment_number=segment_number,
            offset=offset,
        )
