"""read_837: 837P/837I interchanges (any number of ISA/GS/ST) -> Claim objects, lazily.

Walks the loop tree that build_837 writes (see write_837.py) with one pass over the segments:

    HL*20 2000A billing provider -> HL*22 2000B subscriber [-> HL*23 2000C patient]
      -> CLM 2300 [2310x NM1] [SBR 2320, NM1*IL 2330A, NM1*PR 2330B]* [LX 2400 [SVD 2430]*]*

Segments and loops the model has no field for (PWK, NTE, CRC, K3, 2010AC, 2310D supervising,
2420x line providers, 2330C-G ...) are skipped. Envelope counts and control numbers are not
checked here; that is validate()'s job. What the reader gives back equals what build_837 was
given, in canonical form: ICD-10 codes with their dot, no receiver when 1000B is the payer, no
2430 procedure or revenue code when it repeats the line's.

The segments are taken as raw texts from SegmentReader's batches. Inside a claim, the ones
every line has (SV1/SV2, DTP, REF, LX) and HI are told apart by the start of their text, and
texts that repeat claim after claim are read once (see `claims`); only texts read without a
problem are remembered, so a bad one is reported at its own segment wherever it occurs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from edi.claim import (
    Accident,
    Address,
    Adjustment,
    Admission,
    BillingProvider,
    Claim,
    Contact,
    Diagnosis,
    LineAdjudication,
    OtherPayer,
    OtherSubscriber,
    Patient,
    Payer,
    Procedure,
    Provider,
    Receiver,
    ServiceLine,
    Submitter,
    Subscriber,
)
from edi.errors import UnsupportedVersionError, X12SyntaxError
from edi.fastbuild import Memo as _Memo
from edi.fastbuild import constructor as _constructor
from edi.x12 import Mark, SegmentReader, stray_id

# Earlier guides some systems still send: the professional guide before its addenda and the
# institutional guide's first addenda. They are read (and validated, pyx12 having no map for
# them) with the rules of the version HIPAA names, which carry the same segments for every
# field the model has; validate() warns that it did so.
EARLIER_VERSIONS = {"005010X222": "005010X222A1", "005010X223A1": "005010X223A2"}

# GS08 values read as each claim type. The later errata (X222A2, X223A3) change guide notes
# and code lists, not the segments this reader uses, so intake accepts them; outbound 837s are
# always written as X222A1 / X223A2, the versions HIPAA names and pyx12 validates.
SUPPORTED_VERSIONS = {
    "005010X222": "professional",
    "005010X222A1": "professional",
    "005010X222A2": "professional",
    "005010X223A1": "institutional",
    "005010X223A2": "institutional",
    "005010X223A3": "institutional",
}

# NM101 entity codes whose loops the model carries, by where they appear.
_CLAIM_ENTITIES = {"DN": "referring", "P3": "referring", "82": "rendering", "77": "facility",
                   "71": "attending"}  # fmt: skip


def _e(seg: list[str], i: int) -> str:
    return seg[i] if len(seg) > i else ""


_make_claim = _constructor(Claim)
_make_line = _constructor(ServiceLine)
_PAD = [""] * 12
_TEXT_LIMIT = 4096  # entries of a memo keyed by segment text before it is cleared


def _comp(value: str, sep: str) -> list[str]:
    return value.split(sep) if value else []


class _Entity:
    """An NM1 loop being read: its name parts, address, ids and contact."""

    __slots__ = ("address", "birth_date", "contact", "first", "gender", "ident", "is_person",
                 "last", "middle", "refs", "suffix", "taxonomy")  # fmt: skip

    def __init__(self, seg: list[str]) -> None:
        self.is_person = _e(seg, 2) == "1"
        self.last = _e(seg, 3)
        self.first = _e(seg, 4) or None
        self.middle = _e(seg, 5) or None
        self.suffix = _e(seg, 7) or None
        self.ident = _e(seg, 9) or None  # NM109: NPI, payer id, member id, ETIN
        self.address: Address | None = None
        self.contact: Contact | None = None
        self.taxonomy: str | None = None
        self.birth_date: date | None = None  # DMG02
        self.gender: str | None = None  # DMG03
        self.refs: dict[str, str] = {}

    def provider(self) -> Provider:
        org = not self.is_person
        secondary = self.refs.get("G2") or self.refs.get("0B") or self.refs.get("1G")
        return Provider(
            npi=self.ident,
            organization_name=self.last if org else None,
            last_name=None if org else self.last,
            first_name=None if org else self.first,
            middle_name=None if org else self.middle,
            suffix=None if org else self.suffix,
            taxonomy=self.taxonomy,
            address=self.address,
            secondary_id=secondary,
        )


class _Line:
    """A service line being read (plain slots: made once per line, so kept cheap)."""

    __slots__ = ("adjudications", "control_number", "mark", "pointers", "raw", "seg",
                 "service_date", "service_date_end")  # fmt: skip

    def __init__(
        self, seg: list[str], mark: Mark, raw: str | None = None, pointers: tuple[int, ...] = ()
    ) -> None:
        self.seg = seg  # SV1 or SV2
        self.raw = raw  # its text, the key of the line-head memo (None: not remembered)
        self.mark = mark  # where it is, for errors found when the claim is complete
        self.service_date: date | None = None
        self.service_date_end: date | None = None
        self.control_number: str | None = None
        self.pointers = pointers
        self.adjudications: list[dict[str, Any]] = []

    @property
    def number(self) -> int:
        return SegmentReader.number_of(self.mark)

    @property
    def offset(self) -> int:
        return SegmentReader.offset_of(self.mark)


class _ClaimParts:
    """The segments of the claim being read, turned into a Claim when its last one is read."""

    __slots__ = ("cl1", "clm", "dates", "entities", "error", "hi", "lines", "mark",
                 "other_payers", "refs")  # fmt: skip

    def __init__(self, clm: list[str], mark: Mark) -> None:
        self.clm = clm
        self.mark = mark  # where CLM is, for errors found when the claim is complete
        self.dates: dict[str, list[str]] = {}  # DTP01 -> DTP
        self.refs: dict[str, str] = {}
        self.cl1: list[str] | None = None
        self.hi: list[tuple[str, list[str]]] = []  # (text, elements) of each HI
        self.entities: dict[str, _Entity] = {}
        self.other_payers: list[dict[str, Any]] = []
        self.lines: list[_Line] = []
        self.error: X12SyntaxError | None = None  # the first bad segment inside this claim

    @property
    def number(self) -> int:
        return SegmentReader.number_of(self.mark)

    @property
    def offset(self) -> int:
        return SegmentReader.offset_of(self.mark)


@dataclass(frozen=True, slots=True)
class UnreadableClaim:
    """A claim that cannot be turned into the model, located where the reader gave up.

    Yielded in the claim's place, so one bad claim does not hold back the rest of the file.
    """

    patient_control_number: str  # CLM01 as sent ("" when missing)
    message: str
    segment_id: str
    segment_number: int  # 1-based position of the segment in the stream
    offset: int  # characters from the start of the stream


def read_837(source: str | bytes | IO[str] | IO[bytes]) -> Iterator[Claim | UnreadableClaim]:
    """Yield each claim of an 837 stream as soon as its last segment has been read.

    A claim with missing or malformed parts comes out as an UnreadableClaim value. Raises
    UnsupportedVersionError for a group whose GS08 is not in SUPPORTED_VERSIONS, and
    X12SyntaxError (segment id, number and offset) when the stream itself is not a readable 837
    (no ISA, a delimiter-less ISA, ST that is not 837, a segment without terminator).
    """
    return _Reader(SegmentReader(source)).claims()


class _Reader:
    def __init__(self, reader: SegmentReader) -> None:
        self.reader = reader
        self.comp = ":"
        self.claim_type = "professional"
        self.submitter: _Entity | None = None
        self.submitter_obj: Submitter | None = None
        self.receiver: Receiver | None = None
        self.billing: _Entity | None = None
        self.billing_obj: BillingProvider | None = None
        self.pay_to: _Entity | None = None
        self.sbr: list[str] = []
        self.subscriber: _Entity | None = None
        self.payer: _Entity | None = None
        self.subscriber_objs: tuple[Subscriber, Payer] | None = None
        self.pat: str = ""
        self.patient: _Entity | None = None
        self.patient_obj: Patient | None = None
        self.hl_level = ""
        self.claim: _ClaimParts | None = None
        self.entity: _Entity | None = None  # where N3/N4/REF/PER/PRV/DMG go; None: skip them
        self.line: _Line | None = None
        self.other: dict[str, Any] | None = None  # 2320 being read
        self.svd: dict[str, Any] | None = None  # 2430 being read
        self.in_group = False
        self.header_error: X12SyntaxError | None = None
        self.header_level = ""
        self._n3: list[str] | None = None  # N3 waits for its N4 to make an Address
        self._billing_taxonomy: str | None = None
        self._heads: tuple[Any, ...] | None = None  # see _build
        # Memos make values from text alone (no reference back to this reader, which would
        # make a cycle that only the cyclic GC frees); composites are read per separator.
        self._decimals = _Memo(Decimal)
        self._dates = _Memo(_read_date)
        self._use_component(self.comp)

    def error(self, message: str) -> X12SyntaxError:
        return self.reader.error(message)

    def _use_component(self, comp: str) -> None:
        """Read composites with `comp` (each ISA names its own component separator)."""
        if comp == self.comp and hasattr(self, "_procedures"):
            return
        self.comp = comp
        # Keyed by segment text, so they hold for one component separator only, like these.
        self._hi_values: dict[str, tuple[tuple[Diagnosis, ...], str | None]] = {}
        # SV1/SV2 text -> charge, units, procedure, revenue code, unit type, place; one memo
        # per claim type (the same text gives other fields in an 837I).
        self._line_heads: dict[bool, dict[str, tuple[Any, ...]]] = {True: {}, False: {}}
        self._clm_tails: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._procedures = _Memo(functools.partial(_read_procedure, comp))
        self._pointers = _Memo(functools.partial(_read_pointers, comp))
        self._diagnoses = _Memo(functools.partial(_read_diagnosis, comp))

    def claims(self) -> Iterator[Claim | UnreadableClaim]:
        # Segments that end the claim being read, with their handlers (None: nothing to read).
        finishing = {"CLM": self.clm, "HL": self.hl, "GS": self.gs, "ST": self.st, "SE": None,
                     "GE": None, "IEA": None, "ISA": None}  # fmt: skip
        handlers = {
            "NM1": self.nm1, "N3": self.n3, "N4": self.n4, "REF": self.ref, "PER": self.per,
            "PRV": self.prv, "DMG": self.dmg, "SBR": self.sbr_, "PAT": self.pat_, "DTP": self.dtp,
            "CL1": self.cl1, "HI": self.hi, "LX": self.lx, "SV1": self.sv, "SV2": self.sv,
            "SVD": self.svd_, "CAS": self.cas, "AMT": self.amt,
        }  # fmt: skip
        reader = self.reader
        seen_any = False
        # Memos of whole segment texts inside a claim, read from the raw text before any split:
        # an SV1/SV2 text -> its elements and SV107 pointers, a line's DTP text -> its service
        # dates, an HI text -> its elements. They hold only texts read without a problem (so a
        # bad one is found every time, at its own segment) and are cleared when the element or
        # component separator changes, since the same text then means other elements (an HI
        # composite checked, SV107 pointers read, with the old component separator).
        sv_texts: dict[str, tuple[list[str], tuple[int, ...]]] = {}
        dtp_texts: dict[str, tuple[date, date | None]] = {}
        hi_texts: dict[str, list[str]] = {}
        memo_delims = ("", "")
        sv1 = sv2 = dtp_ = ref_ = hi_ = lx_ = ""
        # SegmentReader's batches rather than its iterator: one loop, and the reader's location
        # is only an index to set (delimiters do not change within a batch).
        for batch in reader.batches():
            seen_any = True
            delims = reader.delimiters
            assert delims is not None
            sep = delims.element
            if (sep, delims.component) != memo_delims:
                sv_texts.clear()
                dtp_texts.clear()
                hi_texts.clear()
                memo_delims = (sep, delims.component)
                sv1, sv2, dtp_, ref_ = "SV1" + sep, "SV2" + sep, "DTP" + sep, "REF" + sep
                hi_, lx_ = "HI" + sep, "LX" + sep
            # A mark is (index, the batch's layout): the layout is taken once per batch, so a
            # remembered service line is placed without setting the reader's index.
            reader.index = 0
            layout = reader.mark()[1]
            for k, raw in enumerate(batch):
                # The segments of a claim body, told apart by the start of their text.
                claim = self.claim
                if claim is not None:
                    head = raw[:4]
                    line = self.line
                    if line is not None and self.svd is None:
                        if head == dtp_:
                            found = dtp_texts.get(raw)
                            if found is not None:
                                line.service_date, line.service_date_end = found
                                continue
                            reader.index = k
                            seg = raw.split(sep)
                            if self._handle(self.dtp, "DTP", seg) and _e(seg, 1) == "472":
                                if len(dtp_texts) >= _TEXT_LIMIT:
                                    dtp_texts.clear()
                                dtp_texts[raw] = (line.service_date, line.service_date_end)
                            continue
                        if head == ref_:
                            seg = raw.split(sep)
                            if len(seg) > 2:
                                if seg[1] == "6R":
                                    line.control_number = seg[2]
                            elif _e(seg, 1) == "6R":
                                line.control_number = ""
                            continue
                    if head in (sv1, sv2):
                        known = sv_texts.get(raw)
                        if known is not None:
                            self.svd = None
                            self.line = line = _Line(known[0], (k, layout), raw, known[1])
                            claim.lines.append(line)
                            continue
                        reader.index = k
                        seg = raw.split(sep)
                        if self._handle(self.sv, seg[0], seg):
                            line = self.line
                            assert line is not None
                            line.raw = raw
                            if len(sv_texts) >= _TEXT_LIMIT:
                                sv_texts.clear()
                            sv_texts[raw] = (seg, line.pointers)
                        continue
                    if raw[:3] == lx_:
                        self.entity = self.other = self.svd = self.line = None
                        continue
                    if line is None and raw[:3] == hi_:
                        seg = hi_texts.get(raw)  # type: ignore[assignment]
                        if seg is None:
                            reader.index = k
                            seg = raw.split(sep)
                            if not self._handle(self.hi, "HI", seg):
                                continue
                            if len(hi_texts) >= _TEXT_LIMIT:
                                hi_texts.clear()
                            hi_texts[raw] = seg
                        claim.hi.append((raw, seg))
                        continue
                reader.index = k
                seg = raw.split(sep)
                seg_id = seg[0]
                if seg_id == "CLM":
                    if self.claim is not None:
                        yield self.finish()
                    self.claim = _ClaimParts(seg, (k, layout))
                    self.entity = self.line = self.other = self.svd = None
                    continue
                handler = handlers.get(seg_id)
                if handler is None:
                    if seg_id not in finishing:
                        if stray_id(seg_id, "CLM"):
                            # A claim all the same: it comes out unreadable, naming this
                            # segment, rather than not at all.
                            if self.claim is not None:
                                yield self.finish()
                            self.claim = _ClaimParts(seg, (k, layout))
                            self.claim.error = self.error(f"segment id {seg_id!r} is not CLM")
                            self.entity = self.line = self.other = self.svd = None
                        continue  # a segment the model has no field for
                    if self.claim is not None:
                        yield self.finish()
                    handler = finishing[seg_id]
                    if seg_id == "ISA":
                        self._use_component(delims.component)
                        continue
                    if handler is None:
                        continue
                self._handle(handler, seg_id, seg)
            # The fast paths above leave `index` behind; the reader counts on from the last one.
            reader.index = len(batch) - 1
        if self.claim is not None:
            yield self.finish()
        if not seen_any:
            raise X12SyntaxError("no X12 segments found", segment_id="", segment_number=0,
                                 offset=0)  # fmt: skip

    def _handle(self, handler: Any, seg_id: str, seg: list[str]) -> bool:
        """Run a segment's handler; False when the segment was bad (held as a problem)."""
        try:
            handler(seg)
        except UnsupportedVersionError:
            raise
        except X12SyntaxError as exc:
            self.problem(seg_id, exc)
            return False
        except (ValueError, IndexError, KeyError, InvalidOperation) as exc:
            self.problem(seg_id, self.error(f"cannot read {seg_id}: {exc}"))
            return False
        return True

    def problem(self, seg_id: str, exc: X12SyntaxError) -> None:
        """Hold a bad segment against the claim (or the loop) it belongs to."""
        if self.claim is not None:
            self.claim.error = self.claim.error or exc
        elif seg_id in ("GS", "ST"):
            raise exc
        elif self.header_error is None:
            # A bad 2000A/2000B/2000C segment spoils every claim under that loop.
            self.header_error, self.header_level = exc, self.hl_level

    # --- envelope -------------------------------------------------------------------------

    def gs(self, seg: list[str]) -> None:
        if _e(seg, 1) != "HC":
            raise self.error(f"functional group GS01={_e(seg, 1)!r} holds no claims (HC)")
        version = _e(seg, 8)
        claim_type = SUPPORTED_VERSIONS.get(version)
        if claim_type is None:
            raise UnsupportedVersionError(
                version, segment_number=self.reader.segment_number, offset=self.reader.offset
            )
        self.claim_type = claim_type
        self.in_group = True

    def st(self, seg: list[str]) -> None:
        if _e(seg, 1) != "837":
            raise self.error(f"transaction set {_e(seg, 1)!r} is not an 837")
        if not self.in_group:
            raise self.error("ST outside a functional group (no GS)")
        self.submitter = self.submitter_obj = self.receiver = None
        self.header_error = None
        self.billing = self.billing_obj = self.pay_to = None
        self.subscriber = self.payer = self.subscriber_objs = None
        self.patient = self.patient_obj = None
        self.entity = None

    # --- names and their details --------------------------------------------------------

    def nm1(self, seg: list[str]) -> None:
        code = _e(seg, 1)
        entity = _Entity(seg)
        self.entity = entity
        claim = self.claim
        if claim is None:
            if code == "41":
                self.submitter, self.submitter_obj = entity, None
            elif code == "40":
                self.receiver = Receiver(name=entity.last, identifier=_e(seg, 9))
                self.entity = None
            elif code == "85":
                self.billing, self.billing_obj, self.pay_to = entity, None, None
            elif code == "87":
                self.pay_to, self.billing_obj = entity, None
            elif code == "IL":
                self.subscriber, self.subscriber_objs = entity, None
            elif code == "PR":
                self.payer, self.subscriber_objs = entity, None
            elif code == "QC":
                self.patient, self.patient_obj = entity, None
            else:
                self.entity = None
            return
        if self.other is not None:
            if code == "IL":
                self.other["subscriber"] = (entity.last, entity.first, _e(seg, 9))
            elif code == "PR":
                self.other["name"] = entity.last
                self.other["payer_id"] = _e(seg, 9)
                self.other["entity"] = "payer"  # 2330B: DTP*573 belongs to it
            else:
                self.entity = None
            return
        role = _CLAIM_ENTITIES.get(code)
        if role is None or self.line is not None or role in claim.entities:
            self.entity = None
            return
        claim.entities[role] = entity

    def n3(self, seg: list[str]) -> None:
        if self.entity is not None:
            self._n3 = seg

    def n4(self, seg: list[str]) -> None:
        entity = self.entity
        if entity is None:
            return
        n3 = self._n3 or ["N3", ""]
        entity.address = Address(
            line1=_e(n3, 1),
            line2=_e(n3, 2) or None,
            city=_e(seg, 1),
            state=_e(seg, 2),
            postal_code=_e(seg, 3),
            country_code=_e(seg, 4) or None,
        )
        self._n3 = None

    def ref(self, seg: list[str]) -> None:
        qualifier, value = (seg[1], seg[2]) if len(seg) > 2 else (_e(seg, 1), "")
        if (line := self.line) is not None:
            if qualifier == "6R" and self.svd is None:
                line.control_number = value
            return
        if self.entity is not None:
            self.entity.refs.setdefault(qualifier, value)
        elif self.claim is not None and self.other is None:
            self.claim.refs.setdefault(qualifier, value)

    def per(self, seg: list[str]) -> None:
        if self.entity is None or self.entity.contact is not None:
            return
        numbers: dict[str, str] = {}
        for i in (3, 5, 7):
            q = _e(seg, i)
            if q and q not in numbers:
                numbers[q] = _e(seg, i + 1)
        self.entity.contact = Contact(
            name=_e(seg, 2) or None,
            phone=numbers.get("TE"),
            email=numbers.get("EM"),
            fax=numbers.get("FX"),
        )

    def prv(self, seg: list[str]) -> None:
        if self.claim is None and self.hl_level == "20" and self.billing is None:
            self._billing_taxonomy = _e(seg, 3)  # 2000A PRV precedes 2010AA
        elif self.entity is not None:
            self.entity.taxonomy = _e(seg, 3)

    def dmg(self, seg: list[str]) -> None:
        if self.entity is not None:
            self.entity.birth_date = self._date(_e(seg, 2))
            self.entity.gender = _e(seg, 3) or None

    # --- hierarchy ------------------------------------------------------------------------

    def hl(self, seg: list[str]) -> None:
        level = _e(seg, 3)
        self.hl_level = level
        self.entity = None
        if self.header_error is not None and self.header_level and level <= self.header_level:
            self.header_error = None
        if level == "20":
            self.billing = self.billing_obj = self.pay_to = None
            self._billing_taxonomy = None
            self.subscriber = self.payer = self.subscriber_objs = None
            self.patient = self.patient_obj = None
        elif level == "22":
            self.sbr = []
            self.subscriber = self.payer = self.subscriber_objs = None
            self.patient = self.patient_obj = None
        elif level == "23":
            self.pat = ""
            self.patient = self.patient_obj = None

    def sbr_(self, seg: list[str]) -> None:
        if self.claim is None:
            self.sbr = seg
            return
        self.line = None
        self.entity = None
        self.other = {"sbr": seg, "cas": [], "amt": {}, "entity": None}
        self.claim.other_payers.append(self.other)

    def pat_(self, seg: list[str]) -> None:
        if self.hl_level == "23":
            self.pat = _e(seg, 1)

    # --- claim ----------------------------------------------------------------------------

    def clm(self, seg: list[str]) -> None:
        self.claim = _ClaimParts(seg, self.reader.mark())
        self.entity = self.line = self.other = self.svd = None

    def dtp(self, seg: list[str]) -> None:
        qualifier = seg[1] if len(seg) > 1 else ""
        if self.svd is not None:
            if qualifier == "573":
                self.svd["date"] = self._date(_e(seg, 3))
        elif (line := self.line) is not None:
            if qualifier == "472":
                if len(seg) == 4 and seg[2] == "D8":  # the usual one-day line: no _period call
                    line.service_date = self._date(seg[3][:8])
                    line.service_date_end = None
                else:
                    line.service_date, line.service_date_end = self._period(seg)
        elif self.other is not None:
            if qualifier == "573" and self.other["entity"] == "payer":
                self.other["date"] = self._date(_e(seg, 3))
        elif self.claim is not None and self.entity is None:
            self.claim.dates.setdefault(qualifier, seg)

    def cl1(self, seg: list[str]) -> None:
        if self.claim is not None:
            self.claim.cl1 = seg

    def hi(self, seg: list[str]) -> None:
        """Check an HI of the claim; the claim loop keeps it (with its text) when it passes."""
        if self.claim is not None and self.line is None:
            for i, element in enumerate(seg[1:], 1):
                if element and self.comp not in element:
                    raise self.error(f"HI{i:02d} {element!r} is not a qualifier:code composite")

    def lx(self, seg: list[str]) -> None:
        self.entity = self.other = self.svd = None
        self.line = None

    def sv(self, seg: list[str]) -> None:
        claim = self.claim
        if claim is None:
            raise self.error("service line outside a claim")
        self.svd = None
        self.line = line = _Line(seg, self.reader.mark())
        if seg[0] == "SV1":
            line.pointers = self._pointers[seg[7] if len(seg) > 7 else ""]
        claim.lines.append(line)

    def svd_(self, seg: list[str]) -> None:
        if self.line is None:
            return
        self.svd = {"seg": seg, "cas": [], "date": None}
        self.line.adjudications.append(self.svd)

    def cas(self, seg: list[str]) -> None:
        target = self.svd if self.svd is not None else self.other
        if target is None:
            return
        group = _e(seg, 1)
        for i in range(2, len(seg), 3):
            reason = seg[i]
            if not reason:
                continue
            quantity = _e(seg, i + 2)
            target["cas"].append(
                Adjustment(
                    group=group,
                    reason=reason,
                    amount=Decimal(_e(seg, i + 1)),
                    quantity=Decimal(quantity) if quantity else None,
                )
            )

    def amt(self, seg: list[str]) -> None:
        if self.other is not None and self.svd is None and self.line is None:
            self.other["amt"].setdefault(_e(seg, 1), Decimal(_e(seg, 2)))

    # --- values ---------------------------------------------------------------------------

    def _date(self, text: str) -> date:
        try:
            return self._dates[text]
        except _NotADate:
            raise self.error(f"{text!r} is not a CCYYMMDD date") from None

    def _period(self, seg: list[str]) -> tuple[date, date | None]:
        """DTP D8 -> (date, None); RD8 -> (start, end). A one-date RD8 is read as a D8."""
        if len(seg) < 4:
            seg = seg + _PAD[: 4 - len(seg)]
        value = seg[3]
        if seg[2] == "RD8" and "-" in value:
            start, _, end = value.partition("-")
            return self._date(start), self._date(end)
        return self._date(value[:8]), None

    # --- assembling a claim ---------------------------------------------------------------

    def finish(self) -> Claim | UnreadableClaim:
        parts = self.claim
        assert parts is not None
        self.claim = None
        self.entity = self.line = self.other = self.svd = None
        error = parts.error or self.header_error
        if error is None:
            try:
                return self._build(parts)
            except X12SyntaxError as exc:
                error = exc
            except (ValueError, IndexError, KeyError, InvalidOperation, TypeError) as exc:
                error = self._fail(parts, f"cannot be read: {exc}")
        return UnreadableClaim(
            patient_control_number=_e(parts.clm, 1),
            message=error.message,
            segment_id=error.segment_id,
            segment_number=error.segment_number,
            offset=error.offset,
        )

    def _fail(self, parts: _ClaimParts, message: str) -> X12SyntaxError:
        return X12SyntaxError(
            f"claim {_e(parts.clm, 1)!r}: {message}",
            segment_id="CLM",
            segment_number=parts.number,
            offset=parts.offset,
        )

    def _submitter(self, parts: _ClaimParts) -> Submitter:
        if self.submitter_obj is None:
            s = self.submitter
            if s is None:
                raise self._fail(parts, "no submitter (1000A NM1*41)")
            self.submitter_obj = Submitter(
                name=s.last,
                identifier=s.ident or "",
                contact=s.contact or Contact(),
                is_person=s.is_person,
                first_name=s.first,
            )
        return self.submitter_obj

    def _billing_provider(self, parts: _ClaimParts) -> tuple[BillingProvider, Address | None]:
        if self.billing_obj is None:
            b = self.billing
            if b is None or b.address is None:
                raise self._fail(parts, "no billing provider with an address (2010AA)")
            tax_type = "SY" if "SY" in b.refs and "EI" not in b.refs else "EI"
            self.billing_obj = BillingProvider(
                npi=b.ident or "",
                tax_id=b.refs.get(tax_type, ""),
                address=b.address,
                organization_name=None if b.is_person else b.last,
                last_name=b.last if b.is_person else None,
                first_name=b.first if b.is_person else None,
                middle_name=b.middle if b.is_person else None,
                suffix=b.suffix if b.is_person else None,
                tax_id_type=tax_type,
                taxonomy=self._billing_taxonomy,
                contact=b.contact,
            )
        return self.billing_obj, self.pay_to.address if self.pay_to is not None else None

    def _subscriber(self, parts: _ClaimParts) -> tuple[Subscriber, Payer]:
        if self.subscriber_objs is None:
            s, p, sbr = self.subscriber, self.payer, self.sbr
            if s is None or p is None:
                raise self._fail(parts, "no subscriber (2010BA) or payer (2010BB)")
            subscriber = Subscriber(
                member_id=s.ident or "",
                last_name=s.last,
                first_name=s.first,
                middle_name=s.middle,
                suffix=s.suffix,
                birth_date=s.birth_date,
                gender=s.gender,  # type: ignore[arg-type]
                address=s.address,
                group_number=_e(sbr, 3) or None,
                group_name=_e(sbr, 4) or None,
            )
            payer = Payer(
                payer_id=p.ident or "",
                name=p.last,
                responsibility=_e(sbr, 1) or "P",
                claim_filing_indicator=_e(sbr, 9) or "CI",
                address=p.address,
            )
            self.subscriber_objs = (subscriber, payer)
        return self.subscriber_objs

    def _patient(self, parts: _ClaimParts) -> Patient | None:
        if self.hl_level != "23":
            return None
        if self.patient_obj is None:
            p = self.patient
            if p is None:
                raise self._fail(parts, "no patient name (2010CA) under the 2000C loop")
            if p.birth_date is None or p.address is None:
                raise self._fail(parts, "the patient (2010CA) needs N3/N4 and DMG")
            self.patient_obj = Patient(
                last_name=p.last,
                first_name=p.first or "",
                birth_date=p.birth_date,
                gender=p.gender or "U",  # type: ignore[arg-type]
                address=p.address,
                relationship_to_subscriber=self.pat,
                middle_name=p.middle,
                suffix=p.suffix,
            )
        return self.patient_obj

    def _procedure(self, composite: str) -> Procedure | None:
        return self._procedures[composite]

    def _build(self, parts: _ClaimParts) -> Claim:
        # Steps run in the order that decides which problem is reported when there are several.
        clm = parts.clm
        professional = self.claim_type == "professional"
        decimals = self._decimals
        # The loop objects are the same claim after claim: while none of them was replaced,
        # the ones worked out for the previous claim stand (none of these steps can fail then).
        heads = self._heads
        if (
            heads is not None
            and heads[0] is self.subscriber_objs
            and heads[1] is self.billing_obj
            and heads[2] is self.submitter_obj
            and heads[3] is self.receiver
            and heads[4] is self.pay_to
        ):
            _, _, _, _, _, subscriber, payer, billing, pay_to, submitter, receiver = heads
        else:
            subscriber, payer = self._subscriber(parts)
            billing, pay_to = self._billing_provider(parts)
            submitter = self._submitter(parts)
            receiver = self.receiver
            if receiver is not None and (receiver.name, receiver.identifier) == (
                payer.name,
                payer.payer_id,
            ):
                receiver = None  # canonical form: no receiver means "the payer"
            self._heads = (self.subscriber_objs, self.billing_obj, self.submitter_obj,
                           self.receiver, self.pay_to, subscriber, payer, billing, pay_to,
                           submitter, receiver)  # fmt: skip
        # CLM03..CLM11 repeat claim after claim (place of service, frequency, the yes/no
        # codes): read once per distinct list and claim type.
        tails = self._clm_tails
        tail_key = (professional, *clm[3:12])
        tail = tails.get(tail_key)
        if tail is None:
            tail = _clm_tail(clm, professional, self.comp)
            if len(tails) >= _TEXT_LIMIT:
                tails.clear()
            tails[tail_key] = tail
        refs = parts.refs
        dates = parts.dates

        diagnoses: list[Diagnosis] = []
        admitting: str | None = None
        memo = self._diagnoses
        hi_values = self._hi_values
        for text, hi in parts.hi:
            # An HI text repeats claim after claim: its diagnoses are read once.
            known = hi_values.get(text)
            if known is None:
                found_here: list[Diagnosis] = []
                admitting_here = None
                for element in hi[1:]:
                    found = memo[element]
                    if type(found) is Diagnosis:
                        found_here.append(found)
                    elif found is not None:
                        admitting_here = found[1]
                known = (tuple(found_here), admitting_here)
                if len(hi_values) >= _TEXT_LIMIT:
                    hi_values.clear()
                hi_values[text] = known
            diagnoses.extend(known[0])
            if known[1] is not None:
                admitting = known[1]

        # A line whose SV text was read before (and has no 2430 loop) is made here from the
        # remembered head; only its date, pointers and control number are its own.
        line_heads = self._line_heads[professional]
        made: list[ServiceLine] = []
        for line in parts.lines:
            head = line_heads.get(line.raw) if line.raw is not None else None  # type: ignore[arg-type]
            if head is None or line.adjudications or line.service_date is None:
                made.append(self._service_line(line, professional, parts))
            else:
                made.append(
                    _make_line(
                        head[0],
                        head[1],
                        line.service_date,
                        head[2],
                        head[3],
                        head[4],
                        line.service_date_end,
                        head[5],
                        line.pointers if professional else (),
                        line.control_number,
                        (),
                    )
                )
        lines = tuple(made)
        other_payers = (
            tuple([self._other_payer(o) for o in parts.other_payers]) if parts.other_payers else ()
        )
        entities = parts.entities

        accident = None
        onset = statement_from = statement_to = admission = None
        patient_status = None
        place_of_service = facility_type = None
        if professional:
            place_of_service = tail[0]
            accident_dtp = dates.get("439") if dates else None
            if tail[6] or accident_dtp:
                accident = Accident(
                    related_causes=tail[7],
                    accident_date=self._date(accident_dtp[3]) if accident_dtp else None,
                    state=tail[8],
                )
            onset_dtp = dates.get("431") if dates else None
            onset = self._date(onset_dtp[3]) if onset_dtp else None
        else:
            facility_type = tail[0]
            statement = dates.get("434")
            if statement is not None:
                statement_from, statement_to = self._period(statement)
                statement_to = statement_to or statement_from
            cl1 = parts.cl1 or []
            adm = dates.get("435")
            if adm is not None:
                value = _e(adm, 3)
                admission = Admission(
                    admission_date=self._date(value),
                    type_code=_e(cl1, 1),
                    source_code=_e(cl1, 2) or None,
                    hour=value[8:12] if _e(adm, 2) == "DT" and len(value) >= 12 else None,
                )
            patient_status = _e(cl1, 3) or None

        pcn = clm[1]
        total_charge = decimals[clm[2] if len(clm) > 2 else ""]
        patient = self._patient(parts)
        rendering = referring = attending = facility = None
        if entities:
            rendering = _provider(entities, "rendering")
            referring = _provider(entities, "referring")
            attending = _provider(entities, "attending")
            facility = _provider(entities, "facility")
        return _make_claim(
            self.claim_type,
            submitter,
            billing,
            subscriber,
            payer,
            pcn,
            total_charge,
            tuple(diagnoses),
            lines,
            receiver,
            pay_to,
            patient,
            place_of_service,
            facility_type,
            tail[1],  # frequency_code
            tail[2],  # provider_signature_on_file
            tail[3],  # assignment_participation
            tail[4],  # benefits_assigned
            tail[5],  # release_of_information
            refs.get("F8"),  # payer_claim_number
            refs.get("G1"),  # prior_authorization
            refs.get("9F"),  # referral_number
            accident,
            onset,
            statement_from,
            statement_to,
            admission,
            patient_status,
            admitting,
            rendering,
            referring,
            attending,
            facility,
            other_payers,
        )

    def _service_line(self, line: _Line, professional: bool, parts: _ClaimParts) -> ServiceLine:
        raw = line.raw
        sv = line.seg
        padded = sv if len(sv) >= 6 else sv + _PAD[: 6 - len(sv)]  # SV101..SV105, SV201..SV205
        if professional:
            procedure = self._procedures[padded[1]]
            revenue = None
            charge, unit_type, units = padded[2], padded[3], padded[4]
            place = padded[5] or None
            pointers = line.pointers
        else:
            revenue = padded[1] or None
            procedure = self._procedures[padded[2]]
            charge, unit_type, units = padded[3], padded[4], padded[5]
            place = None
            pointers = ()
        service_date = line.service_date
        if service_date is None:
            service_date = self._statement_date(line, parts)
        adjudications = []
        for adj in line.adjudications:
            svd = adj["seg"]
            if adj["date"] is None:
                raise X12SyntaxError(
                    "line adjudication has no DTP*573 date",
                    segment_id="SVD",
                    segment_number=line.number,
                    offset=line.offset,
                )
            svd_proc = self._procedure(_e(svd, 3))
            svd_revenue = _e(svd, 4) or None
            adjudications.append(
                LineAdjudication(
                    payer_id=_e(svd, 1),
                    paid_amount=Decimal(_e(svd, 2)),
                    paid_units=Decimal(_e(svd, 5) or "0"),
                    adjudication_date=adj["date"],
                    procedure=None if svd_proc == procedure else svd_proc,
                    revenue_code=None if svd_revenue == revenue else svd_revenue,
                    adjustments=tuple(adj["cas"]),
                )
            )
        decimals = self._decimals
        charge_value = decimals[charge]
        units_value = decimals[units or "0"]
        if raw is not None:
            heads = self._line_heads[professional]
            if len(heads) >= _TEXT_LIMIT:
                heads.clear()
            heads[raw] = (charge_value, units_value, procedure, revenue,
                                        unit_type or "UN", place)  # fmt: skip
        return _make_line(
            charge_value,
            units_value,
            service_date,
            procedure,
            revenue,
            unit_type or "UN",
            line.service_date_end,
            place,
            pointers,
            line.control_number,
            tuple(adjudications) if adjudications else (),
        )

    def _statement_date(self, line: _Line, parts: _ClaimParts) -> date:
        """837I lines may leave DTP*472 out; the statement period then dates them."""
        statement = parts.dates.get("434")
        if statement is None:
            raise X12SyntaxError(
                "service line has no service date (DTP*472)",
                segment_id=line.seg[0],
                segment_number=line.number,
                offset=line.offset,
            )
        return self._period(statement)[0]

    def _other_payer(self, o: dict[str, Any]) -> OtherPayer:
        sbr = o["sbr"]
        last, first, member_id = o.get("subscriber", ("", None, ""))
        amounts = o["amt"]
        return OtherPayer(
            payer_id=o.get("payer_id", ""),
            name=o.get("name", ""),
            responsibility=_e(sbr, 1),
            relationship_to_subscriber=_e(sbr, 2),
            claim_filing_indicator=_e(sbr, 9),
            subscriber=OtherSubscriber(member_id=member_id, last_name=last, first_name=first),
            paid_amount=amounts.get("D"),
            remaining_patient_liability=amounts.get("EAF"),
            adjudication_date=o.get("date"),
            group_number=_e(sbr, 3) or None,
            adjustments=tuple(o["cas"]),
        )


