"""The credentials file: secrets for reaching payers, by credential id, kept out of profiles.

Payer profiles are committed data, so they only name a credential; this module reads the
file that settings point at and turns an entry into an Authorization header or a TLS context.
"""

from __future__ import annotations

import base64
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# Keys holding a path; relative paths are taken from the credentials file's folder, so the
# file and its keys can move together.
_PATH_KEYS = ("client_cert", "client_key", "ca_file", "private_key", "known_hosts")


class CredentialsError(ValueError):
    """A credentials file, or a payer's use of it, that cannot work; names the file and key."""


@dataclass(frozen=True)
class Credential:
    """One table of the credentials file. Secret values are left out of repr, so a credential
    that ends up in a log line or a traceback does not carry them."""

    id: str
    username: str | None = None  # HTTP basic, or the SFTP login
    password: str | None = field(default=None, repr=False)  # HTTP basic, or SFTP password auth
    token: str | None = field(default=None, repr=False)  # HTTP bearer token
    client_cert: Path | None = None  # PEM certificate for mutual TLS (may also hold the key)
    client_key: Path | None = None  # PEM private key of client_cert
    ca_file: Path | None = None  # PEM bundle of CAs to trust instead of the system ones
    private_key: Path | None = None  # SFTP: OpenSSH private key file
    known_hosts: Path | None = None  # SFTP: known_hosts file holding the payer's host key
    host_key: str | None = None  # SFTP: the host key ("ssh-ed25519 AAAA...") or "SHA256:..."


def load_credentials(path: str | Path | None) -> dict[str, Credential]:
    """Every credential of the file by id; an empty path means no credentials file."""
    if path is None or not str(path):
        return {}
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise CredentialsError(f"{file}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        # The decoder's message gives the line and column, never the value.
        raise CredentialsError(f"{file}: not valid TOML: {error}") from None
    return {key: _credential(file, key, table) for key, table in data.items()}


def _credential(file: Path, cred_id: str, table: Any) -> Credential:
    if not isinstance(table, dict):
        raise CredentialsError(f"{file}: {cred_id}: must be a table ([{cred_id}])")
    known = {f.name for f in fields(Credential)} - {"id"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{file}: {cred_id}.{key}"
        if key not in known:
            raise CredentialsError(f"{where}: unknown key")
        if not isinstance(value, str) or not value:
            raise CredentialsError(f"{where}: must be a non-empty string")
        if key in _PATH_KEYS:
            resolved = (file.parent / value).resolve()
            if not resolved.is_file():
                raise CredentialsError(f"{where}: no such file {value!r}")
            values[key] = resolved
        else:
            values[key] = value
    credential = Credential(id=cred_id, **values)
    problem = _conflict(credential)
    if problem:
        raise CredentialsError(f"{file}: {cred_id}: {problem}")
    return credential


def _conflict(c: Credential) -> str | None:
    if c.token and c.password:
        return "give either token (bearer) or password, not both"
    if c.password and not c.username:
        return "password needs a username"
    if c.client_key and not c.client_cert:
        return "client_key needs client_cert"
    if c.known_hosts and c.host_key:
        return "give either known_hosts or host_key, not both"
    return None


def require(
    credentials: Mapping[str, Credential], cred_id: str | None, *, payer_id: str
) -> Credential | None:
    """The credential a payer profile names, or None when it names none."""
    if cred_id is None:
        return None
    if cred_id not in credentials:
        raise CredentialsError(
            f"payer {payer_id}: delivery.credential {cred_id!r} is not in the credentials file "
            "(settings: credentials.file)"
        )
    return credentials[cred_id]


def authorization(credential: Credential | None) -> dict[str, str]:
    """The Authorization header for HTTP: bearer for a token, basic for username and password."""
    if credential is None:
        return {}
    if credential.token:
        return {"Authorization": f"Bearer {credential.token}"}
    if credential.username and credential.password:
        pair = f"{credential.username}:{credential.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


def tls_context(credential: Credential | None) -> ssl.SSLContext | None:
    """A client TLS context with the credential's certificate and CAs; None for the defaults.
    Certificate checking stays on: a private CA is trusted by naming it, never by turning
    verification off."""
    if credential is None or not (credential.client_cert or credential.ca_file):
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(credential.ca_file) if credential.ca_file else None
        )
        if credential.client_cert:
            context.load_cert_chain(
                str(credential.client_cert),
                str(credential.client_key) if credential.client_key else None,
            )
    except (ssl.SSLError, OSError) as error:
        raise CredentialsError(
            f"credential {credential.id}: client_cert, client_key or ca_file cannot be loaded "
            f"({type(error).__name__})"
        ) from None
    return context
