"""Large 837 files through the real intake: from upload to the 999 recorded for the outbox.

Run: python benchmarks/bench_x12_upload.py [--claims 1000,10000,30000] [--paths drop,api]
Each run starts a fresh `clearway serve` (SQLite, pyx12 on, workers off so only the intake
runs), warms it with a small file, then drops the big 837P into a drop folder or POSTs it to
/v1/x12, and waits until the file is processed (its 999 and state are one commit). Prints one
table: seconds, claims/s and the server's resident memory (VmHWM) before and after the file.
Synthetic claims only; docs/benchmarks-x12-upload.md records one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_837 import PARAMS, many_claims  # noqa: E402
from benchmarks.bench_e2e import BENCH_KEYS, CLEARWAY, peak_rss_kib, wait_ready  # noqa: E402
from edi.write_837 import build_837  # noqa: E402
from tests.e2e.support import free_port  # noqa: E402

SUBMITTER = "benchbilling"


@dataclass
class Run:
    path: str
    claims: int
    size: int
    seconds: float = 0.0
    state: str = ""
    accepted: int = 0
    progress_seen: int = 0  # distinct claims_read values seen while polling
    slowest_get_ms: float = 0.0  # the API's answer to GET /v1/files while the file is processed
    rss_before_kib: int = 0
    peak_before_kib: int = 0
    peak_after_kib: int = 0


def vm_rss_kib(pid: int) -> int:
    """The resident set now (VmRSS), Linux only."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def the_file(claims: int, control: int) -> bytes:
    params = replace(
        PARAMS, interchange_control_number=control, group_control_number=control, receiver_id="CW"
    )
    return build_837(many_claims(claims), params).encode()


class Server:
    """One `clearway serve` on 127.0.0.1 in its own folder, stopped by its process id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.drop = folder / "drop"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")},
            "CLEARWAY_DATABASE_URL": f"sqlite:///{folder / 'clearway.db'}",
            "CLEARWAY_CRYPTO_KEYS": BENCH_KEYS,
            "CLEARWAY_SERVER_HOST": "127.0.0.1",
            "CLEARWAY_SERVER_PORT": str(port),
            "CLEARWAY_WORKER_IN_PROCESS": "false",
            "CLEARWAY_SIMULATOR_IN_PROCESS": "false",
            "CLEARWAY_SFTP_ENABLED": "false",
            "CLEARWAY_DROP_ROOT": str(self.drop),
            "CLEARWAY_DROP_POLL_INTERVAL_SECONDS": "0.2",
            "CLEARWAY_X12_UPLOAD_DIR": str(folder / "uploads"),
            "CLEARWAY_LOGGING_LEVEL": "warning",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def clearway(self, *args: str) -> str:
        result = subprocess.run(
            [CLEARWAY, *args], cwd=self.folder, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"clearway {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def start(self) -> str:
        self.clearway("migrate")
        key = self.clearway("submitters", "create", SUBMITTER).split("api key:")[1].split()[0]
        (self.drop / SUBMITTER / "inbound").mkdir(parents=True)
        log = (self.folder / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [CLEARWAY, "serve"], cwd=self.folder, env=self.env, stdout=log, stderr=log
        )
        return key

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def push(
    server: Server, session: aiohttp.ClientSession, how: str, name: str, body: bytes, run: Run
) -> None:
    """Send the file and wait until it is processed; notes the progress counts seen on the way."""
    start = time.perf_counter()
    if how == "drop":
        inbound = server.drop / SUBMITTER / "inbound"
        (inbound / f".{name}").write_bytes(body)
        os.rename(inbound / f".{name}", inbound / name)
    else:
        async with session.post(
            f"{server.url}/v1/x12?name={name}",
            data=body,
            headers={"Content-Type": "application/edi-x12"},
        ) as response:
            if response.status not in (200, 202):
                raise RuntimeError(f"POST /v1/x12 answered {response.status}")
    seen: set[int] = set()
    while True:
        asked = time.perf_counter()
        async with session.get(f"{server.url}/v1/files?direction=inbound") as response:
            items = (await response.json())["items"]
        run.slowest_get_ms = max(run.slowest_get_ms, (time.perf_counter() - asked) * 1000)
        mine = [f for f in items if f["name"] == name]
        if mine:
            seen.add(mine[0]["claims"]["read"])
            if mine[0]["state"] != "processing":
                break
        await asyncio.sleep(0.1)
    run.seconds = time.perf_counter() - start
    run.state = mine[0]["state"]
    run.accepted = mine[0]["claims"]["accepted"]
    run.progress_seen = len(seen - {0, run.accepted})


async def one_run(how: str, claims: int, body: bytes, warm: bytes) -> Run:
    run = Run(how, claims, len(body))
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            key = server.start()
            await wait_ready(f"{server.url}/readyz")
            headers = {"Authorization": f"Bearer {key}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                # Loads pyx12's maps and warms every code path before memory is noted.
                await push(server, session, how, "warm.x12", warm, Run(how, 0, 0))
                assert server.process is not None
                run.rss_before_kib = vm_rss_kib(server.process.pid)
                run.peak_before_kib = peak_rss_kib(server.process.pid)
                await push(server, session, how, f"big-{claims}.x12", body, run)
                run.peak_after_kib = peak_rss_kib(server.process.pid)
        finally:
            server.stop()
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", default="1000,10000,30000")
    parser.add_argument("--paths", default="drop,api")
    args = parser.parse_args()
    sizes = [int(n) for n in args.claims.split(",")]
    warm = the_file(20, 1)
    runs = []
    for claims in sizes:
        body = the_file(claims, 2)
        for how in args.paths.split(","):
            runs.append(asyncio.run(one_run(how, claims, body, warm)))
            print(f"  {how} {claims:,} claims: {runs[-1].seconds:.1f} s", file=sys.stderr)
    header = (
        "path",
        "claims",
        "file MB",
        "seconds",
        "claims/s",
        "progress seen",
        "slowest GET ms",
        "RSS before MB",
        "peak before MB",
        "peak after MB",
        "state",
    )
    rows = [
        (
            r.path,
            f"{r.claims:,}",
            f"{r.size / 1e6:.1f}",
            f"{r.seconds:.1f}",
            f"{r.claims / r.seconds:,.0f}",
            str(r.progress_seen),
            f"{r.slowest_get_ms:.0f}",
            f"{r.rss_before_kib / 1024:.0f}",
            f"{r.peak_before_kib / 1024:.0f}",
            f"{r.peak_after_kib / 1024:.0f}",
            f"{r.state} ({r.accepted:,} admitted)",
        )
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"\nPython {sys.version.split()[0]}; SQLite; pyx12 on; workers off (intake only). "
        "`clearway serve`, a fresh process per row: RSS before (VmRSS) and peak before (VmHWM) "
        "after a 20-claim warm-up file, peak after (VmHWM) once the big file is processed. "
        "api: POST /v1/x12 (202 above 1 MB, then polled)."
    )


if __name__ == "__main__":
    main()
