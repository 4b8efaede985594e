"""The raw X12 intake step: an 837 file from a submitter is stored, acknowledged (TA1, 999),
and the claims of its accepted transaction sets enter the same pipeline as JSON claims.

The file is stored sealed (in chunks) before anything reads it; the same file sent again is
recognised by its sha256 and answered with the first answer, not processed twice, and a run
cut short is resumed under the same file id. The file is read from disk as a stream: pyx12 and
the claim reader run in worker threads, off the event loop, and claims are admitted a chunk
per transaction, the file's counts moving with each. The 999 (and a TA1 for a rejected
interchange) also go to the submitter's outbox.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from edi import codes
from edi.ack import ImplementationAck, InterchangeAck, TransactionSetAck
from edi.claim import Claim
from edi.claim_json import claim_to_json
from edi.envelope import EnvelopeParams, isa_width_errors
from edi.errors import EdiError
from edi.read_837 import UnreadableClaim, read_837
from edi.read_envelope import single_set_interchanges
from edi.validate import AckControl, ValidationReport, validate
from edi.write_ack import ack_from_report, build_999, build_ta1, ta1_from_report
from edi.x12 import SegmentReader, head_segments
from gateway.crypto import Sealer
from gateway.errors import ProblemError
from gateway.intake.claim_schema import claim_errors
from gateway.intake.claims import request_digest
from gateway.pipeline.answer_files import file_scrubbed, intake_refusals_277ca
from gateway.pipeline.apply import describe_segment_error
from gateway.settings import X12Settings
from gateway.storage import claims as store
from gateway.storage import files as fs
from gateway.storage import interchanges as ix
from payers.duplicates import duplicate_fingerprint

log = structlog.get_logger("gateway.x12_intake")


class UnreadableFile(ProblemError):
    status, slug, title = 422, "unreadable-x12", "The file is not an X12 interchange we can read"


@dataclass(frozen=True)
class X12Received:
    file: fs.File
    response: dict[str, Any]
    replayed: bool


def _isa(text: str) -> dict[str, str]:
    """What the answers need of the file's first ISA, and of its GS and BHT when the head holds
    them."""
    segments = head_segments(text, 5)
    if not segments or len(segments[0]) < 17:
        return {}
    elements = segments[0]
    found = {
        "sender_qualifier": elements[5],
        "sender": elements[6],
        "receiver_qualifier": elements[7],
        "receiver": elements[8],
        "usage": elements[15],
        "ack": elements[14],
        "date": elements[9],
        "time": elements[10],
        "control": elements[13],
    }
    for segment in segments[1:]:
        if segment[0] == "GS" and len(segment) > 3:
            found["application_sender"], found["application_receiver"] = segment[2], segment[3]
        # BHT03, the submitter's reference for its batch, which our 277CAs echo (2200B TRN02).
        elif segment[0] == "BHT" and len(segment) > 3 and _BATCH_REFERENCE.fullmatch(segment[3]):
            found["bht03"] = segment[3]
    return found


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,14}")  # ISA06/ISA08, GS02/GS03
_BATCH_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,49}")  # BHT03
_QUALIFIER = re.compile(r"[A-Z0-9]{2}")  # ISA05/ISA07


def _answer_envelope(
    x12: X12Settings, isa: dict[str, str], control: int, now: datetime
) -> EnvelopeParams:
    """The envelope of our TA1/999 back to the sender: its ISA and GS ids swapped, so it comes
    from the id (and qualifier) the file was addressed to and goes to the one that sent it."""

    def usable(key: str, pattern: re.Pattern[str]) -> str | None:
        # Taken from the file only when it can stand in our envelope as it is.
        value = isa.get(key, "")
        return value if pattern.fullmatch(value) else None

    return EnvelopeParams(
        sender_id=usable("receiver", _ID) or x12.sender_id,
        sender_qualifier=usable("receiver_qualifier", _QUALIFIER) or x12.sender_qualifier,
        receiver_id=usable("sender", _ID) or "SUBMITTER",
        receiver_qualifier=usable("sender_qualifier", _QUALIFIER) or "ZZ",
        application_sender=usable("application_receiver", _ID),
        application_receiver=usable("application_sender", _ID),
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=now,
        usage_indicator="P" if isa.get("usage") == "P" else "T",
    )


_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def answer_name(kind: str, control: int, answered: str) -> str:
    """KIND-CONTROL-STEM.x12: what it is, its ISA13, and the name of the file it answers, so a
    submitter who sent several files can tell which answer is whose."""
    stem = _NOT_NAME.sub("-", answered.rsplit(".", 1)[0]).strip(".-")[:60]
    return f"{kind}-{control:09d}-{stem}.x12" if stem else f"{kind}-{control:09d}.x12"


def _readable_header(isa: dict[str, str]) -> InterchangeAck | None:
    """A TA1 rejecting the interchange (024, invalid content) when its ISA can be read."""
    try:
        control = int(isa["control"])
        when = datetime.strptime(isa["date"] + isa["time"], "%y%m%d%H%M")
    except (KeyError, ValueError):
        return None
    if not 1 <= control <= 999_999_999:
        return None
    return InterchangeAck(control, when.date(), when.time(), "R", "024")


async def _record_unreadable_answer(
    conn: AsyncConnection,
    sealer: Sealer,
    x12: X12Settings,
    received: fs.File,
    isa: dict[str, str],
    control: int,
    now: datetime,
    error: str,
    *,
    channel: str,
) -> str:
    """The answer to a file we cannot read goes to the outbox like any other: a TA1 when the
    interchange header is readable, else a short JSON note naming the file and the problem."""
    ta1 = _readable_header(isa)
    if ta1 is not None:
        params = _answer_envelope(x12, isa, control, now)
        kind, name = "TA1", answer_name("TA1", control, received.name)
        body = build_ta1([ta1], params).encode()
    else:
        note = {
            "file": received.name,
            "file_id": received.id,
            "sha256": received.sha256,
            "state": fs.REJECTED,
            "error": f"not an X12 interchange we can read: {error[:500]}",
        }
        stem = received.name.rsplit(".", 1)[0] or "upload"
        kind, name = "note", f"{stem}.rejected.json"
        body = (json.dumps(note, indent=2) + "\n").encode()
    await fs.add_file(
        conn,
        sealer,
        submitter_id=received.submitter_id,
        direction=fs.OUTBOUND,
        channel=channel,
        kind=kind,
        name=name,
        body=body,
        state=fs.PROCESSED,
        detail={"answers": received.id},
    )
    return kind


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


_HEAD_CHARS = 4096


def _head(path: Path) -> str:
    """The start of the file, enough for its ISA (106 characters, perhaps after blanks)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        return f.read(_HEAD_CHARS)