class _NotADate(ValueError):
    """Raised by _read_date; the reader turns it into an X12SyntaxError at the segment."""


def _read_date(text: str) -> date:
    if len(text) < 8 or not text[:8].isdigit():
        raise _NotADate(text)
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _clm_tail(clm: list[str], professional: bool, comp: str) -> tuple[Any, ...]:
    """What a claim takes from CLM05..CLM11: place of service (837P) or facility type (837I),
    frequency, signature, assignment, benefits, release, and CLM11's accident parts (837P)."""
    padded = clm if len(clm) >= 12 else clm + _PAD[: 12 - len(clm)]  # CLM01..CLM11
    clm05 = _comp(padded[5], comp)
    clm11 = _comp(padded[11], comp) if professional else []
    return (
        _e(clm05, 0) or None,
        _e(clm05, 2) or "1",
        padded[6] != "N" if professional else True,
        padded[7] or "A",
        padded[8] != "N",
        padded[9] or "Y",
        bool(clm11),
        tuple(c for c in clm11[:2] if c),
        _e(clm11, 3) or None,
    )


def _read_procedure(comp: str, composite: str) -> Procedure | None:
    parts = _comp(composite, comp)
    if len(parts) < 2:
        return None
    return Procedure(
        code=parts[1],
        qualifier=parts[0],
        modifiers=tuple(m for m in parts[2:6] if m),
        description=_e(parts, 6) or None,
    )


