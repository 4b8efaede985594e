"""The drop-folder transport: atomic writes out, answers in, folder faults as TransportError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.delivery.transports import DirectoryMailbox, TransportError


async def test_files_go_out_whole_and_answers_come_in_without_unfinished_uploads(
    tmp_path: Path,
) -> None:
    mailbox = DirectoryMailbox(tmp_path)
    assert await mailbox.list_files() == []  # no pick-up folder yet
    assert await mailbox.send("837-000000001.x12", b"ISA*00~") == []
    assert os.listdir(tmp_path / "to-payer") == ["837-000000001.x12"]
    incoming = tmp_path / "from-payer"
    incoming.mkdir()
    (incoming / "999-1.x12").write_bytes(b"999")
    (incoming / "277-2.x12").write_bytes(b"277")
    (incoming / ".835-3.x12.part").write_bytes(b"still uploading")
    assert await mailbox.list_files() == ["277-2.x12", "999-1.x12"]
    assert await mailbox.read("999-1.x12") == b"999"
    await mailbox.remove("999-1.x12")
    await mailbox.remove("999-1.x12")  # already gone: nothing to do
    assert await mailbox.list_files() == ["277-2.x12"]


async def test_a_file_that_cannot_be_read_is_a_transport_error_naming_it(tmp_path: Path) -> None:
    mailbox = DirectoryMailbox(tmp_path)
    (tmp_path / "from-payer").mkdir()
    with pytest.raises(TransportError, match=r"cannot read 835-9\.x12 from the pick-up folder"):
        await mailbox.read("835-9.x12")


async def test_a_pick_up_folder_that_is_a_file_is_a_transport_error(tmp_path: Path) -> None:
    (tmp_path / "from-payer").write_bytes(b"not a folder")
    (tmp_path / "to-payer").write_bytes(b"not a folder")
    mailbox = DirectoryMailbox(tmp_path)
    assert await mailbox.list_files() == []  # not a folder: nothing to collect
    with pytest.raises(TransportError, match="cannot write to the drop folder"):
        await mailbox.send("837-000000002.x12", b"ISA*00~")