async def store_x12(
    engine: AsyncEngine,
    sealer: Sealer,
    *,
    submitter_id: str,
    path: Path,
    name: str,
    channel: str,
    sha256: str | None = None,
) -> tuple[fs.File, bool]:
    """The inbound file row for the file at `path`, stored sealed before anything reads it, and
    whether it is already answered. A file stored earlier with the same content is found by
    its sha256: answered (processed or rejected), or still processing (an interrupted run,
    resumed under the same id so that its claims keep their idempotency keys)."""
    digest = sha256 or await asyncio.to_thread(_sha256, path)
    async with engine.connect() as conn:
        twin = await fs.inbound_twin(conn, submitter_id, digest)
    if twin is not None:
        return twin, twin.state != fs.PROCESSING
    async with engine.begin() as conn:
        received = await fs.add_file_from_path(
            conn,
            sealer,
            submitter_id=submitter_id,
            channel=channel,
            kind="837",
            name=name,
            path=path,
            sha256=digest,
            state=fs.PROCESSING,
        )
    return received, False


async def receive_x12(
    engine: AsyncEngine,
    sealer: Sealer,
    x12: X12Settings,
    *,
    submitter_id: str,
    path: Path,
    name: str,
    channel: str,
    refused_quota: int,
) -> X12Received:
    """Store, acknowledge and admit the 837 file at `path`, read as a stream from disk. A file
    refused whole is kept whole within the submitter's `refused_quota`, else its first 64 KB."""
    received, answered = await store_x12(
        engine, sealer, submitter_id=submitter_id, path=path, name=name, channel=channel
    )
    if answered:
        return X12Received(received, await _replayed(engine, sealer, received), replayed=True)
    head = await asyncio.to_thread(_head, path)
    isa = _isa(head)
    sender = (isa.get("sender") or "SUBMITTER")[:15]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        control = await ix.next_control_number(conn, x12.sender_id, sender)

    async def refuse(error: str) -> UnreadableFile:
        async with engine.begin() as conn:
            answer = await _record_unreadable_answer(
                conn, sealer, x12, received, isa, control, now, error, channel=channel
            )
            await fs.update_file(
                conn,
                received.id,
                state=fs.REJECTED,
                detail={"error": error[:2000], "answer": answer},
            )
            await _within_quota(conn, sealer, received, refused_quota)
        return UnreadableFile(error[:500], file_id=received.id)

    if not head.lstrip("\ufeff").strip() and len(head) < _HEAD_CHARS:
        # pyx12 finds nothing wrong in nothing; the sender must still hear that nothing came.
        raise await refuse("the file is empty")
    try:
        report = await asyncio.to_thread(validate, path, AckControl(control, control, 1, now))
        headers = await asyncio.to_thread(_interchange_headers, path)
    except EdiError as error:
        raise await refuse(str(error)) from None
    turned_away = await _refused_interchanges(engine, submitter_id, headers)

    params = _answer_envelope(x12, isa, control, now)
    ta1s, acks = await asyncio.to_thread(_acknowledgments, path, report, params, turned_away)
    interchange_rejected = any(t.status == "R" for t in ta1s)
    every_interchange_rejected = interchange_rejected and not acks
    response, refused = await _admit_claims(
        engine,
        sealer,
        received,
        path,
        acks,
        submitter_id=submitter_id,
        channel=channel,
        chunk=max(1, x12.claims_per_transaction),
        ours=x12.sender_id,
    )
    outbox = []
    if interchange_rejected or isa.get("ack") == "1":
        outbox.append(("TA1", build_ta1(list(ta1s), params)))
    if acks:
        outbox.append(("999", build_999(list(acks), params)))
    response.update(
        {
            "file_id": received.id,
            "ta1": _ta1_json(ta1s) if outbox and outbox[0][0] == "TA1" else None,
            "ack_999": _999_json(acks) if acks else None,
            "x12": {kind: content for kind, content in outbox},
            "pyx12_issues": len(report.issues),
            # Accepted but not as the guide has it (a last IEA without its terminator, an
            # earlier guide's GS08): worth the sender's fixing, not a reason to refuse.
            **({"warnings": list(report.warnings)} if report.warnings else {}),
        }
    )
    if turned_away:
        # What the TA1 says by code, in words: which element, why.
        response["interchange_errors"] = [
            {"control_number": number, "note_code": code, **error}
            for number, (code, errors) in sorted(turned_away.items())
            for error in errors
        ]
    async with engine.begin() as conn:
        for kind, content in outbox:
            await fs.add_file(
                conn,
                sealer,
                submitter_id=submitter_id,
                direction=fs.OUTBOUND,
                channel=channel,
                kind=kind,
                name=answer_name(kind, control, received.name),
                body=content.encode(),
                state=fs.PROCESSED,
                detail={"answers": received.id},
            )
        counts = response["claims"]
        await fs.update_file(
            conn,
            received.id,
            state=fs.REJECTED if every_interchange_rejected else fs.PROCESSED,
            claims_read=counts["read"],
            claims_accepted=counts["accepted"],
            claims_rejected=counts["rejected"],
            detail={
                "response": _without_x12(response),
                "interchange_sender": sender,
                **({"bht03": isa["bht03"]} if "bht03" in isa else {}),
            },
        )
        if every_interchange_rejected:
            await _within_quota(conn, sealer, received, refused_quota)
        await intake_refusals_277ca(
            conn, sealer, x12, submitter_id, received.id, refused, isa.get("bht03")
        )
        # Workers may have scrubbed every claim already: then the file's 277CA is made here.
        await file_scrubbed(conn, sealer, x12, received.id)
        stored = await fs.get_file(conn, received.id, submitter_id)
    assert stored is not None
    log.info("x12_file_received", file_id=received.id, **counts)
    return X12Received(stored, response, replayed=False)


