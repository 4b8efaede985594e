"""End-to-end throughput: claims from POST /v1/claims to their final status, with real processes.

Run: python benchmarks/bench_e2e.py [--claims N] [--workers W] [--postgres URL]
[--validate all,none] [--batch N].
`clearway serve` (API only), W `clearway worker` processes and `clearway simulate-payer`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.e2e_checks import claim_checks, remitted_by_835s  # noqa: E402
from gateway.settings import DatabaseSettings  # noqa: E402
from gateway.storage import db  # noqa: E402
from gateway.storage.tables import claims as claims_table  # noqa: E402
from gateway.storage.tables import interchanges as interchanges_table  # noqa: E402
from gateway.storage.tables import jobs as jobs_table  # noqa: E402
from payers.profile import load_profiles  # noqa: E402
from tests.e2e.support import (  # noqa: E402
    FINAL,
    free_port,
    predicted,
    varied_claims,
    write_fast_profiles,
)

CLEARWAY = str(Path(sys.executable).with_name("clearway"))
STALL_SECONDS = 120.0  # no claim finished for this long: report where the rest wait
# A fixed key so every run seals alike; benchmarks hold synthetic claims only.
NO_POSTGRES = "postgresql skipped: give --postgres URL or set TEST_POSTGRES_URL"
BENCH_KEYS = "bench1:" + base64.b64encode(b"benchmark-only-key-32-bytes-long").decode()


@dataclass
class Result:
    backend: str
    validate: str
    workers: int
    claims: int
    batch: int = 0  # claims per POST /v1/claims/batch; 0: one POST /v1/claims per claim
    seconds: float = 0.0
    submit_seconds: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    unfinished: int = 0
    stuck: list[str] = field(default_factory=list)  # when claims are unfinished: where they are
    files: dict[str, int] = field(default_factory=dict)  # interchanges by direction
    errors: int = 0
    failed_statuses: Counter[int] = field(default_factory=Counter)  # POSTs not answered 202
    unacknowledged: int = 0  # claims stored whose POST the driver did not see answered 202
    retried: int = 0  # requests answered 503 (busy) and sent again
    rss_kib: dict[str, int] = field(default_factory=dict)
    history_gaps: dict[str, list[str]] = field(default_factory=dict)
    paid_by_claims: Decimal = Decimal(0)
    paid_by_835s: Decimal = Decimal(0)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the timed window
    kernel: dict[str, float] = field(default_factory=dict)  # of which in the kernel (system)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of a live process, Linux only; zeros elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process, Linux only; 0 elsewhere."""
    return sum(cpu_times(pid))


def postgres_cpu_times() -> tuple[float, float]:
    """User and system CPU time of every PostgreSQL process on this machine (server and
    backends, live ones only), so a run can say what the database took of the shared cores."""
    user = system = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" (", 1)[1].startswith("postgres)"):
                u, s = cpu_times(int(stat.parent.name))
                user, system = user + u, system + s
        except (OSError, IndexError):
            continue
    return user, system


def postgres_cpu_seconds() -> float:
    return sum(postgres_cpu_times())


def peak_rss_kib(pid: int) -> int:
    """VmHWM (the resident set's high-water mark) of a live process, Linux only; 0 elsewhere."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def profiles_with(folder: Path, validate_outbound: str, poll_interval: int) -> Path:
    """The shipped profiles without response delays, with pyx12 on outbound 837s set and each
    payer's mailbox polled every `poll_interval` seconds."""
    write_fast_profiles(folder)
    for path in folder.glob("*.toml"):
        text = re.sub(r"(?m)^validate_outbound = .*\n", "", path.read_text())
        text = re.sub(
            r"(?m)^poll_interval_seconds = .*$", f"poll_interval_seconds = {poll_interval}", text
        )
        text = text.replace(
            "[delivery]\n", f'[delivery]\nvalidate_outbound = "{validate_outbound}"\n'
        )
        path.write_text(text)
    return folder


