"""X12 tokens: delimiters read from ISA, a streaming segment reader and a checking segment writer.

Knows nothing about transaction sets; envelope.py and the 837 modules build on it.
"""

from __future__ import annotations

import codecs
import functools
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import IO, Any

from edi.errors import X12SyntaxError, X12ValueError

ISA_LENGTH = 106  # ISA is fixed width: 105 characters and the segment terminator


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four separators of one interchange (ISA position 4, ISA16, ISA11, after ISA16)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"  # ISA11 in 5010; 4010 has no repetition separator ("")
    segment: str = "~"

    def __post_init__(self) -> None:
        chars = [self.element, self.component, self.segment]
        if self.repetition:
            chars.append(self.repetition)
        for ch in chars:
            if len(ch) != 1 or ch.isalnum() or ch == " ":
                raise X12ValueError("delimiters", ch, "a delimiter is one non-alphanumeric char")
        if len(set(chars)) != len(chars):
            raise X12ValueError("delimiters", chars, "delimiters must differ from each other")


DEFAULT_DELIMITERS = Delimiters()


# 5010 extended character set = printable ASCII (pyx12 agrees); the delimiters are cut out of it.
@functools.cache
def _bad_chars(delims: Delimiters) -> re.Pattern[str]:
    used = re.escape(delims.element + delims.component + delims.repetition + delims.segment)
    return re.compile(f"[^ -~]|[{used}]")


@functools.cache
def _bad_batch_chars(delims: Delimiters) -> re.Pattern[str]:
    """`_bad_chars` letting the component separator through: a batch counts those instead."""
    comp = re.escape(delims.component)
    used = re.escape(delims.element + delims.repetition + delims.segment)
    return re.compile(f"[^ -~{comp}]|[{used}]")