async def _replayed(engine: AsyncEngine, sealer: Sealer, received: fs.File) -> dict[str, Any]:
    """The first answer to a file sent again, as it was (its TA1/999 as X12 too), with each
    admitted claim's status of today beside the one it was answered with."""
    response = dict(received.detail.get("response", {}))
    async with engine.connect() as conn:
        answers = [a for a in await fs.answers_of(conn, received) if a.kind in ("TA1", "999")]
        response["x12"] = {
            a.kind: (await fs.file_body(conn, sealer, a.id)).decode() for a in answers
        }
        results = response.get("claim_results", [])
        ids = [r["id"] for r in results if r.get("id")]
        now = {r.id: r.status.value for r in await store.get_claims(conn, ids)}
    # "status" stays what the first answer said; "current_status" is where the claim is now.
    response["claim_results"] = [
        {**r, "current_status": now[r["id"]]} if r.get("id") in now else r for r in results
    ]
    response["received_at"] = received.created_at.isoformat()  # when the first answer was made
    response["current_status_at"] = datetime.now(UTC).isoformat()
    return response


async def _within_quota(
    conn: AsyncConnection, sealer: Sealer, refused: fs.File, quota: int
) -> None:
    """A refused file past its submitter's quota of refused bytes keeps its first 64 KB."""
    if refused.size <= store.REFUSED_HEAD_BYTES:
        return
    if await store.refused_bytes_kept(conn, refused.submitter_id) > quota:
        kept = await fs.keep_head(conn, sealer, refused.id, store.REFUSED_HEAD_BYTES)
        log.info("refused_file_cut_to_its_head", file_id=refused.id, kept_bytes=kept)


