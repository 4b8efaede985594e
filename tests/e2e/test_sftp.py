"""The SFTP drop driven by the real OpenSSH `sftp` client against the server inside the app.

837s go up to inbound/; the 999, and later the 277CA and 835, come back in outbound/. The
security tests try to leave the submitter's folder every way the protocol allows.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from edi.claim_json import claim_from_json
from edi.envelope import EnvelopeParams
from edi.read_277ca import read_277ca
from edi.read_835 import read_835
from edi.read_ack import read_acknowledgments
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from gateway.app import create_app
from gateway.context import DELIVERY, ENGINE
from gateway.intake.drop import DROP_INTAKE, DropFolders
from gateway.intake.sftp_server import SFTP_DROP, parse_public_key
from gateway.settings import (
    DropSettings,
    PayersSettings,
    Settings,
    SftpSettings,
    SimulatorSettings,
)
from gateway.storage import claims as store
from gateway.storage.folders import sftp_user_name, submitter_folder
from gateway.storage.tables import claims, files, intake_rejections
from tests.conftest import auth, example
from tests.e2e.support import FINAL, free_port, write_fast_profiles
from tests.e2e.test_claim_flow import drive

pytestmark = pytest.mark.skipif(
    not (shutil.which("sftp") and shutil.which("ssh-keygen")), reason="OpenSSH client missing"
)

LIMIT = 300_000  # max_file_bytes in these tests


@dataclass(frozen=True)
class Login:
    user: str
    key: Path
    api_key: str
    submitter_id: str


@pytest.fixture
def sftp_settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(
        settings,
        payers=PayersSettings(profiles_dir=str(write_fast_profiles(tmp_path / "profiles"))),
        simulator=SimulatorSettings(data_dir=str(tmp_path / "simulator")),
        sftp=SftpSettings(
            enabled=True,
            port=free_port(),
            root=str(tmp_path / "sftp"),
            host_key_file=str(tmp_path / "sftp-host-key"),
            max_file_bytes=LIMIT,
        ),
    )


@pytest.fixture
async def gateway(aiohttp_client: Any, sftp_settings: Settings) -> Any:
    client = await aiohttp_client(create_app(sftp_settings))
    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    return client


async def keygen(path: Path) -> Path:
    process = await asyncio.create_subprocess_exec(
        "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(path)
    )
    assert await process.wait() == 0
    return path


async def login(client: Any, tmp_path: Path, name: str, *, register: bool = True) -> Login:
    async with client.app[ENGINE].begin() as conn:
        submitter, api_key = await store.create_submitter(conn, name)
        key = await keygen(tmp_path / f"{name}-key")
        if register:
            public_key, fingerprint = parse_public_key(key.with_suffix(".pub").read_text())
            await store.add_sftp_key(
                conn, submitter.id, public_key=public_key, fingerprint=fingerprint
            )
    user = sftp_user_name(name)
    assert user is not None
    return Login(user, key, api_key, submitter.id)


async def sftp(
    client: Any, who: Login, commands: str, *, user: str | None = None
) -> tuple[int, str]:
    """Run the OpenSSH client in batch mode; returns its exit status and all it printed."""
    port = client.app[SFTP_DROP].settings.port
    process = await asyncio.create_subprocess_exec(
        "sftp",
        "-b",
        "-",
        "-i",
        str(who.key),
        "-P",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        f"{user or who.user}@127.0.0.1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(commands.encode()), 60)
    return process.returncode or 0, output.decode(errors="replace")


def x12_file(name: str, control: int, pcn: str) -> str:
    data = example(name)
    data["patient_control_number"] = pcn
    params = EnvelopeParams(
        sender_id="SUB000101",
        receiver_id="CLEARWAY",
        interchange_control_number=control,
        group_control_number=control,
        transaction_control_number=1,
        created=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    return build_837([claim_from_json(data)], params)


async def settled(client: Any) -> None:
    """Wait until every finished upload has been through the intake."""
    await asyncio.wait_for(client.app[SFTP_DROP].intake.idle.wait(), 60)


def folder(client: Any, who: Login, sub: str) -> Path:
    return submitter_folder(Path(client.app[SFTP_DROP].settings.root), who.user) / sub


async def count(client: Any, table: Any) -> int:
    async with client.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def claim_statuses(client: Any, who: Login) -> dict[str, str]:
    listing = await (await client.get("/v1/claims", headers=auth(who.api_key))).json()
    return {c["patient_control_number"]: c["status"] for c in listing["items"]}


async def download(client: Any, who: Login, into: Path) -> dict[str, str]:
    """Everything in the submitter's outbound/, fetched with the real client."""
    await asyncio.to_thread(into.mkdir, exist_ok=True)
    status, output = await sftp(client, who, f"lcd {into}\n-get outbound/*\n")
    assert status == 0, output
    return await asyncio.to_thread(lambda: {p.name: p.read_text() for p in into.iterdir()})