def check_value(value: str, field: str, delims: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Return `value` if it can stand in an X12 element, else raise X12ValueError naming `field`."""
    bad = _bad_chars(delims).search(value)
    if bad is not None:
        ch = bad.group()
        if ch in (delims.element, delims.component, delims.repetition, delims.segment):
            reason = f"contains the delimiter {ch!r}"
        else:
            reason = f"contains {ch!r}, outside the X12 extended character set"
        raise X12ValueError(field, value, reason)
    return value


def x12_text(value: str, delims: Delimiters = DEFAULT_DELIMITERS) -> str:
    """`value` with every character that cannot stand in an element (a delimiter, or one
    outside the X12 extended character set) replaced by a space: for free text of our own
    making, such as a 277CA's STC12 message, where refusing would lose the rest of it."""
    return _bad_chars(delims).sub(" ", value)


class SegmentWriter:
    """Collects segments as text, refusing values that would break the interchange.

    Elements are strings; a tuple element is a composite, its parts joined by the component
    separator. Trailing empty elements and components are dropped, as X12 requires.

    `seg` checks each element as it goes, so a refused value names its field. A regex search
    per element costs more than formatting it, so `batch` runs a group of writes (one claim,
    one loop header) unchecked and then checks all their values at once: one search of their
    concatenation for a character that is never allowed, and a count of the component
    separators against the number the composites put there. Only when that fails (or the group
    raises) is the group dropped and written again element by element, which raises the error
    the checked path always raised, naming the field.
    """

    __slots__ = ("_bad", "_bad_batch", "_checking", "_comp", "_comps", "_pending", "_sep",
                 "_term", "delims", "parts")  # fmt: skip

    def __init__(self, delims: Delimiters = DEFAULT_DELIMITERS, *, newline: bool = False) -> None:
        self.delims = delims
        self._sep = delims.element
        self._comp = delims.component
        self._term = delims.segment + ("\n" if newline else "")
        self._bad = _bad_chars(delims).search
        self._bad_batch = _bad_batch_chars(delims).search
        self._checking = True
        self._pending: list[str] = []  # element texts written unchecked inside `batch`
        self._comps = 0  # component separators the composites in _pending hold
        self.parts: list[str] = []  # one formatted segment each

    def seg(
        self,
        elements: Sequence[str | tuple[str, ...]],
        fields: Sequence[str] | None = None,
    ) -> None:
        """Add one segment; `fields` names each element for error messages (same order)."""
        if not self._checking:
            self.flat([self.composite(e) if type(e) is tuple else e for e in elements])
            return
        out: list[str] = []
        comp = self._comp
        bad = self._bad
        for i, e in enumerate(elements):
            if type(e) is tuple:
                for j, part in enumerate(e):
                    if bad(part):
                        self._fail(elements, fields, i, part, j)
                e = comp.join(e).rstrip(comp)
            elif bad(e):  # type: ignore[arg-type]
                self._fail(elements, fields, i, e)  # type: ignore[arg-type]
            out.append(e)  # type: ignore[arg-type]
        while out and not out[-1]:
            out.pop()
        self.parts.append(self._sep.join(out) + self._term)

    def flat(
        self,
        elements: Sequence[str | tuple[str, ...]],
        fields: Sequence[str] | None = None,
    ) -> None:
        """`seg` for a segment whose composites come from `composite`: inside a batch, one
        join and no loop over the elements."""
        if self._checking:
            self.seg(elements, fields)
            return
        # Stripping trailing separators equals dropping trailing empty elements unless a value
        # ends with a separator; such a value fails the batch check, so its text is not kept.
        self._pending.extend(elements)  # type: ignore[arg-type]
        text = self._sep.join(elements)  # type: ignore[arg-type]
        self.parts.append(text.rstrip(self._sep) + self._term)

    def composite(self, parts: tuple[str, ...]) -> str | tuple[str, ...]:
        """A composite element for `flat`: inside a batch its text, trailing empty parts
        dropped; else the parts themselves, for `seg` to check one by one."""
        if self._checking:
            return parts
        comp = self._comp
        text = comp.join(parts)
        kept = text.rstrip(comp)
        # Separators this composite should leave; a part holding one makes the count differ.
        self._comps += len(parts) - 1 - (len(text) - len(kept))
        return kept

    def batch(self, write: Callable[..., None], *args: Any) -> None:
        """Call `write(self, *args)`, checking all the values it writes at once.

        The result equals calling it directly: the same text, or the same exception. When a
        value is refused, or `write` raises, its segments are dropped and `write` runs again
        with every element checked, so the exception names the field as `seg` does.
        """
        if not self._checking:  # already inside a batch: the outer one checks
            write(self, *args)
            return
        parts_before = len(self.parts)
        self._checking = False
        try:
            write(self, *args)
            text = "".join(self._pending)
            clean = self._bad_batch(text) is None and text.count(self._comp) == self._comps
        except Exception:
            clean = False
        finally:
            self._checking = True
            self._pending.clear()
            self._comps = 0
        if clean:
            return
        del self.parts[parts_before:]
        write(self, *args)

    def raw(self, text: str) -> None:
        """Add a segment already formatted by this writer (a cached, checked segment)."""
        self.parts.append(text)

    @property
    def count(self) -> int:
        """Segments written so far."""
        return len(self.parts)

    def _fail(
        self,
        elements: Sequence[str | tuple[str, ...]],
        fields: Sequence[str] | None,
        index: int,
        value: str,
        component: int | None = None,
    ) -> None:
        seg_id = elements[0]
        ref = f"{seg_id}{index:02d}" + ("" if component is None else f"-{component + 1}")
        name = fields[index - 1] if fields and index - 1 < len(fields) else ""
        field = f"{name} ({ref})" if name else ref
        check_value(value, field, self.delims)
        raise AssertionError("unreachable: the value passed the check it just failed")

    def text(self) -> str:
        return "".join(self.parts)


def parse_isa(text: str, *, segment_number: int = 1, offset: int = 0) -> tuple[Delimiters, int]:
    """The delimiters of the interchange whose ISA begins `text`, and the ISA's length.

    Reads them the way receivers do: the element separator is the character after "ISA", the
    component separator follows the 16th element separator and the segment terminator follows
    that: positions 3, 104 and 105 of a fixed-width ISA, counted from its "I" (callers skip a
    byte-order mark and blanks before it). Fixed width is not required here (validation
    reports a wrong width).
    """

    def fail(message: str) -> X12SyntaxError:
        # A segment id is named only when the text starts like a segment ("GS*"): the first
        # letters of anything else ("hel" of "hello") would read as a segment that is not there.
        seg_id = re.match(r"([A-Z][A-Z0-9]{1,2})[^A-Za-z0-9 ]", text[:4])
        return X12SyntaxError(
            message,
            segment_id="ISA" if text.startswith("ISA") else seg_id.group(1) if seg_id else "",
            segment_number=segment_number,
            offset=offset,
        )

    if not text.startswith("ISA"):
        raise fail("an interchange must start with ISA")
    if len(text) < 4:
        raise fail("ISA is cut short")
    sep = text[3]
    seps = [3]
    for _ in range(15):
        nxt = text.find(sep, seps[-1] + 1, ISA_LENGTH + 64)
        if nxt < 0:
            raise fail("ISA has fewer than 16 elements")
        seps.append(nxt)
    end = seps[-1] + 3  # ISA16, then the segment terminator
    if len(text) < end:
        raise fail("ISA is cut short")
    component, terminator = text[end - 2], text[end - 1]
    version = text[seps[11] + 1 : seps[12]]  # ISA12
    isa11 = text[seps[10] + 1 : seps[11]]
    # 5010 puts the repetition separator in ISA11; files that keep 4010's "U" there have none.
    repetition = isa11 if version >= "00501" and not isa11.isalnum() else ""
    try:
        delims = Delimiters(sep, component, repetition, terminator)
    except X12ValueError as exc:
        raise fail(f"ISA delimiters are not usable: {exc.reason}") from None
    return delims, end


def isa_elements(text: str) -> list[str] | None:
    """The elements of the ISA that begins `text` ([0] is "ISA", [13] the control number),
    blanks trimmed, or None when no readable ISA begins it. For callers that only need the
    header (who sent a file, under which control number) before reading or validating it."""
    segments = head_segments(text, 1)
    return segments[0] if segments else None


def head_segments(text: str, count: int) -> list[list[str]]:
    """The first `count` segments of the interchange that begins `text` (its start, say the
    first 4 kB of a file, after any byte-order mark and blanks), each as its elements: the ISA
    first, blanks trimmed, then GS, ST, BHT ... as far as `text` holds them whole. [] when no
    readable ISA begins it. For a look at a file's header without reading the file."""
    text = text[_BLANK(text).end() :]
    try:
        delims, end = parse_isa(text)
    except X12SyntaxError:
        return []
    found = [[element.strip() for element in text[: end - 1].split(delims.element)]]
    # Every piece but the last ended with a terminator: those are whole segments.
    whole = text[end:].split(delims.segment)[:-1]
    blanks = skippable(delims)
    found += [piece.lstrip(blanks).split(delims.element) for piece in whole[: count - 1]]
    return found


@functools.cache
def skippable(delims: Delimiters) -> str:
    """The blanks skipped between a segment terminator and the next segment id: space, tab, CR
    and LF, but for any of them that is a delimiter of the interchange (a newline terminator
    ends a segment, it is not a blank)."""
    used = (delims.element, delims.component, delims.repetition, delims.segment)
    return "".join(ch for ch in " \t\r\n" if ch not in used)


def stray_id(seg_id: str, wanted: str) -> bool:
    """Whether a segment id that is not `wanted` ("CLM") is still meant as it: in other case,
    or with characters no segment id holds around it (a control character, a byte-order mark
    in mid-file). A reader that would pass over such a segment as one it has no use for
    reports it instead, so a claim is never lost without a word. Cheap for the usual id."""
    if seg_id.isalnum() and seg_id.isupper() and seg_id.isascii():
        return False
    return _NOT_ID.sub("", seg_id).upper() == wanted


_NOT_ID = re.compile("[^A-Za-z0-9]")

_CHUNK = 1 << 20


class _Layout:
    """Where the segments of one batch sit in the stream, worked out when first asked."""

    __slots__ = ("base", "blanks", "number", "origin", "parts", "starts")

    def __init__(
        self, parts: list[str], origin: list[int] | None, base: int, number: int, blanks: str = ""
    ) -> None:
        self.parts = parts  # the segment texts as split from the stream
        self.origin = origin  # batch index -> parts index, when empty segments were dropped
        self.base = base  # stream offset of parts[0]
        self.number = number  # segments in the stream before the batch
        self.blanks = blanks  # what was skipped at the start of each text ("": nothing)
        self.starts: list[int] | None = None

    def offset(self, index: int) -> int:
        """Stream offset of the batch's `index`-th segment."""
        j = index if self.origin is None else self.origin[index]
        if self.starts is None:
            self.starts = list(accumulate(map(len, self.parts), initial=self.base))
        raw = self.parts[j]
        # Each part ended with a one-character terminator; skip the blanks it starts with.
        return self.starts[j] + j + len(raw) - len(raw.lstrip(self.blanks))


Mark = tuple[int, _Layout]  # a segment's place, from SegmentReader.mark


class SegmentReader:
    """Yields the segments of a stream of X12 interchanges as lists of elements ([0] is the id).

    Reads `chunk_size` characters at a time, so memory stays flat however large the file.
    Delimiters are taken from each ISA. Files as other systems write them are read as they mean:
    a byte-order mark and blanks before an ISA, and blanks (space, tab, CR, LF; not one that is a
    delimiter, such as a newline terminator) between a segment terminator and the next segment
    id are skipped; an IEA that ends the stream without its terminator is taken whole, and
    `unterminated` says so (a warning for whoever reports on the file). After each yielded
    segment, `segment_number` (1-based, whole stream) and `offset` (characters from the start
    of the stream; bytes for ASCII files) locate it for error messages.

    Each chunk is split on the segment terminator once into a batch of segment texts; the
    location of a segment is worked out only when asked for (errors, and the CLM and service
    lines the 837 reader remembers), not for every segment. `batches` hands the batches out
    for a caller that splits elements itself; it sets `index` to the segment it is at. Whether
    blanks follow terminators is found once per batch by a few substring searches, so a file
    without them pays nothing per segment.
    """

    def __init__(
        self, source: str | bytes | IO[str] | IO[bytes], *, chunk_size: int = _CHUNK
    ) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self.delimiters: Delimiters | None = None
        self.unterminated = False  # the stream ended in an IEA without its terminator
        self.index = -1  # position in the current batch of the segment last yielded
        self._batch: list[str] = []  # segment texts, blanks around them skipped, none empty
        self._layout = _Layout([], None, 0, 0)
        self._number = 0  # segments before the batch
        self._sep = "*"
        self._stream: Iterator[list[str]] | None = None  # batches(), for __iter__/next_batch
        # A location that is not a segment of the batch (the ISA being read, a cut-off tail).
        self._where: tuple[str, int, int] | None = ("", 0, 0)

    @property
    def segment_number(self) -> int:
        if self._where is not None:
            return self._where[1]
        return self._number + self.index + 1

    @property
    def offset(self) -> int:
        if self._where is not None:
            return self._where[2]
        return self._layout.offset(self.index)

    def mark(self) -> Mark:
        """The place of the segment last yielded, cheaper than `segment_number` and `offset`,
        which `number_of` and `offset_of` work out later (for a claim, only if it turns out to
        be unreadable)."""
        return self.index, self._layout

    @staticmethod
    def number_of(mark: Mark) -> int:
        index, layout = mark
        return layout.number + index + 1

    @staticmethod
    def offset_of(mark: Mark) -> int:
        index, layout = mark
        return layout.offset(index)

    @property
    def segment_id(self) -> str:
        if self._where is not None:
            return self._where[0]
        return self._batch[self.index].split(self._sep, 1)[0]

    def error(self, message: str) -> X12SyntaxError:
        """An X12SyntaxError located at the segment last yielded."""
        return X12SyntaxError(
            message,
            segment_id=self.segment_id,
            segment_number=self.segment_number,
            offset=self.offset,
        )

    def _chunks(self) -> Iterator[str]:
        src = self._source
        size = self._chunk_size
        if isinstance(src, bytes):
            # Decoded whole, so a bad byte is reported before any segment, as it always was.
            src = self._decode(codecs.getincrementaldecoder("utf-8")(), src, final=True)
        if isinstance(src, str):
            # Text in memory is handed out in chunks too: one batch per chunk keeps the segment
            # lists small (a batch of a whole 10 MB file is ~500,000 strings held at once).
            for start in range(0, len(src), size):
                yield src[start : start + size]
            return
        decoder = None
        while True:
            chunk = src.read(size)
            if not chunk:
                if decoder is not None:
                    yield self._decode(decoder, b"", final=True)
                return
            if isinstance(chunk, bytes):
                if decoder is None:
                    decoder = codecs.getincrementaldecoder("utf-8")()
                yield self._decode(decoder, chunk, final=False)
            else:
                yield chunk

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, *, final: bool) -> str:
        try:
            return decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise self.error(f"input is not UTF-8 text ({exc.reason})") from None

    def __iter__(self) -> Iterator[list[str]]:
        # Resumes after `index`, read again after each yield: a caller that takes raw segment
        # texts from `batch` itself (read_835) moves `index` on (and may call `next_batch`),
        # and this iterator carries on after the last segment that caller took.
        while True:
            batch = self._batch
            sep = self._sep
            k = self.index + 1
            while k < len(batch):
                self.index = k
                yield batch[k].split(sep)
                if self._batch is not batch:
                    break
                k = self.index + 1
            else:
                if not self.next_batch():
                    return

    @property
    def batch(self) -> list[str]:
        """The current batch of segment texts (blanks skipped, elements not split)."""
        return self._batch

    def tidied(self) -> Iterator[str]:
        """The stream as X12 in its plainest form, a piece per batch: each segment as read (no
        byte-order mark, no blanks between segments) and its terminator, the last one too."""
        for batch in self.batches():
            term = self.delimiters.segment  # type: ignore[union-attr]
            yield term.join(batch) + term

    def next_batch(self) -> bool:
        """Make the next batch current, `index` -1; False at the end of the stream."""
        if self._stream is None:
            self._stream = self.batches()
        return next(self._stream, None) is not None

    def _install(self, parts: list[str], base: int, blanks: str, trailing: str) -> list[str]:
        """Make `parts` (segment texts from stream offset `base`, each of which ended with a
        terminator) the batch, `blanks` skipped at their starts and `trailing` at their ends."""
        batch = list(map(str.lstrip, parts, repeat(blanks))) if blanks else parts
        if trailing:
            batch = list(map(str.rstrip, batch, repeat(trailing)))
        origin = None
        if "" in batch:
            origin = [j for j, text in enumerate(batch) if text]
            batch = [batch[j] for j in origin]
        if batch:
            self._number += len(self._batch)
            self._batch, self._layout = batch, _Layout(parts, origin, base, self._number, blanks)
            self._where = None
            self.index = -1
        return batch

    def batches(self) -> Iterator[list[str]]:
        """Yields lists of segment texts (elements not split); see the class docstring.

        Within one list the delimiters (`delimiters`) do not change: a list ends at IEA.

        The buffer is read from a position (`pos`) rather than cut: an interchange ending
        inside it is split off by slicing just that interchange, so a buffer holding many
        interchanges is split once in all, not once per interchange (which grew with the
        number of interchanges times the buffer size).
        """
        chunks = self._chunks()
        buf = ""
        pos = 0  # where the unread text of buf starts
        base = 0  # stream offset of buf[0]
        eof = False
        delims: Delimiters | None = None
        term = sep = blanks = ""
        breaks = ""  # CR and LF, unless one is the terminator
        while True:
            if delims is None:
                # Between interchanges: skip blanks (and a BOM), then read the next ISA.
                while True:
                    pos = _BLANK(buf, pos).end()
                    if len(buf) - pos >= ISA_LENGTH + 64 or eof:
                        break
                    more = next(chunks, None)
                    if more is None:
                        eof = True
                    else:
                        buf = buf[pos:] + more
                        base += pos
                        pos = 0
                if pos >= len(buf):
                    return
                self._where = (buf[pos : pos + 3], self.segment_number, base + pos)
                delims, _ = parse_isa(
                    buf[pos : pos + _ISA_MAX],
                    segment_number=self.segment_number + 1,
                    offset=base + pos,
                )
                self.delimiters = delims
                term, sep = delims.segment, delims.element
                self._sep = sep
                blanks = skippable(delims)
                breaks = "".join(ch for ch in "\r\n" if ch in blanks)
                self._number += len(self._batch)
                self._batch = []
            stop = max(buf.rfind(term, pos) + 1, pos)  # after the last complete segment
            iea = _find_iea(buf, term, sep, blanks, pos, stop)
            # The next interchange may use other delimiters: it is re-read from its ISA.
            end = buf.find(term, iea) + 1 if iea >= 0 else stop
            parts = buf[pos:end].split(term)
            parts.pop()  # the empty text after the last terminator
            lead, trailing = _blanks_in(buf, pos, end, term, blanks, breaks)
            batch = self._install(parts, base + pos, lead, trailing)
            if batch:
                yield batch
            pos = end
            if iea >= 0:
                delims = None
                continue
            if eof:
                tail = buf[pos:]
                text = tail.lstrip(blanks)
                if not text.strip(blanks):
                    return
                if text.startswith("IEA" + sep):
                    # The end of the stream ends the last segment: an IEA without its
                    # terminator is read as written, and the reader notes it.
                    self.unterminated = True
                    if self._install([tail.rstrip(blanks)], base + pos, blanks, ""):
                        yield self._batch
                    return
                at = base + pos + len(tail) - len(text)
                self._where = (text.split(sep, 1)[0][:3], self.segment_number + 1, at)
                raise self.error("the last segment has no segment terminator")
            more = next(chunks, None)
            if more is None:
                eof = True
            else:
                buf = buf[pos:] + more
                base += pos
                pos = 0


