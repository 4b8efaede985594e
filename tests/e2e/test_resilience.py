"""Faults as they happen in production, with real processes: `clearway serve` (API only),
`clearway worker` processes and `clearway simulate-payer` with chaos on. A worker is killed
with SIGKILL mid-run and restarted. No claim may be lost or adjudicated twice, and every claim
must reach the status the simulator's rules predict. On PostgreSQL four workers share the queue.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.crypto import Sealer, parse_keys
from payers.profile import load_profiles
from tests.conftest import TEST_KEYS
from tests.e2e.support import FINAL, free_port, predicted, varied_claims, write_fast_profiles

CLEARWAY = str(Path(sys.executable).with_name("clearway"))
CLAIMS = 100
# What the gateway processes show the simulator, derived from the data keys they share.
SIMULATOR_TOKEN = Sealer(parse_keys(TEST_KEYS)).lookup_hash("clearway payer simulator token")


def http(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


class Cluster:
    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.api = f"http://127.0.0.1:{free_port()}"
        simulator_port = free_port()
        self.simulator = f"http://127.0.0.1:{simulator_port}/simulator"
        profiles = write_fast_profiles(folder / "profiles", timeout_seconds=2)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")},
            "CLEARWAY_DATABASE_URL": database_url,
            "CLEARWAY_CRYPTO_KEYS": TEST_KEYS,
            "CLEARWAY_SERVER_PORT": self.api.rsplit(":", 1)[1],
            "CLEARWAY_WORKER_IN_PROCESS": "false",
            "CLEARWAY_WORKER_LEASE_SECONDS": "6",
            "CLEARWAY_WORKER_MAX_ATTEMPTS": "60",
            "CLEARWAY_WORKER_BACKOFF_BASE_SECONDS": "0.2",
            "CLEARWAY_WORKER_BACKOFF_MAX_SECONDS": "1",
            "CLEARWAY_WORKER_POLL_INTERVAL_SECONDS": "0.1",
            "CLEARWAY_SIMULATOR_IN_PROCESS": "false",
            "CLEARWAY_SFTP_ENABLED": "false",  # claims come in over HTTP here
            "CLEARWAY_SIMULATOR_URL": self.simulator,
            "CLEARWAY_SIMULATOR_PORT": str(simulator_port),
            "CLEARWAY_SIMULATOR_DATA_DIR": str(folder / "simulator"),
            "CLEARWAY_SIMULATOR_CHAOS_PERCENT": "25",
            "CLEARWAY_SIMULATOR_STALL_SECONDS": "4",
            "CLEARWAY_PAYERS_PROFILES_DIR": str(profiles),
            "CLEARWAY_LOGGING_LEVEL": "warning",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = folder / "logs"
        self.logs.mkdir()

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [CLEARWAY, *args], cwd=self.folder, env=self.env, stdout=log, stderr=log
        )
        self.processes.append(process)
        return process

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [CLEARWAY, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def logged(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs.iterdir())


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, database_url)
    cluster.run("migrate")
    try:
        yield cluster
    finally:
        cluster.stop()


def key_from(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("api key"))


def test_chaos_and_a_killed_worker_lose_nothing(cluster: Cluster, database_url: str) -> None:
    workers = 4 if database_url.startswith("postgresql") else 1
    key = key_from(cluster.run("submitters", "create", "Resilient Billing"))
    operator = key_from(cluster.run("submitters", "create", "Operations", "--operator"))
    cluster.start("simulate-payer")
    cluster.start("serve")
    wait_until(lambda: http("GET", f"{cluster.api}/readyz")[0] == 200, 30, "the API")
    pool = [cluster.start("worker") for _ in range(workers)]

    claims = varied_claims(CLAIMS, prefix="CHAOS")
    ids = []
    for claim in claims:
        status, body = http("POST", f"{cluster.api}/v1/claims", claim, key)
        assert status == 202, body
        ids.append(body["id"])

    def statuses() -> list[str]:
        return [http("GET", f"{cluster.api}/v1/claims/{i}", key=key)[1]["status"] for i in ids]

    # Kill a worker while claims are on their way to the payer, then start a new one.
    wait_until(
        lambda: sum(s not in ("received", "scrubbed") for s in statuses()) >= 10, 120, "progress"
    )
    pool[0].send_signal(signal.SIGKILL)
    pool[0].wait(timeout=10)
    cluster.start("worker")

    wait_until(
        lambda: all(s in FINAL for s in statuses()), 300, "every claim to reach a final status"
    )

    profiles = load_profiles(Path(cluster.env["CLEARWAY_PAYERS_PROFILES_DIR"]))
    final = statuses()
    expected = [predicted(claim, profiles) for claim in claims]
    assert final == expected, [
        (c["patient_control_number"], f, e)
        for c, f, e in zip(claims, final, expected, strict=True)
        if f != e
    ]

    # The simulator adjudicated each interchange's claims exactly once, however often it was sent.
    _, sent = http("GET", f"{cluster.api}/v1/interchanges?direction=outbound", key=operator)
    claims_per_control = {
        (i["payer_id"], i["control_number"]): i["claim_count"] for i in sent["items"]
    }
    assert sum(claims_per_control.values()) == CLAIMS
    resent = 0
    for payer_id in profiles:
        _, ledger = http("GET", f"{cluster.simulator}/{payer_id}/ledger", key=SIMULATOR_TOKEN)
        for entry_key, entry in ledger.items():
            control = int(entry_key.rsplit(":", 1)[1])
            assert entry["claims"] == claims_per_control[(payer_id, control)], (
                payer_id,
                control,
                entry,
            )
            resent += entry["received"] - 1
    # Resends were answered as duplicates (TA1 025) and recorded on the interchange.
    duplicates = [i for i in sent["items"] if i["detail"].get("ta1", {}).get("note_code") == "025"]
    assert len(duplicates) <= resent
    logged = cluster.logged()
    assert "Traceback" not in logged
    assert "unhandled_error" not in logged


class JobsTable:
    """Reads the jobs table from the test, on one connection kept open (polled quickly)."""

    def __init__(self, url: str) -> None:
        import asyncio

        from gateway.settings import DatabaseSettings
        from gateway.storage import db

        self.loop = asyncio.new_event_loop()
        self.engine = db.reader(db.create_engine(DatabaseSettings(url=url)))

    def leased(self, kind: str, pid: int | None = None) -> int:
        """Running jobs of `kind` (leased by the worker process `pid`, if given)."""
        from sqlalchemy import func, select

        from gateway.storage.tables import jobs

        query = select(func.count()).where(jobs.c.kind == kind, jobs.c.state == "running")
        if pid is not None:
            query = query.where(jobs.c.locked_by.like(f"%:{pid}:%"))

        async def count() -> int:
            async with self.engine.connect() as conn:
                return int((await conn.execute(query)).scalar_one())

        return self.loop.run_until_complete(count())

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()


def test_a_worker_killed_while_batching_is_taken_over_within_a_lease(
    cluster: Cluster, database_url: str
) -> None:
    """SIGKILL a worker while it holds the lease of a batch job: after a restart its claims
    reach their final status within a minute (leases are short and renewed while a job runs,
    not 5 minutes long)."""
    cluster.env.pop("CLEARWAY_WORKER_LEASE_SECONDS")  # the shipped default
    cluster.env["CLEARWAY_SIMULATOR_CHAOS_PERCENT"] = "0"
    profiles = Path(cluster.env["CLEARWAY_PAYERS_PROFILES_DIR"])
    for profile in profiles.glob("*.toml"):  # batches wait to fill: large ones, many chances
        text = profile.read_text()
        profile.write_text(text.replace("[delivery]\n", "[delivery]\nbatch_max_wait_seconds = 2\n"))
    key = key_from(cluster.run("submitters", "create", "Killed Billing"))
    cluster.start("simulate-payer")
    cluster.start("serve")
    wait_until(lambda: http("GET", f"{cluster.api}/readyz")[0] == 200, 30, "the API")

    claims = varied_claims(200, prefix="KILL")
    ids = []
    for start in (0, 100):
        status, body = http(
            "POST", f"{cluster.api}/v1/claims/batch", {"claims": claims[start : start + 100]}, key
        )
        assert status == 202 and body["claims"]["accepted"] == 100, body
        ids += [r["id"] for r in body["claim_results"]]

    def statuses() -> list[str]:
        return [http("GET", f"{cluster.api}/v1/claims/{i}", key=key)[1]["status"] for i in ids]

    table = JobsTable(database_url)
    try:
        worker = cluster.start("worker")
        # Catch the worker holding a batch job: frozen first, so the lease seen is still its
        # own when it dies; a batch finished meanwhile lets it go on to the next one.
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "no batch job was caught running"
            if table.leased("batch", worker.pid):
                worker.send_signal(signal.SIGSTOP)
                if table.leased("batch", worker.pid):
                    break
                worker.send_signal(signal.SIGCONT)
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert table.leased("batch") > 0  # left leased by the dead worker
    finally:
        table.close()
    assert "scrubbed" in statuses()

    cluster.start("worker")
    wait_until(
        lambda: all(s in FINAL for s in statuses()),
        60,
        "every claim to reach a final status within 60 s of the restart",
    )
    profiles_now = load_profiles(profiles)
    assert statuses() == [predicted(claim, profiles_now) for claim in claims]