async def test_professional_and_institutional_files_round_trip(
    gateway: Any, tmp_path: Path
) -> None:
    who = await login(gateway, tmp_path, "sunrise-billing")
    uploads = {
        "prof.x12": x12_file("professional-office-visit.json", 11, "SFTP-P-0001"),
        "inst.x12": x12_file("institutional-outpatient.json", 12, "SFTP-I-0001"),
    }
    # A claim pyx12 accepts but the scrubber rejects: the billing NPI fails its check digit.
    bad = x12_file("professional-office-visit.json", 13, "SFTP-P-0002")
    npi = example("professional-office-visit.json")["billing_provider"]["npi"]
    wrong = npi[:-1] + str((int(npi[-1]) + 1) % 10)
    uploads["bad.x12"] = bad.replace(f"*XX*{npi}~", f"*XX*{wrong}~", 1)
    assert uploads["bad.x12"] != bad
    commands = ""
    for name, text in uploads.items():
        (tmp_path / name).write_text(text)
        commands += f"put {tmp_path / name} inbound/{name}\n"
    status, output = await sftp(gateway, who, commands)
    assert status == 0, output
    await settled(gateway)

    async def final() -> bool:
        statuses = await claim_statuses(gateway, who)
        return len(statuses) == 3 and set(statuses.values()) <= FINAL

    await drive(gateway, final)
    statuses = await claim_statuses(gateway, who)
    assert statuses["SFTP-P-0002"] == "scrub_rejected"
    files_out = await download(gateway, who, tmp_path / "outbound")
    acks = [read_acknowledgments(t) for n, t in files_out.items() if n.startswith("999-")]
    assert len(acks) == 3 and all(a.implementation_acks[0].status == "A" for a in acks)
    # 277CAs: ours for the scrub rejection, the payers' for the others, each only ours.
    seen: dict[str, str] = {}
    for name, text in files_out.items():
        if name.startswith("277CA-"):
            assert validate(text, AckControl(1, 1, 1, datetime.now(UTC))).ok, name
            for ack in read_277ca(text):
                for _, claim in ack.claims():
                    seen[claim.patient_control_number] = claim.category
    assert seen["SFTP-P-0002"] == "A7"
    assert {"SFTP-P-0001", "SFTP-I-0001"} <= set(seen)
    paid = {
        payment.patient_control_number
        for name, text in files_out.items()
        if name.startswith("835-")
        for remittance in read_835(text)
        for payment in remittance.claims
    }
    adjudicated = {p for p, s in statuses.items() if s in ("paid", "partially_paid", "denied")}
    assert paid == adjudicated and adjudicated
    # The same files are listed by the API, and nothing is left in inbound/.
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    outbound = {f["name"] for f in listing["items"] if f["direction"] == "outbound"}
    assert outbound == set(files_out)
    assert not list(folder(gateway, who, "inbound").iterdir())


async def test_the_same_file_twice_is_processed_once(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "twice-billing")
    upload = tmp_path / "same.x12"
    upload.write_text(x12_file("professional-office-visit.json", 21, "SFTP-T-0001"))
    for name in ("first.x12", "again.x12"):
        status, output = await sftp(gateway, who, f"put {upload} inbound/{name}\n")
        assert status == 0, output
        await settled(gateway)
    assert await count(gateway, claims) == 1
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    assert [f["kind"] for f in listing["items"] if f["direction"] == "inbound"] == ["837"]


async def test_a_file_sent_again_gets_its_answer_again(gateway: Any, tmp_path: Path) -> None:
    # A submitter whose 999 went missing (fetched and deleted, say) sends the file again.
    who = await login(gateway, tmp_path, "resend-billing")
    upload = tmp_path / "same.x12"
    upload.write_text(x12_file("professional-office-visit.json", 22, "SFTP-R-0001"))
    status, output = await sftp(gateway, who, f"put {upload} inbound/first.x12\n")
    assert status == 0, output
    await settled(gateway)
    await drive(gateway, _true)
    first = await download(gateway, who, tmp_path / "first")
    (ack_name,) = [n for n in first if n.startswith("999")]
    assert ack_name.endswith("-first.x12")  # named after the file it answers
    status, output = await sftp(gateway, who, f"rm outbound/{ack_name}\n")
    assert status == 0, output
    status, output = await sftp(gateway, who, f"put {upload} inbound/again.x12\n")
    assert status == 0, output
    await settled(gateway)
    await drive(gateway, _true)
    again = await download(gateway, who, tmp_path / "again")
    assert again[ack_name] == first[ack_name]
    assert await count(gateway, claims) == 1


