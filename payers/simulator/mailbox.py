"""The simulator's files on disk: each payer's outbound mailbox and its ledger of receipts.

A response file is written at once, with the time it may be collected in its name, so
scheduled answers survive a restart of the simulator and nothing is kept only in memory.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

_READY_AT = re.compile(r"^(\d{13})-(.+)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


class Mailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, name: str, body: bytes, *, ready_at: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{int(ready_at * 1000):013d}-{name}"
        temporary = self.folder / f".{final.name}.part"
        temporary.write_bytes(body)
        os.replace(temporary, final)

    def ready(self, now: float | None = None) -> list[str]:
        """Names of the files that may be collected now, in the order they became ready."""
        now = time.time() if now is None else now
        if not self.folder.is_dir():
            return []
        names = []
        for path in sorted(self.folder.iterdir()):
            match = _READY_AT.match(path.name)
            if match and int(match.group(1)) <= now * 1000:
                names.append(path.name)
        return names

    def path(self, name: str) -> Path | None:
        """The file, if `name` is one of this mailbox's files (never a path outside it)."""
        if not _SAFE_NAME.match(name) or not _READY_AT.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None


class Ledger:
    """What the simulator received, per sender and ISA13: claims counted, times received.

    Lets a test prove that a resent interchange was not adjudicated twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, int]] | None = None

    def entries(self) -> dict[str, dict[str, int]]:
        """{"sender:ISA13": {"received": times, "claims": claims adjudicated}}."""
        if self._entries is None:
            self._entries = {}
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    self._add(json.loads(line))
        return self._entries

    def _add(self, record: dict[str, int | str]) -> None:
        assert self._entries is not None
        entry = self._entries.setdefault(
            f"{record['sender']}:{record['control_number']}", {"received": 0, "claims": 0}
        )
        entry["received"] += 1
        entry["claims"] += int(record["claims"])

    def seen(self, sender: str, control_number: int) -> bool:
        return f"{sender}:{control_number}" in self.entries()

    def record(self, sender: str, control_number: int, claims: int) -> None:
        """Count a receipt: `claims` is how many were adjudicated (0 for a duplicate)."""
        self.entries()
        record = {"sender": sender, "control_number": control_number, "claims": claims}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        self._add(record)

    def next_control_number(self) -> int:
        """The simulator's own ISA13 sequence for the files it sends."""
        counter = self.path.with_name("control-number")
        counter.parent.mkdir(parents=True, exist_ok=True)
        value = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(value))
        return value


class Adjudicated:
    """The claims the simulated payer accepted, by the payer claim number it gave them, so a
    replacement (frequency 7) or void (8) naming that number in REF*F8 finds its original."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def find(self, payer_claim_number: str) -> dict[str, object] | None:
        """The original claim's JSON; None when this payer never accepted that number, or a
        replacement or void has taken its place already (a claim is corrected once)."""
        if not self.path.exists():
            return None
        found = None
        for line in self.path.read_text().splitlines():
            record = json.loads(line)
            if record["payer_claim_number"] == payer_claim_number:
                found = record.get("claim")  # None once corrected
        return found

    def add(self, records: list[tuple[str, dict[str, object] | None]]) -> None:
        """Accepted claims by their number; a number with None is one that was corrected."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            for number, claim in records:
                f.write(json.dumps({"payer_claim_number": number, "claim": claim}) + "\n")