class Cluster:
    """API, workers and simulator as separate processes on 127.0.0.1, stopped by `stop`."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        validate: str,
        extra: dict[str, str],
        poll_interval: int = 1,
    ) -> None:
        self.folder = folder
        port = free_port()
        simulator_port = free_port()
        self.api = f"http://127.0.0.1:{port}"
        profiles = profiles_with(folder / "profiles", validate, poll_interval)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLEARWAY_")},
            "CLEARWAY_DATABASE_URL": database_url,
            "CLEARWAY_CRYPTO_KEYS": BENCH_KEYS,
            "CLEARWAY_SERVER_HOST": "127.0.0.1",
            "CLEARWAY_SERVER_PORT": str(port),
            "CLEARWAY_WORKER_IN_PROCESS": "false",
            "CLEARWAY_SIMULATOR_IN_PROCESS": "false",
            "CLEARWAY_SFTP_ENABLED": "false",  # claims come in over HTTP here
            "CLEARWAY_SIMULATOR_HOST": "127.0.0.1",
            "CLEARWAY_SIMULATOR_PORT": str(simulator_port),
            "CLEARWAY_SIMULATOR_URL": f"http://127.0.0.1:{simulator_port}/simulator",
            "CLEARWAY_SIMULATOR_DATA_DIR": str(folder / "simulator"),
            "CLEARWAY_SIMULATOR_VALIDATE": validate,
            "CLEARWAY_PAYERS_PROFILES_DIR": str(profiles),
            "CLEARWAY_LOGGING_LEVEL": "warning",
            **extra,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.profiled: set[str] = set()  # started under cpu_profile.py
        self.logs = folder / "logs"
        self.logs.mkdir()

    def start(self, name: str, *args: str, command: list[str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        if command is not None:
            self.profiled.add(name)
        self.processes[name] = subprocess.Popen(
            [*(command or [CLEARWAY]), *args], cwd=self.folder, env=self.env, stdout=log, stderr=log
        )

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [CLEARWAY, *args], cwd=self.folder, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"clearway {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def wait_settled(self, names: list[str], seconds: float = 120.0) -> None:
        """Wait until these processes have started up: their CPU time (from /proc) grows by
        less than a fifth of the time passing, as a worker's does once it only polls."""
        deadline = time.monotonic() + seconds
        before = {n: cpu_seconds(self.processes[n].pid) for n in names}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = {n: cpu_seconds(self.processes[n].pid) for n in names}
            if all(now[n] - before[n] < 0.1 for n in names):
                return
            before = now
        raise RuntimeError(f"{', '.join(names)} still busy after {seconds:.0f}s")

    def restart_profiles(self) -> None:
        """Start the profiled processes' profiles afresh, leaving start-up out of them."""
        for name in self.profiled:
            self.processes[name].send_signal(signal.SIGUSR1)

    def cpu(self) -> dict[str, tuple[float, float]]:
        """User and system CPU seconds so far of each process, of PostgreSQL and of this
        driver."""
        out = {name: cpu_times(p.pid) for name, p in self.processes.items()}
        out["postgresql"] = postgres_cpu_times()
        out["driver"] = cpu_times(os.getpid())
        return out

    def peak_rss(self) -> dict[str, int]:
        return {name: peak_rss_kib(p.pid) for name, p in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def tracebacks(self) -> dict[str, list[str]]:
        """Per log with a traceback, the distinct exception lines (types and messages only)."""
        found: dict[str, list[str]] = {}
        for path in sorted(self.logs.iterdir()):
            text = path.read_text(errors="replace")
            if "Traceback" in text:
                errors = re.findall(
                    r"(?m)^(?:\w+\.)*\w+(?:Error|Exception|Lost)\b[^\n]{0,160}", text
                )
                found[path.name] = sorted(set(errors))[:5]
        return found


async def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready after {seconds:.0f}s")
            await asyncio.sleep(0.2)


async def drive(
    cluster: Cluster,
    key: str,
    claims: list[dict[str, Any]],
    in_flight: int,
    get_rate: float,
    result: Result,
) -> list[str]:
    """Submit every claim with `in_flight` requests at once while GETs sample claim reads;
    returns the claim ids once every claim is final (or none has become final for
    STALL_SECONDS)."""
    headers = {"Authorization": f"Bearer {key}"}
    engine = db.create_engine(DatabaseSettings(url=cluster.env["CLEARWAY_DATABASE_URL"]))
    connector = aiohttp.TCPConnector(limit=in_flight + 8)
    ids: list[str] = []
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            size = result.batch
            queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
            for i in range(0, len(claims), size or 1):
                queue.put_nowait(claims[i : i + (size or 1)])

            async def post_loop() -> None:
                while not queue.empty():
                    group = queue.get_nowait()
                    # A retried request would be answered from the first time, not doubled.
                    key = group[0]["patient_control_number"] + (f"+{len(group)}" if size else "")
                    if size:
                        path, body = "/v1/claims/batch", {"claims": group}
                    else:
                        path, body = "/v1/claims", group[0]
                    for attempt in range(4):
                        begin = time.perf_counter()
                        async with session.post(
                            cluster.api + path, json=body, headers={"Idempotency-Key": key}
                        ) as response:
                            answer = await response.json()
                        result.post_ms.append((time.perf_counter() - begin) * 1000)
                        if response.status != 503 or attempt == 3:
                            break
                        # As a billing system would: wait as told, then resend (same key).
                        result.retried += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    if response.status != 202:
                        result.errors += len(group)
                        result.failed_statuses[response.status] += 1
                    elif size:
                        results = answer["claim_results"]
                        ids.extend(r["id"] for r in results if r["status"] == "received")
                        result.errors += sum(r["status"] != "received" for r in results)
                    else:
                        ids.append(answer["id"])

            async def get_loop(n: int) -> None:
                # Reads a biller would make while the pipeline works, paced so that reading
                # does not take the CPU the pipeline is being measured on.
                i = n
                pause = 4 / get_rate
                while not done.is_set():
                    await asyncio.sleep(pause)
                    if not ids:
                        await asyncio.sleep(0.01)
                        continue
                    claim_id = ids[i % len(ids)]
                    i += 7
                    begin = time.perf_counter()
                    async with session.get(f"{cluster.api}/v1/claims/{claim_id}") as response:
                        await response.read()
                    result.get_ms.append((time.perf_counter() - begin) * 1000)
                    if response.status != 200:
                        result.errors += 1

            cluster.restart_profiles()
            cpu_before = cluster.cpu()
            start = time.perf_counter()
            readers = [asyncio.create_task(get_loop(n)) for n in range(4)]
            await asyncio.gather(*(post_loop() for _ in range(in_flight)))
            result.submit_seconds = time.perf_counter() - start
            count = select(func.count()).where(claims_table.c.status.in_(sorted(FINAL)))
            # Wait for every stored claim, also one whose POST failed after it was stored.
            async with engine.connect() as conn:
                stored = int((await conn.execute(select(func.count(claims_table.c.pk)))).scalar())
            result.unacknowledged = stored - len(ids)
            # Give up when no claim has reached its final status for STALL_SECONDS (more than
            # any simulated payer's delays): the table then says where the rest wait.
            finished, last_progress = -1, time.monotonic()
            while time.monotonic() - last_progress < STALL_SECONDS:
                async with engine.connect() as conn:
                    now_finished = int((await conn.execute(count)).scalar_one())
                if now_finished > finished:
                    finished, last_progress = now_finished, time.monotonic()
                if finished >= stored:
                    break
                await asyncio.sleep(0.1)
            result.seconds = time.perf_counter() - start
            cpu_after = cluster.cpu()
            for name, (user, system) in cpu_after.items():
                user_before, system_before = cpu_before.get(name, (0.0, 0.0))
                result.cpu[name] = user - user_before + system - system_before
                result.kernel[name] = system - system_before
            result.unfinished = stored - finished
            if result.unfinished:
                result.stuck = await where_claims_wait(engine)
            async with engine.connect() as conn:
                by_direction = await conn.execute(
                    select(interchanges_table.c.direction, func.count()).group_by(
                        interchanges_table.c.direction
                    )
                )
                result.files = {direction: n for direction, n in by_direction}
            done.set()
            await asyncio.gather(*readers)
    finally:
        await engine.dispose()
    return ids


async def where_claims_wait(engine: Any) -> list[str]:
    """Claims by status and jobs by kind and state, for a run whose claims did not finish."""
    async with engine.connect() as conn:
        statuses = await conn.execute(
            select(claims_table.c.status, func.count()).group_by(claims_table.c.status)
        )
        jobs = await conn.execute(
            select(
                jobs_table.c.kind,
                jobs_table.c.state,
                func.count(),
                func.max(jobs_table.c.attempts),
                func.min(jobs_table.c.run_after),
                func.max(jobs_table.c.last_error),
            ).group_by(jobs_table.c.kind, jobs_table.c.state)
        )
        return [f"claims {status}: {n}" for status, n in statuses] + [
            f"jobs {kind} {state}: {n}, attempts up to {attempts}, first due {due},"
            f" an error: {error}"
            for kind, state, n, attempts, due, error in jobs
        ]


async def final_statuses(cluster: Cluster, key: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(headers=headers) as session:
        slots = asyncio.Semaphore(8)

        async def one(claim_id: str) -> None:
            async with slots, session.get(f"{cluster.api}/v1/claims/{claim_id}") as response:
                out[claim_id] = await response.json()

        await asyncio.gather(*(one(i) for i in ids))
    return out


def profiled(out: str) -> list[str]:
    """The command that runs clearway under cProfile on the CPU clock, writing `out`."""
    return [sys.executable, str(ROOT / "benchmarks" / "cpu_profile.py"), str(Path(out).resolve())]


def run_case(args: argparse.Namespace, backend: str, url: str, validate: str) -> Result:
    result = Result(backend, validate, args.workers, args.claims, args.batch)
    extra = dict(item.split("=", 1) for item in args.set)
    with tempfile.TemporaryDirectory(prefix="clearway-bench-") as tmp:
        cluster = Cluster(Path(tmp), url, validate, extra, args.poll_interval)
        try:
            cluster.run("migrate")
            key = cluster.run("submitters", "create", "Benchmark Billing").split("api key:")[1]
            key = key.split()[0]
            cluster.start("simulator", "simulate-payer")
            if args.profile_api:
                cluster.start("api", "serve", command=profiled(args.profile_api))
            else:
                cluster.start("api", "serve")
            asyncio.run(wait_ready(f"{cluster.api}/readyz"))
            for n in range(args.workers):
                if args.profile_worker and n == 0:
                    cluster.start(f"worker{n}", "worker", command=profiled(args.profile_worker))
                else:
                    cluster.start(f"worker{n}", "worker")
            # The clock measures a running gateway, not start-up (a worker loads ICD-10-CM).
            cluster.wait_settled([n for n in cluster.processes if n.startswith("worker")])
            claims = varied_claims(args.claims, prefix=f"B{uuid.uuid4().hex[:4].upper()}")
            ids = asyncio.run(drive(cluster, key, claims, args.in_flight, args.get_rate, result))
            result.rss_kib = cluster.peak_rss()
            statuses = asyncio.run(final_statuses(cluster, key, ids))
            profiles = load_profiles(Path(cluster.env["CLEARWAY_PAYERS_PROFILES_DIR"]))
            by_pcn = {c["patient_control_number"]: c for c in claims}
            for body in statuses.values():
                claim = by_pcn[body["patient_control_number"]]
                expected = predicted(claim, profiles)
                if body["status"] != expected:
                    result.mismatches.append(
                        (body["patient_control_number"], body["status"], expected)
                    )
            result.history_gaps, result.paid_by_claims = asyncio.run(
                claim_checks(cluster.api, key, {i: b["status"] for i, b in statuses.items()})
            )
            result.paid_by_835s = asyncio.run(remitted_by_835s(url, BENCH_KEYS))
        finally:
            cluster.stop()
            for name, errors in cluster.tracebacks().items():
                print(f"  traceback in {name}: {errors}", file=sys.stderr)
            if args.keep_logs:
                target = Path(args.keep_logs) / f"{backend}-{validate}"
                shutil.copytree(cluster.logs, target, dirs_exist_ok=True)
    return result


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(plain, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(backend: str, postgres_url: str) -> Iterator[str]:
    """A new, empty database for one run: a SQLite file in a temporary folder, or a
    PostgreSQL database on the server at `postgres_url`, dropped afterwards."""
    if backend != "postgresql":
        with tempfile.TemporaryDirectory(prefix="clearway-bench-db-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"clearway_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.claims} claims, {args.workers} worker process(es), {args.in_flight} POSTs in"
        f" flight, about {args.get_rate:.0f} GET/s; {os.cpu_count()} CPU(s) shared by every"
        " process"
    )
    header = (
        "| database | pyx12 | claims/POST | claims/s | submit s | total s | POST p50/p95/p99 ms "
        "| GET p50/p95/p99 ms | as predicted | histories complete | paid = 835s "
        "| peak RSS MiB api/worker/sim |"
    )
    print(header)
    print("|---" * 12 + "|")
    for r in results:
        post = "/".join(f"{percentile(r.post_ms, p):.0f}" for p in (50, 95, 99))
        get = "/".join(f"{percentile(r.get_ms, p):.0f}" for p in (50, 95, 99))
        workers = [v for k, v in r.rss_kib.items() if k.startswith("worker")]
        rss = "/".join(
            f"{v / 1024:.0f}"
            for v in (r.rss_kib.get("api", 0), max(workers or [0]), r.rss_kib.get("simulator", 0))
        )
        ok = r.claims - len(r.mismatches) - r.unfinished - r.errors
        verdict = f"{ok}/{r.claims}"
        if r.unfinished:
            verdict += f" ({r.unfinished} unfinished)"
        print(
            f"| {r.backend} | {r.validate} | {r.batch or 1} | {r.claims / r.seconds:.0f}"
            f" | {r.submit_seconds:.1f} | {r.seconds:.1f} | {post} | {get} | {verdict}"
            f" | {r.claims - r.errors - len(r.history_gaps)}/{r.claims - r.errors}"
            f" | {r.paid_by_claims} {'=' if r.paid_by_claims == r.paid_by_835s else '!='}"
            f" {r.paid_by_835s} | {rss} |"
        )
    print("\nCPU per claim in the timed window, ms (2 cores give 4 ms a claim at 500 claims/s):")
    for r in results:
        parts = sorted(r.cpu.items(), key=lambda kv: -kv[1])
        total = sum(r.cpu.values())
        print(
            f"  {r.backend}/{r.validate}: total {1000 * total / r.claims:.2f} ("
            + ", ".join(f"{k} {1000 * v / r.claims:.2f}" for k, v in parts)
            + f"); cores busy {total / r.seconds:.2f}; interchanges {r.files}; in the kernel"
            f" {100 * sum(r.kernel.values()) / total if total else 0:.0f}% ("
            + ", ".join(f"{k} {100 * r.kernel[k] / v:.0f}%" for k, v in parts if v)
            + ")"
        )
    for r in results:
        if r.retried:
            print(f"\n{r.backend}/{r.validate}: {r.retried} requests answered 503, sent again")
        if r.failed_statuses or r.unacknowledged:
            print(
                f"\n{r.backend}/{r.validate}: POSTs answered other than 202, by status:"
                f" {dict(r.failed_statuses)}; claims stored without a 202: {r.unacknowledged}"
            )
        if r.mismatches or r.errors:
            print(
                f"\n{r.backend}/{r.validate}: {r.errors} HTTP errors, mismatches (pcn, got, want):"
            )
            for row in r.mismatches[:20]:
                print("  ", *row)
        for line in r.stuck:
            print(f"  {r.backend}/{r.validate} unfinished: {line}")
        for claim_id, gaps in list(r.history_gaps.items())[:20]:
            print(f"  {r.backend}/{r.validate}: claim {claim_id} history: {'; '.join(gaps)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="clearway worker processes")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=None,
        help="concurrent POSTs (default 24 with one claim each, 6 with --batch)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        metavar="N",
        help="send N claims per POST /v1/claims/batch (default 0: one POST /v1/claims each)",
    )
    parser.add_argument("--get-rate", type=float, default=40, help="claim reads per second")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--validate", default="all,none", help="pyx12 settings to run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CLEARWAY_X=V",
        help="extra setting for every process (repeatable), e.g. CLEARWAY_WORKER_CONCURRENCY=8",
    )
    parser.add_argument(
        "--poll-interval",
        type=int,
        default=1,
        help="seconds between polls of each payer's mailbox (shipped profiles: 5)",
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="copy every process's log here")
    parser.add_argument(
        "--profile-api", metavar="FILE", help="cProfile the API (CPU time) into FILE"
    )
    parser.add_argument(
        "--profile-worker", metavar="FILE", help="cProfile worker 0 (CPU time) into FILE"
    )
    args = parser.parse_args()
    if args.in_flight is None:
        # Many clients with a claim each, or a few billing systems with a batch each: 24
        # batches of 100 would hold 2,400 claims in the API at once, none stored for the
        # workers until its whole POST commits.
        args.in_flight = 6 if args.batch else 24

    results = []
    for backend in args.backends.split(","):
        for validate in args.validate.split(","):
            if backend == "postgresql" and not args.postgres:
                print(NO_POSTGRES)
                continue
            with fresh_database(backend, args.postgres) as url:
                results.append(run_case(args, backend, url, validate))
            r = results[-1]
            print(f"{backend}/{validate}: {r.claims / r.seconds:.0f} claims/s", file=sys.stderr)
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