async def test_a_submitter_name_with_spaces_logs_in_by_its_user_name(
    gateway: Any, tmp_path: Path
) -> None:
    # The README's own first submitter: it logs in as sunrise-billing and gets its 999 there.
    who = await login(gateway, tmp_path, "Sunrise Billing")
    assert who.user == "sunrise-billing"
    upload = tmp_path / "claims.x12"
    upload.write_text(x12_file("professional-office-visit.json", 71, "SFTP-S-0001"))
    status, output = await sftp(gateway, who, f"put {upload} inbound/claims.x12\n")
    assert status == 0, output
    await settled(gateway)
    assert await count(gateway, claims) == 1
    await drive(gateway, _true)
    got = await download(gateway, who, tmp_path / "got")
    assert any(name.startswith("999") for name in got), got
    # Only the user name as `clearway submitters list` shows it, not a look-alike.
    status, output = await sftp(gateway, who, "ls\n", user="Sunrise-Billing")
    assert status != 0 and "Permission denied" in output


async def test_unreadable_files_are_answered_and_kept(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "messy-billing")
    (tmp_path / "notes.txt").write_text("PATIENT NAME: NOT AN X12 FILE")
    good = x12_file("professional-office-visit.json", 31, "SFTP-U-0001")
    (tmp_path / "bad-gs.x12").write_text(good[:106] + "GS*HC*X~")
    (tmp_path / "empty.x12").write_text("")
    commands = f"put {tmp_path / 'notes.txt'} inbound/notes.txt\n"
    commands += f"put {tmp_path / 'bad-gs.x12'} inbound/bad-gs.x12\n"
    commands += f"put {tmp_path / 'empty.x12'} inbound/empty.x12\n"
    status, output = await sftp(gateway, who, commands)
    assert status == 0, output
    await settled(gateway)
    await drive(gateway, _true)
    files_out = await download(gateway, who, tmp_path / "outbound")
    note = next(t for n, t in files_out.items() if n == "notes.rejected.json")
    assert "ISA" in note and "notes.txt" in note
    assert "empty" in files_out["empty.rejected.json"]
    (ta1_text,) = [t for n, t in files_out.items() if n.startswith("TA1-")]
    (ta1,) = read_acknowledgments(ta1_text).interchange_acks
    assert (ta1.control_number, ta1.status, ta1.note_code) == (31, "R", "024")
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    inbound = [f for f in listing["items"] if f["direction"] == "inbound"]
    assert sorted(f["state"] for f in inbound) == ["rejected"] * 3
    assert await count(gateway, claims) == 0


async def _true() -> bool:
    return True


# Security ------------------------------------------------------------------------------------


async def test_wrong_key_and_unknown_user_are_refused(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "alpha-billing")
    stranger = await login(gateway, tmp_path, "beta-billing", register=False)
    status, output = await sftp(gateway, stranger, "ls\n")
    assert status != 0 and "Permission denied" in output
    # A registered key is only good for its own submitter's name.
    status, output = await sftp(gateway, who, "ls\n", user="beta-billing")
    assert status != 0 and "Permission denied" in output
    status, output = await sftp(gateway, who, "ls\n", user="nobody")
    assert status != 0


