"""SFTP user names (also the outbox folder names) made from submitter names, and the outbox
writing into them: names with spaces get a folder, and a submitter without one is logged once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.crypto import Sealer, parse_keys
from gateway.pipeline.worker import Step
from gateway.settings import DropSettings, Settings
from gateway.storage import claims as store
from gateway.storage import files as fs
from gateway.storage import jobs
from gateway.storage.folders import deliver_handler, sftp_user_name, sftp_user_names
from tests.conftest import TEST_KEYS

SEALER = Sealer(parse_keys(TEST_KEYS))


@pytest.mark.parametrize(
    ("name", "user"),
    [
        ("sunrise-billing", "sunrise-billing"),  # usable already: kept, case and all
        ("Acme_Billing.2", "Acme_Billing.2"),
        ("Sunrise Billing", "sunrise-billing"),
        ("  Sunrise   Billing & Co. ", "sunrise-billing-co"),
        ("Crème Brûlée Billing", "creme-brulee-billing"),
        ("a..b", "a-b"),  # `..` never names a folder
        (".hidden", "hidden"),
        ("x" * 70 + " y", "x" * 64),
        ("!!!", None),
        ("診療所", None),
    ],
)
def test_sftp_user_name(name: str, user: str | None) -> None:
    assert sftp_user_name(name) == user


def test_a_shared_user_name_is_nobody_s_but_a_name_kept_as_it_is_wins() -> None:
    users = sftp_user_names(
        [
            ("1", "acme-billing"),
            ("2", "Acme Billing"),  # would be acme-billing: that is 1's
            ("3", "Sunrise Billing"),
            ("4", "sunrise  billing"),  # the same as 3's: neither gets it
            ("5", "!!!"),
        ]
    )
    assert users == {"1": "acme-billing"}


async def test_outbox_writes_to_the_user_name_folder_and_warns_once(
    engine: Any, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "drop"
    handler = deliver_handler(replace(settings, drop=DropSettings(root=str(root))))
    async with engine.begin() as conn:
        spaced, _ = await store.create_submitter(conn, "Sunrise Billing")
        nameless, _ = await store.create_submitter(conn, "!!!")
        for who, name in ((spaced, "999-1.x12"), (nameless, "999-2.x12"), (nameless, "999-3.x12")):
            await fs.add_file(
                conn,
                SEALER,
                submitter_id=who.id,
                direction=fs.OUTBOUND,
                channel="api",
                kind="999",
                name=name,
                body=b"ISA*answer~",
                state=fs.PROCESSED,
            )
    async with engine.begin() as conn:
        leased = await jobs.lease(conn, "w1", kinds=[fs.DELIVER_JOB])
    assert len(leased) == 3
    with capture_logs() as events:
        for job in leased:
            await handler(Step(job, engine, SEALER, "w1"))
    delivered = root / "sunrise-billing" / "outbound" / "999-1.x12"
    assert delivered.read_bytes() == b"ISA*answer~"
    skipped = [e for e in events if e["event"] == "outbox_skipped"]
    assert [e["submitter_id"] for e in skipped] == [nameless.id]
    async with engine.connect() as conn:
        assert await jobs.pending_count(conn) == 0  # skipped files are done with, not retried