def _open_text(path: Path) -> Any:
    return path.open(encoding="utf-8", errors="replace", newline="")


@dataclass(frozen=True)
class _Header:
    """An interchange's ISA as written (blanks kept) and its groups' application senders."""

    isa: list[str]
    application_senders: list[str]  # GS02 of each group

    @property
    def control_number(self) -> int:
        return int(self.isa[13]) if len(self.isa) > 13 and self.isa[13].isdigit() else 0

    @property
    def sender(self) -> str:
        return self.isa[6].strip() if len(self.isa) > 6 else ""


def _interchange_headers(path: Path) -> list[_Header]:
    """Every interchange's ISA and GS02s, from one pass over the file."""
    headers: list[_Header] = []
    with _open_text(path) as f:
        for segment in SegmentReader(f):
            if segment[0] == "ISA":
                headers.append(_Header(segment, []))
            elif segment[0] == "GS" and headers and len(segment) > 2:
                headers[-1].application_senders.append(segment[2].strip())
    return headers


Refusals = dict[int, tuple[str, list[dict[str, str]]]]  # ISA13 -> TA105 code, errors named


async def _refused_interchanges(
    engine: AsyncEngine, submitter_id: str, headers: list[_Header]
) -> Refusals:
    """The interchanges to reject before their content is read: an ISA element of the wrong
    width (the ISA is fixed-width), or a sender that is not this submitter. A submitter's
    interchange sender ids are set with `clearway submitters sender-ids`; one that has none
    yet is given the ISA06 of its first file, unless another submitter has that id. A group
    whose GS02 is another submitter's id rejects its interchange too."""
    refused: Refusals = {}
    for header in headers:
        widths = isa_width_errors(header.isa)
        if widths:
            refused[header.control_number] = (
                widths[0][1],
                [{"element": f"ISA{pos:02d}", "message": text} for pos, _, text in widths],
            )
    named = {h.sender for h in headers} | {g for h in headers for g in h.application_senders}
    async with engine.begin() as conn:
        mine = set(await store.sender_ids_of(conn, submitter_id))
        owners = await store.owners_of_sender_ids(conn, sorted(named - {""}))
        first = next((h.sender for h in headers if h.control_number not in refused), "")
        if not mine and first and first not in owners:
            await store.add_sender_id(conn, submitter_id, first[:15])
            mine, owners = {first}, {**owners, first: submitter_id}
    for header in headers:
        if header.control_number in refused:
            continue
        errors = []
        if header.sender not in mine:
            errors.append(
                {
                    "element": "ISA06",
                    "message": f"the interchange sender id {header.sender!r} is not one of "
                    "yours (`clearway submitters sender-ids` lists and adds them)",
                }
            )
        for gs02 in header.application_senders:
            if owners.get(gs02, submitter_id) != submitter_id:
                errors.append(
                    {
                        "element": "GS02",
                        "message": f"the application sender {gs02!r} is another submitter's "
                        "interchange sender id",
                    }
                )
        if errors:
            refused[header.control_number] = ("006", errors)
    return refused