async def test_no_way_out_of_the_submitter_folder(gateway: Any, tmp_path: Path) -> None:
    alpha = await login(gateway, tmp_path, "alpha-billing")
    beta = await login(gateway, tmp_path, "beta-billing")
    secret = folder(gateway, beta, "outbound") / "999-000000001.x12"
    secret.write_text("ISA*beta's answer")
    (tmp_path / "x.x12").write_text("ISA")
    local = tmp_path / "got"
    local.mkdir()
    attempts = [
        "get ../beta-billing/outbound/999-000000001.x12",
        "get /../beta-billing/outbound/999-000000001.x12",
        "get ../../../../etc/passwd",
        "get /etc/passwd",
        "ls /etc",
        f"put {tmp_path / 'x.x12'} ../beta-billing/inbound/x.x12",
        f"put {tmp_path / 'x.x12'} outbound/x.x12",
        f"put {tmp_path / 'x.x12'} x.x12",
        "mkdir inbound/sub",
        "symlink /etc/passwd inbound/link",
        "symlink ../../beta-billing inbound/link",
        "ln inbound/.tmp inbound/hard",
        "chmod 777 inbound",
    ]
    for attempt in attempts:
        status, output = await sftp(gateway, alpha, f"lcd {local}\n{attempt}\n")
        assert status != 0, (attempt, output)
        # Refused by the policy, not by an accident on the server side.
        assert "Permission denied" in output or "not found" in output, (attempt, output)
    assert not list(local.iterdir())
    assert not list(folder(gateway, beta, "inbound").iterdir())
    assert not any(p.is_symlink() for p in folder(gateway, alpha, "").rglob("*"))
    # The root shows the two folders and nothing else; `..` stays at the root.
    status, output = await sftp(gateway, alpha, "cd ..\nls -1a\npwd\n")
    assert "inbound" in output and "outbound" in output and "beta" not in output
    assert "Remote working directory: /" in output


async def test_renames_stay_in_inbound(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "rename-billing")
    (tmp_path / "c.x12").write_text(x12_file("professional-office-visit.json", 41, "SFTP-R-01"))
    # Written under a dot-name (not processed), then renamed: processed once complete.
    status, output = await sftp(gateway, who, f"put {tmp_path / 'c.x12'} inbound/.c.part\n")
    assert status == 0, output
    await settled(gateway)
    assert await count(gateway, claims) == 0
    for attempt in ("rename inbound/.c.part outbound/c.x12", "rename inbound/.c.part ../c.x12"):
        status, output = await sftp(gateway, who, attempt + "\n")
        assert status != 0, (attempt, output)
    status, output = await sftp(gateway, who, "rename inbound/.c.part inbound/c.x12\n")
    assert status == 0, output
    await settled(gateway)
    assert await count(gateway, claims) == 1


async def test_a_file_over_the_limit_is_refused_and_not_kept(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "huge-billing")
    text = x12_file("professional-office-visit.json", 51, "SFTP-H-01")
    huge = tmp_path / "huge.x12"
    huge.write_text(text + " " * (LIMIT + 1))
    status, output = await sftp(gateway, who, f"put {huge} inbound/huge.x12\n")
    assert status != 0
    assert "limit" in output or "Failure" in output, output
    await settled(gateway)
    assert not list(folder(gateway, who, "inbound").iterdir())
    assert await count(gateway, claims) == 0
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    assert listing["items"] == []


