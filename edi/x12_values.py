"""X12 element values <-> Python values for the response readers and writers.

D8 dates, DT/TM times, R amounts (Decimal, never float), N0 counts and ':'-style composites.
A value that cannot be converted raises X12SyntaxError at the segment the reader last yielded.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal, InvalidOperation

from edi.x12 import SegmentReader

# Remittance files repeat a few dates thousands of times; parsing each once saves ~1 us a date.
# The cache is cleared when full so a pathological file cannot grow it without bound.
DATE_CACHE: dict[str, date] = {}
_DATE_CACHE_MAX = 4096


def parse_date(text: str, reader: SegmentReader, field: str) -> date:
    """CCYYMMDD (D8) -> date."""
    found = DATE_CACHE.get(text)
    if found is not None:
        return found
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        value = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise reader.error(f"{field} is not a CCYYMMDD date: {text!r}") from None
    if len(DATE_CACHE) >= _DATE_CACHE_MAX:
        DATE_CACHE.clear()
    DATE_CACHE[text] = value
    return value


def parse_short_date(text: str, reader: SegmentReader, field: str) -> date:
    """YYMMDD (the ISA and TA1 form) -> date, in the 2000s (X12 5010 started in 2012)."""
    return parse_date("20" + text if len(text) == 6 else text, reader, field)


def parse_time(text: str, reader: SegmentReader, field: str) -> time:
    """HHMM, HHMMSS or HHMMSSd.. -> time (fractions of a second dropped)."""
    try:
        if len(text) < 4 or not text[:6].isdigit():
            raise ValueError(text)
        second = int(text[4:6]) if len(text) >= 6 else 0
        return time(int(text[:2]), int(text[2:4]), second)
    except ValueError:
        raise reader.error(f"{field} is not an HHMM time: {text!r}") from None


def parse_amount(text: str, reader: SegmentReader, field: str) -> Decimal:
    """An R (decimal number) element -> Decimal."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise reader.error(f"{field} is not a number: {text!r}") from None
    if not value.is_finite():
        raise reader.error(f"{field} is not a number: {text!r}")
    return value


def parse_count(text: str, reader: SegmentReader, field: str) -> int:
    """An N0 (whole number) element -> int."""
    if not text.strip().lstrip("-").isdigit():
        raise reader.error(f"{field} is not a whole number: {text!r}")
    return int(text)


def optional(elements: list[str], index: int) -> str | None:
    """Element `index` of a segment, or None when absent or empty."""
    if index < len(elements):
        return elements[index] or None
    return None


def element(elements: list[str], index: int) -> str:
    """Element `index` of a segment, or "" when absent."""
    return elements[index] if index < len(elements) else ""


def format_date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def format_amount(value: Decimal) -> str:
    """Decimal -> R element: plain notation, no exponent (X12 has none)."""
    return format(value, "f")


def format_count(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)
