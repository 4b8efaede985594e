"""Revoked keys stop working at once: an API key at the next request, an SFTP key at the next
login with the real OpenSSH client; a revoked SFTP key registered again is live again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.context import ENGINE
from gateway.intake.sftp_server import parse_public_key
from gateway.storage import claims as store
from gateway.storage import submitters as access_keys
from tests.conftest import auth
from tests.e2e.test_sftp import gateway, login, sftp, sftp_settings

__all__ = ["gateway", "sftp_settings"]  # fixtures used here, defined with the SFTP tests


async def test_a_revoked_api_key_is_refused_and_the_new_one_works(gateway: Any) -> None:
    async with gateway.app[ENGINE].begin() as conn:
        submitter, old = await store.create_submitter(conn, "rotating-billing")
        new = await store.add_api_key(conn, submitter.id)
    assert (await gateway.get("/v1/claims", headers=auth(old))).status == 200
    async with gateway.app[ENGINE].begin() as conn:
        listed = await access_keys.keys_of(conn, submitter.id)
        assert [k.label for k in listed if k.kind == "api"] == [old[:10], new[:10]]
        revoked = await access_keys.revoke(conn, submitter.id, old[:10])
    assert [(k.kind, k.label) for k in revoked] == [("api", old[:10])]
    refused = await gateway.get("/v1/claims", headers=auth(old))
    assert refused.status == 401
    assert (await gateway.get("/v1/claims", headers=auth(new))).status == 200
    async with gateway.app[ENGINE].begin() as conn:
        assert await access_keys.revoke(conn, submitter.id, old) == []  # already revoked


async def test_a_revoked_sftp_key_cannot_log_in_until_registered_again(
    gateway: Any, tmp_path: Path
) -> None:
    who = await login(gateway, tmp_path, "alpha-billing")
    _, fingerprint = parse_public_key(who.key.with_suffix(".pub").read_text())
    status, output = await sftp(gateway, who, "ls\n")
    assert status == 0, output
    other = await login(gateway, tmp_path, "beta-billing")
    async with gateway.app[ENGINE].begin() as conn:
        # Another submitter cannot revoke alpha's key by naming its fingerprint.
        assert await access_keys.revoke(conn, other.submitter_id, fingerprint) == []
        revoked = await access_keys.revoke(conn, who.submitter_id, fingerprint)
    assert [(k.kind, k.label) for k in revoked] == [("sftp", fingerprint)]
    status, output = await sftp(gateway, who, "ls\n")
    assert status != 0 and "Permission denied" in output
    async with gateway.app[ENGINE].begin() as conn:
        assert await access_keys.restore_sftp_key(conn, who.submitter_id, fingerprint)
    status, output = await sftp(gateway, who, "ls\n")
    assert status == 0, output
