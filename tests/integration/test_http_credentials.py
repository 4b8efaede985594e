"""The HTTP mailbox authenticates: basic, bearer and a client certificate over HTTPS.

Real aiohttp servers on 127.0.0.1 play the payer; the HTTPS one uses a CA and certificates
made in the test, and requires the client's certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.delivery.connections import Delivery
from gateway.delivery.credentials import CredentialsError, load_credentials
from gateway.delivery.transports import RejectedByPayer, TransportError
from payers.profile import parse_profile
from tests.e2e.support import free_port

PROFILE = {
    "payer_id": "PAY01",
    "name": "TEST PAYER",
    "kind": "commercial",
    "usage": "test",
    "claim_types": ["professional"],
    "timely_filing_days": 90,
}


def profile(url: str, credential: str | None) -> Any:
    delivery: dict[str, Any] = {"transport": "http", "url": url}
    if credential:
        delivery["credential"] = credential
    return parse_profile({**PROFILE, "delivery": delivery}, source="PAY01.toml")


def mailbox_app(expected: str, seen: list[str]) -> web.Application:
    """The mailbox protocol, answering 401 unless Authorization is exactly `expected`."""

    async def guard(request: web.Request) -> None:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != expected:
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Basic"})

    async def inbound(request: web.Request) -> web.Response:
        await guard(request)
        await request.read()
        return web.Response(status=202)

    async def outbound(request: web.Request) -> web.Response:
        await guard(request)
        return web.json_response({"files": [{"name": "a.999", "size": 3}]})

    app = web.Application()
    app.router.add_post("/inbound", inbound)
    app.router.add_get("/outbound", outbound)
    return app


def write_credentials(folder: Path, text: str) -> dict[str, Any]:
    path = folder / "credentials.toml"
    path.write_text(text)
    return load_credentials(path)


@pytest.mark.parametrize(
    ("table", "header"),
    [
        ('username = "clearway"\npassword = "s3cret"', "Basic Y2xlYXJ3YXk6czNjcmV0"),
        ('token = "tok-123"', "Bearer tok-123"),
    ],
)
async def test_http_mailbox_authenticates(
    aiohttp_server: Any, tmp_path: Path, table: str, header: str
) -> None:
    seen: list[str] = []
    server = await aiohttp_server(mailbox_app(header, seen))
    delivery = Delivery("", write_credentials(tmp_path, f"[pay01]\n{table}\n"))
    try:
        transport = delivery.transport(profile(str(server.make_url("")), "pay01"))
        assert await transport.send("f.x12", b"ISA") == []
        assert await transport.list_files() == ["a.999"]
        assert seen == [header, header]
        assert "s3cret" not in repr(transport) and "tok-123" not in repr(transport)
    finally:
        await delivery.close()


async def test_wrong_credentials_are_refused_once_not_retried(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    seen: list[str] = []
    server = await aiohttp_server(mailbox_app("Bearer right", seen))
    delivery = Delivery("", write_credentials(tmp_path, '[pay01]\ntoken = "wrong"\n'))
    try:
        transport = delivery.transport(profile(str(server.make_url("")), "pay01"))
        with pytest.raises(RejectedByPayer, match="credentials") as caught:
            await transport.send("f.x12", b"ISA")
        assert "wrong" not in str(caught.value)
        assert len(seen) == 1  # one request: a refusal is not a temporary failure
    finally:
        await delivery.close()


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    credentials = write_credentials(
        tmp_path, '[a]\nusername = "u"\npassword = "pw-secret"\n[b]\ntoken = "tk-secret"\n'
    )
    assert "secret" not in repr(credentials)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[a]\nusername = "u"\npasword = "x"\n', "a.pasword: unknown key"),
        ('[a]\ntoken = "t"\nusername = "u"\npassword = "p"\n', "either token"),
        ('[a]\nclient_cert = "missing.pem"\n', "a.client_cert: no such file"),
        ("[a]\nport = 22\n", "a.port: unknown key"),
        ("[a]\nusername = 5\n", "a.username: must be a non-empty string"),
        ("a = 1\n", "a: must be a table"),
        ("[a\n", "not valid TOML"),
    ],
)
def test_credentials_file_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=r"credentials\.toml") as caught:
        write_credentials(tmp_path, text)
    assert message in str(caught.value)


def test_a_profile_naming_an_unknown_credential_fails_at_start(tmp_path: Path) -> None:
    delivery = Delivery("", write_credentials(tmp_path, '[other]\ntoken = "t"\n'))
    with pytest.raises(CredentialsError, match=r"PAY01.*'pay01'.*credentials\.file"):
        delivery.check([profile("https://payer.example/", "pay01")])


# Mutual TLS --------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, name: str, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_payer(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[str]]]:
    """An HTTPS mailbox on 127.0.0.1 that requires a client certificate from the test CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Test Payer CA", ca_key, None, ca=True)
    ca_path, _ = _write(tmp_path, "ca", ca, ca_key)
    issuer = (ca.subject, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue("127.0.0.1", server_key, issuer, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue("clearway", client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    server_paths = _write(tmp_path, "server", server_cert, server_key)
    _write(tmp_path, "client", client_cert, client_key)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca_path))
    context.load_cert_chain(*map(str, server_paths))
    context.verify_mode = ssl.CERT_REQUIRED
    peers: list[str] = []

    async def inbound(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        peers.append(dict(x[0] for x in peer["subject"])["commonName"] if peer else "")
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/inbound", inbound)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield f"https://127.0.0.1:{port}", tmp_path, peers
    finally:
        await runner.cleanup()


async def test_client_certificate_over_https(tls_payer: tuple[str, Path, list[str]]) -> None:
    url, folder, peers = tls_payer
    credentials = write_credentials(
        folder,
        '[pay01]\nclient_cert = "client.crt"\nclient_key = "client.key"\nca_file = "ca.crt"\n',
    )
    delivery = Delivery("", credentials)
    try:
        delivery.check([profile(url, "pay01")])
        transport = delivery.transport(profile(url, "pay01"))
        assert await transport.send("f.x12", b"ISA") == []
        assert peers == ["clearway"]
    finally:
        await delivery.close()


async def test_https_without_the_private_ca_is_not_trusted(
    tls_payer: tuple[str, Path, list[str]],
) -> None:
    url, folder, peers = tls_payer
    credentials = write_credentials(
        folder, '[pay01]\nclient_cert = "client.crt"\nclient_key = "client.key"\n'
    )
    delivery = Delivery("", credentials)
    try:
        with pytest.raises(TransportError, match="Certificate"):
            await delivery.transport(profile(url, "pay01")).send("f.x12", b"ISA")
        assert peers == []
    finally:
        await delivery.close()


async def test_https_without_a_client_certificate_is_turned_away(
    tls_payer: tuple[str, Path, list[str]],
) -> None:
    url, folder, peers = tls_payer
    delivery = Delivery("", write_credentials(folder, '[pay01]\nca_file = "ca.crt"\n'))
    try:
        with pytest.raises(TransportError, match="talking to the payer"):
            await delivery.transport(profile(url, "pay01")).send("f.x12", b"ISA")
        assert peers == []
    finally:
        await delivery.close()