def _acknowledgments(
    path: Path, report: ValidationReport, params: EnvelopeParams, refused: Refusals
) -> tuple[tuple[InterchangeAck, ...], tuple[ImplementationAck, ...]]:
    """The TA1s and the 999's acknowledgments, each from one more pass over the file. The
    groups of an interchange its TA1 rejects (pyx12's verdict, or `refused` here) are not
    acknowledged (nothing of them is admitted); the other interchanges of the file go on."""
    with _open_text(path) as f:
        ta1s = tuple(
            dataclasses.replace(t, status="R", note_code=refused[t.control_number][0])
            if t.control_number in refused  # the more telling reason
            else t
            for t in ta1_from_report(f, report)
        )
    rejected = {t.control_number for t in ta1s if t.status == "R"}
    if rejected and all(t.status == "R" for t in ta1s):
        return ta1s, ()
    with _open_text(path) as f:
        acks = ack_from_report(f, report, params)
    if not rejected:
        return ta1s, acks
    with _open_text(path) as f:
        owners = _interchange_of_each_group(f)
    return ta1s, tuple(
        ack for ack, isa13 in zip(acks, owners, strict=True) if isa13 not in rejected
    )


def _interchange_of_each_group(f: Any) -> list[int]:
    """ISA13 of the interchange holding each functional group, in file order (as TA1s and
    ack_from_report number them: 0 when not a number)."""
    owners: list[int] = []
    isa13 = 0
    for segment in SegmentReader(f):
        if segment[0] == "ISA":
            isa13 = int(segment[13]) if len(segment) > 13 and segment[13].isdigit() else 0
        elif segment[0] == "GS":
            owners.append(isa13)
    return owners


@dataclass(frozen=True)
class _Read:
    """A claim read from the file and checked off the event loop, waiting to be admitted."""

    key: str  # x12:{file id}:{ST02}:{n}, its place in the file
    claim: Claim | UnreadableClaim
    new: store.NewClaim | None = None  # None: unreadable or invalid
    errors: list[dict[str, Any]] | None = None


# AK901 codes that reject a whole functional group: R rejected, M/W/X security failures.
_GROUP_REJECTED = frozenset("RMWX")
_RESULTS_KEPT = 1000  # claim results kept in the answer: the counts cover every claim
_REFUSED_KEPT = 10_000  # invalid claims answered in one 277CA, so memory stays bounded


