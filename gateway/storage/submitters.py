"""A submitter's keys: the API keys (told apart by their prefix) and the SFTP public keys (by
fingerprint) it can use, listed and revoked by operators; a revoked key stops working at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.claims import api_key_prefix, utcnow
from gateway.storage.tables import api_keys, sftp_keys

API, SFTP = "api", "sftp"


@dataclass(frozen=True)
class AccessKey:
    kind: str  # API or SFTP
    label: str  # the API key's first characters, or the SFTP key's SHA256 fingerprint
    created_at: datetime
    revoked_at: datetime | None


async def keys_of(conn: AsyncConnection, submitter_id: str) -> list[AccessKey]:
    api = await conn.execute(
        select(api_keys.c.prefix, api_keys.c.created_at, api_keys.c.revoked_at).where(
            api_keys.c.submitter_id == submitter_id
        )
    )
    sftp = await conn.execute(
        select(sftp_keys.c.fingerprint, sftp_keys.c.created_at, sftp_keys.c.revoked_at).where(
            sftp_keys.c.submitter_id == submitter_id
        )
    )
    found = [AccessKey(API, *row) for row in api] + [AccessKey(SFTP, *row) for row in sftp]
    return sorted(found, key=lambda k: (k.created_at, k.kind, k.label))


async def revoke(conn: AsyncConnection, submitter_id: str, label: str) -> list[AccessKey]:
    """Revoke the submitter's live key(s) shown as `label` (an API key's prefix as `keys_of`
    lists it, or the whole API key, or an SFTP fingerprint); returns what was revoked."""
    now = utcnow()
    revoked = []
    # An API key, pasted whole, is known by its prefix.
    for kind, table, column, value in (
        (API, api_keys, api_keys.c.prefix, api_key_prefix(label)),
        (SFTP, sftp_keys, sftp_keys.c.fingerprint, label),
    ):
        result = await conn.execute(
            update(table)
            .where(
                table.c.submitter_id == submitter_id,
                column == value,
                table.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .returning(column, table.c.created_at)
        )
        revoked += [AccessKey(kind, found, created, now) for found, created in result]
    return revoked


async def restore_sftp_key(conn: AsyncConnection, submitter_id: str, fingerprint: str) -> bool:
    """Registering a key this submitter had revoked makes it live again (the fingerprint is
    unique, so it cannot be added a second time); False if it is not such a key."""
    result = await conn.execute(
        update(sftp_keys)
        .where(
            sftp_keys.c.submitter_id == submitter_id,
            sftp_keys.c.fingerprint == fingerprint,
            sftp_keys.c.revoked_at.is_not(None),
        )
        .values(revoked_at=None)
    )
    return result.rowcount == 1