def _read_pointers(comp: str, text: str) -> tuple[int, ...]:
    """SV107 -> diagnosis pointers."""
    return tuple(_pointer(p) for p in _comp(text, comp) if p)


def _read_diagnosis(comp: str, element: str) -> tuple[str, str] | Diagnosis | None:
    """One HI composite: a Diagnosis, ("admitting", code), or None for other qualifiers."""
    c = element.split(comp)
    qualifier = c[0]
    if qualifier in ("ABK", "BK", "ABF", "BF"):
        return Diagnosis(
            code=_icd(c[1], qualifier),
            present_on_admission=_e(c, 8) or None,  # type: ignore[arg-type]
        )
    if qualifier in ("ABJ", "BJ"):
        return ("admitting", _icd(c[1], qualifier))
    return None


def _provider(entities: dict[str, _Entity], role: str) -> Provider | None:
    entity = entities.get(role)
    return entity.provider() if entity is not None else None


def _pointer(text: str) -> int:
    """SV107 diagnosis pointer (N0); "1.00" is tolerated because its meaning is plain."""
    value = Decimal(text)
    if value != value.to_integral_value() or not 1 <= value <= 12:
        raise ValueError(f"diagnosis pointer {text!r} is not 1..12")
    return int(value)


def _icd(code: str, qualifier: str) -> str:
    """ICD-10-CM (AB* qualifiers) gets its dot back after the category; ICD-9 is left as sent."""
    if qualifier.startswith("AB") and len(code) > 3 and "." not in code:
        return f"{code[:3]}.{code[3:]}"
    return code
