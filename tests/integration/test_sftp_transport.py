"""The SFTP transport against a real asyncssh server on 127.0.0.1 (tests/sftp_payer.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from gateway.delivery.connections import Delivery
from gateway.delivery.credentials import CredentialsError, load_credentials
from gateway.delivery.transports import RejectedByPayer, TransportError
from payers.profile import ProfileError, parse_profile
from tests.e2e.support import free_port
from tests.sftp_payer import PASSWORD, SftpPayer, sftp_payer

PROFILE = {
    "payer_id": "PAY01",
    "name": "TEST PAYER",
    "kind": "commercial",
    "usage": "test",
    "claim_types": ["professional"],
    "timely_filing_days": 90,
}


def profile(port: int, **delivery: Any) -> Any:
    table = {
        "transport": "sftp",
        "host": "127.0.0.1",
        "port": port,
        "credential": "pay01",
        "timeout_seconds": 5,
        **delivery,
    }
    return parse_profile({**PROFILE, "delivery": table}, source="PAY01.toml")


def delivery_for(folder: Path, credentials_toml: str) -> Delivery:
    path = folder / "credentials.toml"
    path.write_text(credentials_toml)
    return Delivery("", load_credentials(path))


@pytest.fixture
async def payer(tmp_path: Path) -> AsyncIterator[SftpPayer]:
    async with sftp_payer(tmp_path) as running:
        yield running


async def test_upload_list_read_remove_over_one_connection(
    payer: SftpPayer, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path, payer.credentials_toml())
    try:
        pay01 = profile(payer.port)
        delivery.check([pay01])
        transport = delivery.transport(pay01)
        assert await transport.send("837-000000001.x12", b"ISA*first") == []
        # A retry resends the same name: it replaces the earlier upload.
        assert await transport.send("837-000000001.x12", b"ISA*again") == []
        inbound = payer.root / "inbound"
        assert [p.name for p in inbound.iterdir()] == ["837-000000001.x12"]  # no .part left
        assert (inbound / "837-000000001.x12").read_bytes() == b"ISA*again"

        outbound = payer.root / "outbound"
        (outbound / "b.999").write_bytes(b"999 body")
        (outbound / "a.277").write_bytes(b"277 body")
        (outbound / ".c.835.part").write_bytes(b"still uploading")
        (outbound / "archive").mkdir()
        transport = delivery.transport(pay01)  # the pipeline asks again for each job
        assert await transport.list_files() == ["a.277", "b.999"]
        assert await transport.read("b.999") == b"999 body"
        await transport.remove("b.999")
        await transport.remove("b.999")  # already gone: not an error
        assert await transport.list_files() == ["a.277"]
        assert payer.connections == ["open"]
    finally:
        await delivery.close()
    assert delivery._sftp == {}


@pytest.mark.parametrize("pin", ["public_key", "fingerprint"])
async def test_pinned_host_key_and_password_login(
    payer: SftpPayer, tmp_path: Path, pin: str
) -> None:
    host_key = (
        payer.host_key.export_public_key().decode().strip()
        if pin == "public_key"
        else payer.host_key.get_fingerprint("sha256")
    )
    toml = payer.credentials_toml(
        known_hosts="", private_key="", host_key=host_key, password=PASSWORD
    )
    delivery = delivery_for(tmp_path, toml)
    try:
        delivery.check([profile(payer.port)])
        await delivery.transport(profile(payer.port)).send("x.x12", b"ISA")
        assert (payer.root / "inbound" / "x.x12").read_bytes() == b"ISA"
    finally:
        await delivery.close()


async def test_an_unknown_host_key_is_refused(payer: SftpPayer, tmp_path: Path) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    delivery = delivery_for(tmp_path, payer.credentials_toml(known_hosts="", host_key=impostor))
    try:
        with pytest.raises(RejectedByPayer, match="host key"):
            await delivery.transport(profile(payer.port)).send("x.x12", b"ISA")
        assert list((payer.root / "inbound").iterdir()) == []
    finally:
        await delivery.close()


async def test_a_wrong_key_or_password_is_refused_not_retried(
    payer: SftpPayer, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    toml = payer.credentials_toml(private_key=str(stranger), password="not-the-password")
    delivery = delivery_for(tmp_path, toml)
    try:
        with pytest.raises(RejectedByPayer, match="login") as caught:
            await delivery.transport(profile(payer.port)).list_files()
        assert "not-the-password" not in str(caught.value)
    finally:
        await delivery.close()


async def test_missing_folder_is_a_refusal_naming_the_keys(
    payer: SftpPayer, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path, payer.credentials_toml())
    try:
        transport = delivery.transport(profile(payer.port, inbound_dir="nowhere"))
        with pytest.raises(RejectedByPayer, match="inbound_dir"):
            await transport.send("x.x12", b"ISA")
    finally:
        await delivery.close()


async def test_no_server_is_a_transport_error(payer: SftpPayer, tmp_path: Path) -> None:
    delivery = delivery_for(tmp_path, payer.credentials_toml())
    try:
        with pytest.raises(TransportError):
            await delivery.transport(profile(free_port())).list_files()
    finally:
        await delivery.close()


async def test_a_silent_server_times_out_as_a_transport_error(
    payer: SftpPayer, tmp_path: Path
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    delivery = delivery_for(tmp_path, payer.credentials_toml())
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(TransportError, match="Timeout"):
            await delivery.transport(profile(port, timeout_seconds=1)).send("x.x12", b"ISA")
        assert loop.time() - started < 5
    finally:
        await delivery.close()
        server.close()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"known_hosts": ""}, "known_hosts or host_key is required"),
        ({"username": ""}, "username is required"),
        ({"private_key": ""}, "private_key or password is required"),
        ({"known_hosts": "", "host_key": "AAAA"}, "host_key must be"),
    ],
)
async def test_unusable_sftp_credentials_fail_at_start(
    payer: SftpPayer, tmp_path: Path, override: dict[str, str], message: str
) -> None:
    delivery = delivery_for(tmp_path, payer.credentials_toml(**override))
    with pytest.raises(CredentialsError, match=message):
        delivery.check([profile(payer.port)])


@pytest.mark.parametrize(
    ("delivery", "key"),
    [
        ({"transport": "sftp", "credential": "x"}, "delivery.host"),
        ({"transport": "sftp", "host": "h"}, "delivery.credential"),
        ({"transport": "sftp", "host": "h", "credential": "x", "port": 70000}, "delivery.port"),
        ({"transport": "http"}, "delivery.url"),
        ({"transport": "sftp", "passsword": "x"}, "delivery.passsword"),
    ],
)
def test_profile_delivery_keys_are_checked(delivery: dict[str, Any], key: str) -> None:
    with pytest.raises(ProfileError, match=key):
        parse_profile({**PROFILE, "delivery": delivery}, source="PAY01.toml")
