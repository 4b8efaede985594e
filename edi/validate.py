"""validate: the one adapter over pyx12 (the only module importing it) -> our frozen report + 999.

pyx12 checks X12 syntax, the implementation guide's structure and its code lists; it does not
check business rules (NPI check digits, ICD-10 validity, claim balancing). It is given the
file as our tokenizer reads it (no byte-order mark or blanks between segments, the last
terminator in place), so it judges what our readers read. Synchronous and CPU-bound: callers
on an event loop run it in a worker thread.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyx12.error_handler
import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.x12n_document

from edi.envelope import EnvelopeParams, wrap
from edi.errors import UnsupportedVersionError, X12SyntaxError, X12ValueError
from edi.read_837 import EARLIER_VERSIONS
from edi.x12 import SegmentReader, SegmentWriter, TextStream

ACK_VERSION = "005010X231A1"

Level = Literal["interchange", "group", "transaction", "segment", "element"]

# pyx12 logs offending segments, which hold PHI; the report carries everything it would say.
_pyx12_log = logging.getLogger("pyx12")
_pyx12_log.addHandler(logging.NullHandler())
_pyx12_log.propagate = False


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One pyx12 finding, located in the file."""

    level: Level
    code: str  # pyx12's code: IK304 / IK403 values for segments and elements, TA1/AK9 codes above
    message: str
    segment_number: int | None = None  # 1-based position of the segment in the file
    segment_id: str | None = None
    loop: str | None = None  # implementation guide loop id, e.g. "2300"
    position_in_set: int | None = None  # segment position within its ST..SE (ST is 1)
    element_position: int | None = None  # 1-based, e.g. 2 for CLM02
    component_position: int | None = None  # 1-based inside a composite
    value: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationReport:
    ok: bool
    issues: tuple[ValidationIssue, ...]
    ack_999: str  # the 999 for this file, under the control numbers given to validate()
    # What was accepted but is not as the guide has it (a last segment without terminator, an
    # earlier guide's GS08 read with a later one's rules); they do not make the file invalid.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AckControl:
    """Control numbers and time for the 999 (pyx12's own come from the clock and can collide)."""

    interchange_control_number: int  # ISA13 of the 999
    group_control_number: int  # GS06
    transaction_control_number: int  # ST02 of the first 999 set
    created: datetime


@functools.cache
def _params() -> pyx12.params.ParamsBase:
    return pyx12.params.params()


# pyx12's own classes, kept before _cached_maps swaps its module attributes for ours.
_MapIndex = pyx12.map_index.map_index
_ErrHandler = pyx12.error_handler.err_handler


@functools.cache
def _map_index() -> pyx12.map_index.map_index:
    # The class itself, not the module attribute: first called while _cached_maps has put
    # _cached_map_index there (a file with no GS for _scan to look up first), the attribute
    # would call back into this function, again and again (a RecursionError).
    return _MapIndex(None)


# Maps are immutable once loaded (pyx12 keeps walk state in its walker, not the map), so one
# parsed map per file name serves every call. Loading is ~170 ms; a cached call is a few ms.
_maps: dict[str, Any] = {}
_load_map_file = pyx12.map_if.load_map_file
_lock = threading.Lock()


def _cached_load_map_file(map_file: str, param: Any, map_path: str | None = None) -> Any:
    if map_path is not None:
        return _load_map_file(map_file, param, map_path)
    found = _maps.get(map_file)
    if found is None:
        found = _maps[map_file] = _load_map_file(map_file, _params(), None)
    return found


def _cached_map_index(base_path: str | None = None) -> Any:
    return _map_index() if base_path is None else pyx12.map_index.map_index(base_path)


