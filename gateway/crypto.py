"""Sealing PHI at rest (AES-256-GCM with key rotation), API key hashing and keyed lookup hashes.

The only module that imports `cryptography`. A sealed value names the key that sealed it, so
old keys keep opening old rows while the first key in the list seals new ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = 1
_NONCE_BYTES = 12
API_KEY_PREFIX = "cw_"


class SealError(Exception):
    """The data-encryption keys are missing, malformed, or cannot open a sealed value."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes = field(repr=False)


class Sealer:
    """Seals and opens byte strings; `associated` binds a sealed value to its row and column."""

    def __init__(self, keys: list[DataKey]) -> None:
        if not keys:
            raise SealError("no data-encryption key configured")
        self._current = keys[0]
        self._by_id = {k.key_id: AESGCM(k.secret) for k in keys}
        # Lookup hashes must not change on rotation, so they use a key derived from the oldest.
        self._hash_key = hashlib.sha256(b"clearway-lookup-hash" + keys[-1].secret).digest()

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        kid = self._current.key_id.encode()
        nonce = os.urandom(_NONCE_BYTES)
        body = self._by_id[self._current.key_id].encrypt(nonce, plaintext, associated)
        return bytes([_FORMAT, len(kid)]) + kid + nonce + body

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        if len(sealed) < 2 or sealed[0] != _FORMAT:
            raise SealError("sealed value has an unknown format")
        kid_end = 2 + sealed[1]
        kid = sealed[2:kid_end].decode()
        aead = self._by_id.get(kid)
        if aead is None:
            raise SealError(f"sealed with key {kid!r}, which is not configured")
        nonce, body = sealed[kid_end : kid_end + _NONCE_BYTES], sealed[kid_end + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, associated)
        except InvalidTag:
            raise SealError(f"sealed value does not open with key {kid!r}") from None

    def lookup_hash(self, value: str) -> str:
        """A keyed hash for matching values (e.g. a patient) without storing them in clear."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def parse_keys(text: str) -> list[DataKey]:
    """Parse "id:base64key" entries separated by commas or newlines (32-byte keys)."""
    keys = []
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id or len(key_id) > 64:
            raise SealError("each key must be written as id:base64key")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SealError(f"key {key_id!r} is not valid base64") from None
        if len(secret) != 32:
            raise SealError(f"key {key_id!r} must be 32 bytes, not {len(secret)}")
        keys.append(DataKey(key_id, secret))
    return keys


def new_key_entry() -> str:
    key_id = "k" + secrets.token_hex(4)
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def load_or_create_key_file(path: Path) -> tuple[list[DataKey], bool]:
    """Keys from a key file, creating one with a fresh key when absent; True when created."""
    created = False
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# Development data-encryption key. Use CLEARWAY_CRYPTO_KEYS in production.\n")
            f.write(new_key_entry() + "\n")
        created = True
    return parse_keys(path.read_text()), created


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    # API keys carry 256 random bits, so a plain digest is enough; no slow KDF is needed.
    return hashlib.sha256(api_key.encode()).hexdigest()