async def test_no_shell_exec_or_forwarding(gateway: Any, tmp_path: Path) -> None:
    who = await login(gateway, tmp_path, "shell-billing")
    port = str(gateway.app[SFTP_DROP].settings.port)
    common = ["-i", str(who.key), "-p", port, "-o", "StrictHostKeyChecking=no"]
    common += ["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"]
    for extra in (["ls", "/"], ["-N", "-o", "ExitOnForwardFailure=yes", "-L", "0:127.0.0.1:22"]):
        process = await asyncio.create_subprocess_exec(
            "ssh",
            *common,
            f"{who.user}@127.0.0.1",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode != 0, (extra, output)
        assert b"bin" not in output


async def test_drop_folders_without_sftp(
    aiohttp_client: Any, sftp_settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "drop"
    settings = replace(
        sftp_settings,
        sftp=replace(sftp_settings.sftp, enabled=False),
        drop=DropSettings(root=str(root), poll_interval_seconds=3600),
    )
    client = await aiohttp_client(create_app(settings))
    client.app[DELIVERY].simulator_url = str(client.make_url("/simulator"))
    who = await login(client, tmp_path, "folder-billing", register=False)
    intake = client.app[DROP_INTAKE]
    folders = DropFolders(intake, LIMIT, 3600)
    await folders.poll_once()  # makes the folders
    inbound = root / who.user / "inbound"
    text = x12_file("institutional-outpatient.json", 61, "DROP-0001")
    (inbound / ".claims.x12").write_text(text)  # still being written: left alone
    assert await folders.poll_once() == 0
    (inbound / ".claims.x12").rename(inbound / "claims.x12")
    assert await folders.poll_once() == 1
    await asyncio.wait_for(intake.idle.wait(), 60)
    await drive(client, _true)
    # The 999 at once, and once the payer has answered, its 277CA and 835 (the claim is paid).
    names = sorted(p.name.split("-")[0] for p in (root / who.user / "outbound").iterdir())
    assert names == ["277CA", "835", "999"]
    assert not list(inbound.iterdir())
    assert await count(client, claims) == 1


async def test_files_as_other_systems_write_them_are_taken(gateway: Any, tmp_path: Path) -> None:
    """A BOM and indented segments, a last IEA without its terminator, an earlier guide's GS08:
    each file's claim is admitted and its 999 accepts it, as for the plain file."""
    from tests.unit.loose import loosened

    who = await login(gateway, tmp_path, "loose-billing")
    uploads = {
        "indented.x12": loosened(
            x12_file("professional-office-visit.json", 41, "LOOSE-0001"), ("\r\n    ",)
        ),
        "no-end.x12": loosened(
            x12_file("institutional-outpatient.json", 42, "LOOSE-0002"), ("\n",), last=False
        ),
        "x222.x12": x12_file("professional-office-visit.json", 43, "LOOSE-0003").replace(
            "005010X222A1", "005010X222"
        ),
    }
    commands = ""
    for name, text in uploads.items():
        (tmp_path / name).write_text(text, newline="")
        commands += f"put {tmp_path / name} inbound/{name}\n"
    status, output = await sftp(gateway, who, commands)
    assert status == 0, output
    await settled(gateway)
    statuses = await claim_statuses(gateway, who)
    assert sorted(statuses) == ["LOOSE-0001", "LOOSE-0002", "LOOSE-0003"]
    listing = await (await gateway.get("/v1/files", headers=auth(who.api_key))).json()
    inbound = {f["name"]: f for f in listing["items"] if f["direction"] == "inbound"}
    assert {n: f["state"] for n, f in inbound.items()} == dict.fromkeys(uploads, "processed")
    assert all(f["claims"]["accepted"] == 1 for f in inbound.values())
    await drive(gateway, _true)  # the answers' deliver_file jobs
    acks = [
        read_acknowledgments(text).implementation_acks[0]
        for name, text in (await download(gateway, who, tmp_path / "outbound")).items()
        if name.startswith("999-")
    ]
    assert sorted(a.group_control_number for a in acks) == [41, 42, 43]
    assert all(a.status == "A" for a in acks)


async def test_an_upload_cut_off_is_reported_incomplete_not_processed(
    gateway: Any, tmp_path: Path
) -> None:
    """The client dies part way through an upload (the connection drops): what came is not
    processed as if it were the whole file. It is removed from inbound/, kept as a refused
    submission, and the submitter finds NAME.incomplete.json in outbound/."""
    who = await login(gateway, tmp_path, "cut-off-billing")
    text = "".join(
        x12_file("professional-office-visit.json", 60 + n, f"CUT-{n:04d}") for n in range(60)
    )
    body = text.encode()[: LIMIT - 1000]
    upload = tmp_path / "day.x12"
    upload.write_bytes(body)
    port = gateway.app[SFTP_DROP].settings.port
    client = await asyncio.create_subprocess_exec(
        # One 4 KB request in flight at 200 kbit/s: the upload takes seconds.
        "sftp", "-b", "-", "-l", "200", "-R", "1", "-B", "4096",
        "-i", str(who.key), "-P", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        f"{who.user}@127.0.0.1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert client.stdin is not None
    client.stdin.write(f"put {upload} inbound/day.x12\n".encode())
    await client.stdin.drain()
    partial = folder(gateway, who, "inbound") / "day.x12"
    for _ in range(600):  # until some, not all, of it has arrived
        if partial.exists() and 0 < partial.stat().st_size < len(body) // 2:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the upload never started")
    client.kill()  # the connection drops mid-file
    await client.wait()
    for _ in range(500):
        if not partial.exists():
            break
        await asyncio.sleep(0.02)
    await settled(gateway)
    await drive(gateway, _true)  # the note's deliver_file job

    assert not partial.exists()
    assert await count(gateway, files) == 1  # the note only: no 837 was stored or read
    assert await count(gateway, claims) == 0
    async with gateway.app[ENGINE].connect() as conn:
        (kept,) = (
            await conn.execute(select(intake_rejections.c.reason, intake_rejections.c.body_size))
        ).all()
    assert kept.reason == "incomplete-upload" and 0 < kept.body_size < len(body)
    answers = await download(gateway, who, tmp_path / "answers")
    note = json.loads(answers["day.incomplete.json"])
    assert note["state"] == "incomplete" and note["received_bytes"] == kept.body_size
    assert "send the whole file again" in note["error"]