def _read_claims(
    path: Path,
    file_id: str,
    verdicts: dict[tuple[str, str], TransactionSetAck],
    rejected_groups: set[str],
    sets: list[dict[str, Any]],
    sealer: Sealer,
    chunk: int,
    ours: str,
) -> Iterator[list[_Read]]:
    """The claims of the accepted sets of accepted groups, `chunk` at a time, each read and
    checked (the CPU work of admission); a verdict for every set goes to `sets`. Runs in
    worker threads."""
    batch: list[_Read] = []
    with _open_text(path) as f:
        for gs06, st01, st02, one_set in single_set_interchanges(f):
            key = (gs06.lstrip("0") or "0", st02)
            verdict = verdicts.get(key)
            group_rejected = key[0] in rejected_groups
            if st01 != "837" or verdict is None or not verdict.accepted or group_rejected:
                if st01 != "837":
                    reason = "not an 837"
                elif group_rejected and verdict is not None and verdict.accepted:
                    # AK9 rejects the whole group (a GE count or control number that does not
                    # match its GS): none of its sets may be admitted, accepted or not.
                    reason = "its functional group was rejected by the 999 (AK9)"
                elif verdict is None:
                    reason = "not acknowledged: its interchange was rejected (see the TA1)"
                else:
                    reason = "rejected by the 999"
                sets.append(
                    {
                        "transaction_control_number": st02,
                        "accepted": False,
                        "reason": reason,
                        "errors": [describe_segment_error(e) for e in verdict.errors]
                        if verdict
                        else [],
                    }
                )
                continue
            sets.append({"transaction_control_number": st02, "accepted": True})
            for n, item in enumerate(read_837(one_set)):
                batch.append(_check(item, f"x12:{file_id}:{st02}:{n}", sealer, ours))
                if len(batch) >= chunk:
                    yield batch
                    batch = []
    if batch:
        yield batch


def _check(item: Claim | UnreadableClaim, key: str, sealer: Sealer, ours: str) -> _Read:
    if isinstance(item, UnreadableClaim):
        return _Read(key, item)
    if item.receiver is not None and item.receiver.identifier == ours:
        # 1000B names us, the clearinghouse the file was sent to. The claim goes on to its
        # payer, whose 837 must name the payer there: no receiver means the payer.
        item = dataclasses.replace(item, receiver=None)
    data = claim_to_json(item)
    errors = claim_errors(data)
    if errors:
        return _Read(key, item, errors=errors)
    # The key names the claim's place in this file: an earlier run over the same file that was
    # interrupted has already admitted it.
    new = store.NewClaim(
        item, data, request_digest(data), key, sealer.lookup_hash(duplicate_fingerprint(item))
    )
    return _Read(key, item, new)


async def _admit_claims(
    engine: AsyncEngine,
    sealer: Sealer,
    received: fs.File,
    path: Path,
    acks: tuple[ImplementationAck, ...],
    *,
    submitter_id: str,
    channel: str,
    chunk: int,
    ours: str,
) -> tuple[dict[str, Any], list[tuple[Claim, str, str]]]:
    """Admit the claims `chunk` per transaction; the file's counts move with each commit, so
    GET /v1/files/{id} shows the progress of a large file. Also returns the claims read but
    refused as invalid, each with what is wrong."""
    # A file may hold several interchanges: a set is known by its group's GS06 and its ST02.
    verdicts = {
        (str(a.group_control_number), s.control_number): s for a in acks for s in a.transaction_sets
    }
    rejected_groups = {str(a.group_control_number) for a in acks if a.status in _GROUP_REJECTED}
    claims: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    refused: list[tuple[Claim, str, str]] = []
    read = accepted = rejected = 0
    chunks = _read_claims(path, received.id, verdicts, rejected_groups, sets, sealer, chunk, ours)
    while (batch := await asyncio.to_thread(next, chunks, None)) is not None:
        async with engine.begin() as conn:
            admitted = await _admit(conn, sealer, batch, submitter_id=submitter_id, channel=channel)
            for item in batch:
                outcome = _outcome(item, admitted)
                read += 1
                accepted += outcome["status"] == "received"
                rejected += outcome["status"] != "received"
                if len(claims) < _RESULTS_KEPT:
                    claims.append(outcome)
                # Kept for the 277CA of the file, up to a bound: the counts cover every one.
                if item.errors and isinstance(item.claim, Claim) and len(refused) < _REFUSED_KEPT:
                    pointer = item.errors[0]["pointer"]
                    refused.append((item.claim, _errors_text(item.errors), pointer))
            await fs.update_file(
                conn,
                received.id,
                claims_read=read,
                claims_accepted=accepted,
                claims_rejected=rejected,
            )
    result: dict[str, Any] = {
        "claims": {"read": read, "accepted": accepted, "rejected": rejected},
        "transaction_sets": sets,
        "claim_results": claims,
    }
    if read > len(claims):
        result["claim_results_omitted"] = read - len(claims)
    return result, refused


