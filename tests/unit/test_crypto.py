"""Sealing: round trip, binding to the row, key rotation, tampering and key parsing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gateway.crypto import (
    Sealer,
    SealError,
    hash_api_key,
    load_or_create_key_file,
    new_api_key,
    new_key_entry,
    parse_keys,
)


def keys(*entries: str) -> Sealer:
    return Sealer(parse_keys(",".join(entries)))


def test_seal_and_open_round_trip_without_plaintext() -> None:
    sealer = keys(new_key_entry())
    sealed = sealer.seal(b"JANE DOE 1980-01-01", b"claims.payload:1")
    assert b"JANE" not in sealed
    assert sealer.open(sealed, b"claims.payload:1") == b"JANE DOE 1980-01-01"


def test_sealed_value_is_bound_to_its_row() -> None:
    sealer = keys(new_key_entry())
    sealed = sealer.seal(b"secret", b"claims.payload:1")
    with pytest.raises(SealError):
        sealer.open(sealed, b"claims.payload:2")


def test_tampering_is_detected() -> None:
    sealer = keys(new_key_entry())
    sealed = bytearray(sealer.seal(b"secret", b"a"))
    sealed[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(sealed), b"a")


def test_rotation_old_keys_open_new_key_seals() -> None:
    old, new = new_key_entry(), new_key_entry()
    sealed_with_old = keys(old).seal(b"before rotation", b"a")
    rotated = keys(new, old)
    assert rotated.open(sealed_with_old, b"a") == b"before rotation"
    sealed_with_new = rotated.seal(b"after rotation", b"a")
    assert rotated.current_key_id == new.split(":")[0]
    with pytest.raises(SealError, match="not configured"):
        keys(old).open(sealed_with_new, b"a")


def test_lookup_hash_is_stable_across_rotation() -> None:
    old, new = new_key_entry(), new_key_entry()
    assert keys(old).lookup_hash("x") == keys(new, old).lookup_hash("x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nokeyid", "id:base64key"),
        ("k1:!!!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes"),
    ],
)
def test_bad_keys_are_explained(text: str, message: str) -> None:
    with pytest.raises(SealError, match=message):
        parse_keys(text)


def test_no_key_is_an_error() -> None:
    with pytest.raises(SealError):
        Sealer([])


def test_key_file_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data-keys"
    first, created = load_or_create_key_file(path)
    again, created_again = load_or_create_key_file(path)
    assert created and not created_again
    assert first == again
    assert path.stat().st_mode & 0o077 == 0


def test_api_keys_are_random_and_hashed() -> None:
    a, b = new_api_key(), new_api_key()
    assert a != b and a.startswith("cw_")
    assert hash_api_key(a) != a and len(hash_api_key(a)) == 64
