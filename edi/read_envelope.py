"""Walks the envelopes of a response file and hands each wanted transaction set to its reader.

    ISA  interchange          (TA1 segments sit here, before any GS)
      GS   functional group   GS08 names the implementation guide, checked here
        ST ... SE             one transaction set: its segments go to the reader, lazily
      GE
    IEA

Several interchanges per file and several groups and sets per interchange are normal: payers
batch them. Streaming throughout, so a large file never needs to fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from edi.errors import UnsupportedVersionError
from edi.x12 import Mark, SegmentReader, TextStream

Source = str | bytes | IO[str] | IO[bytes]

_ENVELOPE = frozenset(("ISA", "GS", "ST", "GE", "IEA"))


@dataclass(frozen=True, slots=True)
class Envelope:
    """Where a transaction set came from: its interchange, group and set headers."""

    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06, padding removed
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08, padding removed
    interchange_control_number: str  # ISA13
    usage_indicator: str  # ISA15: P production, T test
    functional_id: str  # GS01 (FA acks, HN 277, HP 835)
    application_sender: str  # GS02
    application_receiver: str  # GS03
    group_control_number: str  # GS06
    version: str  # GS08, e.g. 005010X221A1
    transaction_set_id: str  # ST01
    transaction_control_number: str  # ST02
    segment_number: int  # position of the ST in the file (1-based), for messages


def _get(seg: list[str], index: int) -> str:
    return seg[index] if index < len(seg) else ""


class TransactionSets:
    """Iterates (envelope, segments) for every transaction set `set_id` (ST01) in a stream.

    `older_ids` are set ids of the same kind in other versions (997 for 999): they are not
    read, but their group's version is checked, so they fail with UnsupportedVersionError
    instead of being skipped silently.

    `segments` yields the segments between ST and SE and must be consumed before the next set
    is asked for (like itertools.groupby). With `raw`, `segments` is the file's own stream and
    the reader must stop right after SE (and report a set cut short, see read_835); it may
    instead take raw texts from `reader.batch` itself, leaving `reader.index` at the SE.

    Sets with another ST01 are skipped: a file may mix a 999 and a 277CA, and each reader takes
    its own. A wanted set whose group's GS08 is not in `versions` raises UnsupportedVersionError
    naming the GS. Segments between ISA and GS (a TA1) go to `outside(segment, isa, reader)`,
    when given (else a TA1 is passed over); other stray segments raise X12SyntaxError.
    """

    def __init__(
        self,
        source: Source,
        set_id: str,
        versions: frozenset[str],
        *,
        outside: Callable[[list[str], list[str], SegmentReader], None] | None = None,
        older_ids: frozenset[str] = frozenset(),
        raw: bool = False,
    ) -> None:
        self.reader = SegmentReader(source)
        self._set_id = set_id
        self._older_ids = older_ids
        self._raw = raw
        self._versions = versions
        self._outside = outside

    def __iter__(self) -> Iterator[tuple[Envelope, Iterator[list[str]]]]:
        reader = self.reader
        segments = iter(reader)
        isa: list[str] | None = None
        gs: list[str] | None = None
        gs_at: Mark | None = None  # where the GS is, worked out only for an error
        for seg in segments:
            tag = seg[0]
            if tag == "ST":
                if isa is None or gs is None:
                    raise reader.error("ST outside a functional group (no ISA/GS before it)")
                version = _get(gs, 8)
                set_id = _get(seg, 1)
                if set_id != self._set_id and set_id not in self._older_ids:
                    self._skip(segments)
                    continue
                if version not in self._versions or set_id != self._set_id:
                    assert gs_at is not None
                    raise UnsupportedVersionError(
                        version,
                        segment_number=SegmentReader.number_of(gs_at),
                        offset=SegmentReader.offset_of(gs_at),
                    )
                envelope = Envelope(
                    sender_qualifier=_get(isa, 5),
                    sender_id=_get(isa, 6).rstrip(),
                    receiver_qualifier=_get(isa, 7),
                    receiver_id=_get(isa, 8).rstrip(),
                    interchange_control_number=_get(isa, 13),
                    usage_indicator=_get(isa, 15),
                    functional_id=_get(gs, 1),
                    application_sender=_get(gs, 2),
                    application_receiver=_get(gs, 3),
                    group_control_number=_get(gs, 6),
                    version=version,
                    transaction_set_id=seg[1],
                    transaction_control_number=_get(seg, 2),
                    segment_number=reader.segment_number,
                )
                if self._raw:
                    # The reader takes the shared stream itself and stops after SE: one
                    # generator less per segment on the hot path (read_835).
                    yield envelope, segments
                    continue
                body = self._body(segments)
                yield envelope, body
                for _ in body:  # the reader stopped early: skip to this set's SE
                    pass
            elif tag == "GS":
                if isa is None:
                    raise reader.error("GS outside an interchange (no ISA before it)")
                gs = seg
                # A mark, not the offset: that would lay out the whole batch for every GS.
                gs_at = reader.mark()
            elif tag == "ISA":
                isa, gs = seg, None
            elif tag == "GE":
                gs = None
            elif tag == "IEA":
                isa = gs = None
            elif isa is not None and gs is None and (self._outside or tag == "TA1"):
                # A TA1 rides in front of the groups; readers of other sets pass over it.
                if self._outside is not None:
                    self._outside(seg, isa, reader)
            else:
                raise reader.error(f"segment {tag} outside a transaction set")

    def _body(self, segments: Iterator[list[str]]) -> Iterator[list[str]]:
        envelope = _ENVELOPE
        for seg in segments:
            tag = seg[0]
            if tag == "SE":
                return
            if tag in envelope:
                raise self.reader.error(f"{tag} inside a transaction set (its SE is missing)")
            yield seg
        raise self.reader.error("the file ends inside a transaction set (no SE)")

    def _skip(self, segments: Iterator[list[str]]) -> None:
        for _ in self._body(segments):
            pass


def single_set_interchanges(source: Source) -> Iterator[tuple[str, str, str, IO[str]]]:
    """(GS06, ST01, ST02, text) per transaction set: each set re-enveloped alone in its own ISA/GS,
    so that the sets of one file can be read, accepted or rejected one by one (a 999 may
    accept some sets of a file and reject others).

    The text is a stream over the shared source, to be read (or left) before the next set is
    asked for, like itertools.groupby: memory stays flat however large a set is.
    """
    reader = SegmentReader(source)
    segments = iter(reader)
    isa: list[str] = []
    gs: list[str] = []
    for segment in segments:
        tag = segment[0]
        if tag == "ISA":
            isa = segment
        elif tag == "GS":
            gs = segment
        elif tag == "ST":
            d = reader.delimiters
            if d is None or not isa or not gs:
                raise reader.error("ST outside an interchange or group")
            body = _set_body(reader, segments, segment, isa, gs)
            yield _get(gs, 6), _get(segment, 1), _get(segment, 2), TextStream(body)
            for _ in body:  # the caller stopped early, or skipped the set: on to its SE
                pass


def _set_body(
    reader: SegmentReader,
    segments: Iterator[list[str]],
    st: list[str],
    isa: list[str],
    gs: list[str],
) -> Iterator[str]:
    d = reader.delimiters
    assert d is not None
    element, terminator = d.element, d.segment
    for line in (isa, gs, st):
        yield element.join(line) + terminator
    for segment in segments:
        yield element.join(segment) + terminator
        if segment[0] == "SE":
            break
    else:
        return  # the file ends inside the set: the reader reports the missing SE
    for line in (["GE", "1", _get(gs, 6)], ["IEA", "1", _get(isa, 13)]):
        yield element.join(line) + terminator