class TextStream(io.TextIOBase):
    """Texts from an iterator read as one text stream: each is taken only as the reader asks
    for more, so a stream of any size is never held whole (a re-enveloped transaction set, a
    file handed to pyx12 tidied)."""

    def __init__(self, parts: Iterator[str]) -> None:
        super().__init__()
        self._parts = parts
        self._rest = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = (1 << 62) if size is None or size < 0 else size
        taken = [self._rest]
        have = len(self._rest)
        while have < want:
            part = next(self._parts, None)
            if part is None:
                break
            taken.append(part)
            have += len(part)
        text = "".join(taken)
        self._rest = text[want:]
        return text[:want]


_BLANK = re.compile("[\ufeff\r\n\t ]*").match  # what may stand between interchanges
_ISA_MAX = ISA_LENGTH + 66  # parse_isa looks no further than this


def _blanks_in(
    buf: str, pos: int, end: int, term: str, blanks: str, breaks: str
) -> tuple[str, str]:
    """What to strip from the segment texts of `buf[pos:end]`: `blanks` from their starts when
    some text starts with one, and `breaks` from their ends when a line break stands before a
    terminator (else ""). Searches of the whole range, not a look at each segment: CR, LF and
    tab are single characters (fast to search for and rare unless they are there to skip); a
    space only counts right after a terminator."""
    has_breaks = any(buf.find(ch, pos, end) >= 0 for ch in breaks)
    lead = ""
    if blanks and (
        has_breaks
        or ("\t" in blanks and buf.find("\t", pos, end) >= 0)
        or (" " in blanks and buf.find(term + " ", pos, end) >= 0)
        or (pos < end and buf[pos] in blanks)
    ):
        lead = blanks
    trailing = ""
    if has_breaks and any(buf.find(ch + term, pos, end) >= 0 for ch in breaks):
        trailing = breaks
    return lead, trailing


def _find_iea(
    text: str, term: str, sep: str, blanks: str, start: int = 0, stop: int | None = None
) -> int:
    """Where the first IEA segment of `text[start:stop]` starts (after any blanks), or -1.

    `start` is at the beginning of a segment."""
    if stop is None:
        stop = len(text)
    i = text.find("IEA", start, stop)
    while i >= 0:
        j = i
        while j > start and text[j - 1] in blanks:
            j -= 1
        k = i + 3  # the id ends at a separator, or at the terminator after any blanks
        while k < len(text) and text[k] in blanks:
            k += 1
        after = text[k : k + 1]
        if (j == start or text[j - 1] == term) and (after == term or (after == sep and k == i + 3)):
            return i
        i = text.find("IEA", i + 1, stop)
    return -1