class _ErrorLines(pyx12.error_handler.err_handler):  # type: ignore[misc]
    """pyx12's error tree, noting the lines that get a segment or element error: only their
    loops are kept, not one entry per segment of the file."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: set[int] = set()

    def _add_cur_seg(self) -> None:
        if not self.seg_node_added and self.cur_seg_node is not None:
            self.lines.add(self.cur_seg_node.get_cur_line())
        super()._add_cur_seg()


@contextmanager
def _cached_maps(errors: _ErrorLines) -> Iterator[None]:
    """x12n_document looks both loaders and its error handler up on their modules at call
    time; swap in the caches and `errors`.

    Held under a lock: pyx12 is pure Python, so parallel calls gain nothing from the GIL anyway,
    and the swap is never visible half-done.
    """
    with _lock:
        pyx12.map_if.load_map_file = _cached_load_map_file
        pyx12.map_index.map_index = _cached_map_index  # type: ignore[misc]
        pyx12.error_handler.err_handler = lambda: errors  # type: ignore[misc]
        try:
            yield
        finally:
            pyx12.map_if.load_map_file = _load_map_file
            pyx12.map_index.map_index = _MapIndex  # type: ignore[misc]
            pyx12.error_handler.err_handler = _ErrHandler  # type: ignore[misc]


Source = str | os.PathLike[str]  # X12 text, or the path of a file holding it


def _open(source: Source) -> io.TextIOBase:
    """A text stream over the source. A file is read as it is validated, never whole; bytes
    that are not UTF-8 become U+FFFD, which pyx12 then reports as invalid characters."""
    if isinstance(source, str):
        return io.StringIO(source)
    return open(source, encoding="utf-8", errors="replace", newline="")


@dataclass
class _Scan:
    """What one pass of our tokenizer over the file tells validate before pyx12 runs."""

    warnings: list[str] = field(default_factory=list)
    # The GS08 (by group) and ST03 (by set, 0-based in file order) that pyx12 is given as the
    # later version they are read as, so the 999 can echo what the file said.
    earlier_groups: dict[int, str] = field(default_factory=dict)
    earlier_sets: dict[int, str] = field(default_factory=dict)


def _scan(source: Source) -> _Scan:
    """Name the GS whose version pyx12 cannot validate, before pyx12 fails without a position,
    and note what the report warns about."""
    scan = _Scan()
    icvn = ""
    groups = sets = 0
    with _open(source) as stream:
        reader = SegmentReader(stream)
        for seg in reader:
            tag = seg[0]
            if tag == "ISA":
                icvn = seg[12] if len(seg) > 12 else ""  # pyx12 picks maps by ISA12, not GS08
            elif tag == "GS":
                version = seg[8] if len(seg) > 8 else ""
                fic = seg[1]
                later = EARLIER_VERSIONS.get(version) if fic == "HC" else None
                if later is not None:
                    scan.earlier_groups[groups] = version
                    scan.warnings.append(
                        f"GS08 {version!r} (segment GS #{reader.segment_number}) is an earlier "
                        f"guide: read and validated with the {later} rules"
                    )
                elif _map_index().get_filename(icvn, version, fic) is None:
                    raise UnsupportedVersionError(
                        version, segment_number=reader.segment_number, offset=reader.offset
                    )
                groups += 1
            elif tag == "ST":
                if len(seg) > 3 and seg[3] in EARLIER_VERSIONS:
                    scan.earlier_sets[sets] = seg[3]
                sets += 1
        if reader.unterminated:
            scan.warnings.append(
                f"the last segment (IEA #{reader.segment_number}) has no segment terminator: "
                "the end of the file ended it"
            )
    return scan


def _tidied(source: Source, scan: _Scan) -> Iterator[str]:
    """The file as pyx12 can read it (see SegmentReader.tidied), an earlier guide's GS08 and
    ST03 given as the version it is read as."""
    with _open(source) as stream:
        reader = SegmentReader(stream)
        if not (scan.earlier_groups or scan.earlier_sets):
            yield from reader.tidied()
            return
        for batch in reader.batches():
            delims = reader.delimiters
            assert delims is not None
            sep = delims.element
            heads = ("GS" + sep, "ST" + sep)
            out = []
            for text in batch:
                if text[:3] in heads:
                    seg = text.split(sep)
                    at = 8 if seg[0] == "GS" else 3  # GS08, ST03; only of claims (HC, 837)
                    if len(seg) > at and seg[at] in EARLIER_VERSIONS and seg[1] in ("HC", "837"):
                        seg[at] = EARLIER_VERSIONS[seg[at]]
                        text = sep.join(seg)
                out.append(text)
            yield delims.segment.join(out) + delims.segment


def validate(x12: Source, ack: AckControl) -> ValidationReport:
    """Validate an interchange (its text, or a file read as a stream) with pyx12, build its 999.

    Raises UnsupportedVersionError when a group's GS08 has no pyx12 map (but for the earlier
    guides read as later ones, see read_837.EARLIER_VERSIONS, which are warned about),
    X12SyntaxError when the text is not X12 at all (no ISA). Memory follows the number of sets
    and errors, not the size of the file.
    """
    scan = _scan(x12)
    loops: dict[int, str] = {}
    errors = _ErrorLines()

    def note_loop(seg: Any, src: Any, node: Any, valid: bool) -> None:
        line = src.get_cur_line()
        if line in errors.lines:
            parent = node.get_parent() if node is not None else None
            loops[line] = getattr(parent, "id", None) or ""

    fd_999 = io.StringIO()
    fd_json = io.StringIO()
    try:
        with _cached_maps(errors):
            ok = pyx12.x12n_document.x12n_document(
                param=_params(),
                src_file=TextStream(_tidied(x12, scan)),
                fd_997=fd_999,
                fd_html=None,
                fd_xmldoc=None,
                fd_json=fd_json,
                map_path=None,
                callback=note_loop,
            )
    except pyx12.errors.EngineError as exc:
        if "Map not found" in str(exc):  # _scan should have caught it first
            version = str(exc).rpartition("vriic=")[2].split(",")[0]
            raise UnsupportedVersionError(version, segment_number=0, offset=0) from None
        raise X12SyntaxError(
            f"pyx12 could not read the interchange: {exc}",
            segment_id="",
            segment_number=0,
            offset=0,
        ) from None
    issues = tuple(_issues(fd_json.getvalue(), loops))
    return ValidationReport(
        ok=bool(ok) and not issues,
        issues=issues,
        ack_999=_renumber_999(fd_999.getvalue(), x12, ack, scan),
        warnings=tuple(scan.warnings),
    )


def _issues(report_json: str, loops: dict[int, str]) -> Iterator[ValidationIssue]:
    if not report_json:
        yield ValidationIssue("interchange", "", "pyx12 could not read this as X12")
        return
    doc = json.loads(report_json)
    for isa in doc.get("interchanges", []):
        for err in isa.get("errors", []):
            yield ValidationIssue(
                "interchange", str(err["err_cde"]), err["err_str"], isa.get("cur_line"), "ISA"
            )
        for gs in isa.get("groups", []):
            for err in gs.get("errors", []):
                yield ValidationIssue(
                    "group", str(err["err_cde"]), err["err_str"], gs.get("cur_line"), "GS"
                )
            for st in gs.get("transactions", []):
                for err in st.get("errors", []):
                    yield ValidationIssue(
                        "transaction", str(err["err_cde"]), err["err_str"], st.get("cur_line"), "ST"
                    )
                for seg in st.get("segments", []):
                    line = seg.get("cur_line")
                    where = dict(
                        segment_number=line,
                        segment_id=seg.get("seg_id"),
                        loop=loops.get(line) or None,
                        position_in_set=seg.get("seg_count"),
                    )
                    for err in seg.get("errors", []):
                        yield ValidationIssue(
                            "segment",
                            str(err["err_cde"]),
                            err["err_str"],
                            value=err.get("err_val"),
                            **where,  # type: ignore[arg-type]
                        )
                    for ele in seg.get("elements", []):
                        for err in ele.get("errors", []):
                            yield ValidationIssue(
                                "element",
                                str(err["err_cde"]),
                                err["err_str"],
                                element_position=ele.get("ele_pos"),
                                component_position=ele.get("subele_pos"),
                                value=err.get("err_val"),
                                **where,  # type: ignore[arg-type]
                            )


def _renumber_999(pyx12_999: str, original: Source, ack: AckControl, scan: _Scan) -> str:
    """Keep pyx12's 999 sets (AK1..AK9) and put them in our own envelope and control numbers;
    AK103 and AK203 echo an earlier guide's version as the file gave it."""
    if not pyx12_999.strip():
        return ""
    isa = gs = None
    with _open(original) as stream:
        for seg in SegmentReader(stream):
            if seg[0] == "ISA":
                isa = seg
            elif seg[0] == "GS":
                gs = seg
                break
    if isa is None or gs is None:
        return ""
    reader = SegmentReader(pyx12_999)
    bodies: list[list[str]] = []
    body: list[str] | None = None
    w = SegmentWriter()
    groups = sets = 0
    for seg in reader:
        if seg[0] == "ST":
            body = []
        elif seg[0] == "SE":
            if body is not None:
                bodies.append(body)
            body = None
        elif body is not None:
            if seg[0] in ("AK1", "AK2") and len(seg) > 3:
                given = (scan.earlier_groups if seg[0] == "AK1" else scan.earlier_sets).get(
                    groups if seg[0] == "AK1" else sets
                )
                if given is not None and EARLIER_VERSIONS[given] == seg[3]:
                    seg[3] = given
                if seg[0] == "AK1":
                    groups += 1
                else:
                    sets += 1
            # pyx12 writes ":" components; rewrite element by element with our writer.
            d = reader.delimiters
            assert d is not None
            w.parts = []
            elements = tuple(tuple(e.split(d.component)) if d.component in e else e for e in seg)
            try:
                w.seg(elements)
            except X12ValueError:
                if seg[0] != "IK4" or len(seg) < 5:
                    raise
                # IK404 copies the bad element, which may hold the very character that made it
                # bad (a Latin-1 letter, a delimiter): the copy is optional, so it is left out.
                w.parts = []
                w.seg(elements[:4])
            body.extend(w.parts)
    if not bodies:
        return ""
    params = EnvelopeParams(
        sender_id=isa[8].strip(),  # the 999 goes back: the 837's receiver sends it
        sender_qualifier=isa[7],
        receiver_id=isa[6].strip(),
        receiver_qualifier=isa[5],
        application_sender=gs[3],
        application_receiver=gs[2],
        interchange_control_number=ack.interchange_control_number,
        group_control_number=ack.group_control_number,
        transaction_control_number=ack.transaction_control_number,
        created=ack.created,
        usage_indicator="P" if isa[15] == "P" else "T",
    )
    return wrap(
        params, functional_id="FA", version=ACK_VERSION, transaction_set_id="999", bodies=bodies
    )