def _errors_text(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['pointer'].lstrip('/')} {e['message']}" for e in errors)


async def _admit(
    conn: AsyncConnection, sealer: Sealer, batch: list[_Read], *, submitter_id: str, channel: str
) -> dict[str, str]:
    """Record the chunk's admissible claims not already admitted by an earlier run over the
    file; returns the claim id of every admissible claim by its key."""
    keys = [item.key for item in batch if item.new is not None]
    known = await store.claim_ids_by_idempotency_keys(conn, submitter_id, keys)
    fresh = [item for item in batch if item.new is not None and item.key not in known]
    records = await store.insert_received_claims(
        conn,
        sealer,
        [item.new for item in fresh if item.new is not None],
        submitter_id=submitter_id,
        event_detail={"channel": channel},
    )
    known.update(zip((item.key for item in fresh), (r.id for r in records), strict=True))
    return known


def _outcome(item: _Read, admitted: dict[str, str]) -> dict[str, Any]:
    claim = item.claim
    if isinstance(claim, UnreadableClaim):
        # The reader saw the set re-enveloped alone (ISA, GS, then ST as its third segment).
        return {
            "patient_control_number": claim.patient_control_number,
            "status": "unreadable",
            "error": claim.message[:500],
            "transaction_control_number": item.key.split(":")[2],
            "segment_id": claim.segment_id,
            "position_in_set": claim.segment_number - 2,
        }
    if item.new is None:
        return {
            "patient_control_number": claim.patient_control_number,
            "status": "invalid",
            "errors": item.errors,
        }
    return {
        "patient_control_number": claim.patient_control_number,
        "status": "received",
        "id": admitted[item.key],
    }


def _ta1_json(ta1s: tuple[InterchangeAck, ...]) -> list[dict[str, Any]]:
    return [
        {
            "control_number": t.control_number,
            "status": t.status,
            "note_code": t.note_code,
            "note": codes.describe("ta105", t.note_code),
        }
        for t in ta1s
    ]


def _999_json(acks: tuple[ImplementationAck, ...]) -> list[dict[str, Any]]:
    return [
        {
            "group_control_number": a.group_control_number,
            "status": a.status,
            "sets_included": a.sets_included,
            "sets_accepted": a.sets_accepted,
            "transaction_sets": [
                {
                    "transaction_control_number": s.control_number,
                    "status": s.status,
                    "errors": [describe_segment_error(e) for e in s.errors],
                    # IK502-IK506: what is wrong with the set as a whole (SE count, ST02/SE02)
                    "set_errors": [
                        {"code": c, "meaning": codes.describe("ik502", c)} for c in s.error_codes
                    ],
                }
                for s in a.transaction_sets
            ],
            # AK905-AK909: what is wrong with the group as a whole (GE count, GS06/GE02)
            "group_errors": [
                {"code": c, "meaning": codes.describe("ak905", c)} for c in a.error_codes
            ],
        }
        for a in acks
    ]


def _without_x12(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "x12"}
