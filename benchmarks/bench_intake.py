"""Intake cost: POST /v1/claims (or /v1/claims/batch) against `clearway serve` with no workers,
then the cost of reading the claims back (GET /v1/claims/{id}, as billers poll for status).

Run: python benchmarks/bench_intake.py [--claims N] [--in-flight K] [--batch 0,100] [--reads N]
[--postgres URL]. Prints requests and claims per second, latency, and the API process's CPU
time per claim and per read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_e2e import (
    NO_POSTGRES,
    Cluster,
    cpu_seconds,
    fresh_database,
    percentile,
    profiled,
    wait_ready,
)

from tests.e2e.support import varied_claims


@dataclass
class Result:
    backend: str
    batch: int  # claims per request; 0: one POST /v1/claims per claim
    claims: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    request_ms: list[float] = field(default_factory=list)
    accepted: int = 0
    errors: int = 0
    claim_ids: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    read_cpu_seconds: float = 0.0
    read_ms: list[float] = field(default_factory=list)
    read_errors: int = 0


async def submit(
    api: str, key: str, claims: list[dict[str, Any]], args: Any, result: Result
) -> None:
    """Send every claim with `in_flight` requests at once; one claim or one batch per request."""
    size = result.batch
    if size:
        requests = [
            ("/v1/claims/batch", {"claims": claims[i : i + size]})
            for i in range(0, len(claims), size)
        ]
    else:
        requests = [("/v1/claims", claim) for claim in claims]
    queue = list(reversed(requests))
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=args.in_flight + 4)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def loop() -> None:
            while queue:
                path, body = queue.pop()
                key = uuid.uuid4().hex
                begin = time.perf_counter()
                async with session.post(
                    api + path, json=body, headers={"Idempotency-Key": key}
                ) as response:
                    answer = await response.json()
                result.request_ms.append((time.perf_counter() - begin) * 1000)
                if response.status != 202:
                    result.errors += 1
                elif size:
                    result.accepted += answer["claims"]["accepted"]
                    result.claim_ids += [r["id"] for r in answer["claim_results"] if "id" in r]
                else:
                    result.accepted += 1
                    result.claim_ids.append(answer["id"])

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(args.in_flight)))
        result.seconds = time.perf_counter() - start


async def read_back(api: str, key: str, reads: int, args: Any, result: Result) -> None:
    """GET /v1/claims/{id} `reads` times over the stored claims, `in_flight` at once."""
    ids = result.claim_ids
    queue = [ids[i % len(ids)] for i in range(reads)] if ids else []
    connector = aiohttp.TCPConnector(limit=args.in_flight + 4)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def loop() -> None:
            while queue:
                claim_id = queue.pop()
                begin = time.perf_counter()
                async with session.get(f"{api}/v1/claims/{claim_id}") as response:
                    await response.read()
                result.read_ms.append((time.perf_counter() - begin) * 1000)
                result.read_errors += response.status != 200

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(args.in_flight)))
        result.read_seconds = time.perf_counter() - start


def run_case(args: argparse.Namespace, backend: str, url: str, batch: int) -> Result:
    result = Result(backend, batch, args.claims)
    with tempfile.TemporaryDirectory(prefix="clearway-bench-") as tmp:
        cluster = Cluster(Path(tmp), url, "none", {})
        try:
            cluster.run("migrate")
            key = cluster.run("submitters", "create", "Benchmark Billing").split("api key:")[1]
            key = key.split()[0]
            if args.profile:
                cluster.start("api", "serve", command=profiled(f"{args.profile}.{backend}.{batch}"))
            else:
                cluster.start("api", "serve")
            asyncio.run(wait_ready(f"{cluster.api}/readyz"))
            claims = varied_claims(args.claims, prefix=f"I{uuid.uuid4().hex[:4].upper()}")
            # A few requests first, so that start-up work is not counted.
            asyncio.run(submit(cluster.api, key, claims[:8], args, Result(backend, batch, 8)))
            pid = cluster.processes["api"].pid
            before = cpu_seconds(pid)
            asyncio.run(submit(cluster.api, key, claims, args, result))
            result.cpu_seconds = cpu_seconds(pid) - before
            if args.reads:
                before = cpu_seconds(pid)
                asyncio.run(read_back(cluster.api, key, args.reads, args, result))
                result.read_cpu_seconds = cpu_seconds(pid) - before
        finally:
            cluster.stop()
            for name, errors in cluster.tracebacks().items():
                print(f"  traceback in {name}: {errors}", file=sys.stderr)
    return result


def _latency(ms: list[float]) -> str:
    return "/".join(f"{percentile(ms, p):.0f}" for p in (50, 95, 99))


def report(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.claims} claims, {args.in_flight} requests in flight, API alone (no workers);"
        f" {os.cpu_count()} CPU(s) shared by every process"
    )
    print(
        "| database | claims/request | requests/s | claims/s | request p50/p95/p99 ms "
        "| API CPU ms/claim | accepted |"
    )
    print("|---" * 7 + "|")
    for r in results:
        latency = _latency(r.request_ms)
        requests = len(r.request_ms)
        print(
            f"| {r.backend} | {r.batch or 1} | {requests / r.seconds:.0f}"
            f" | {r.claims / r.seconds:.0f} | {latency}"
            f" | {r.cpu_seconds * 1000 / r.claims:.2f} | {r.accepted}/{r.claims} |"
        )
    reads = [r for r in results if r.read_ms]
    if reads:
        print()
        print(f"then GET /v1/claims/{{id}} {args.reads} times, {args.in_flight} in flight")
        print(
            "| database | claims/request | reads/s | read p50/p95/p99 ms"
            " | API CPU ms/read | failed |"
        )
        print("|---" * 6 + "|")
    for r in reads:
        latency = _latency(r.read_ms)
        print(
            f"| {r.backend} | {r.batch or 1} | {len(r.read_ms) / r.read_seconds:.0f} | {latency}"
            f" | {r.read_cpu_seconds * 1000 / len(r.read_ms):.2f} | {r.read_errors} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=24, help="concurrent requests")
    parser.add_argument(
        "--batch", default="0", help="claims per request, comma-separated; 0 is single POSTs"
    )
    parser.add_argument(
        "--reads", type=int, default=2000, help="GET /v1/claims/{id} afterwards (0: none)"
    )
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the API (CPU time) into FILE.<case>"
    )
    args = parser.parse_args()

    results = []
    for backend in args.backends.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            if backend == "postgresql" and not args.postgres:
                print(NO_POSTGRES)
                continue
            with fresh_database(backend, args.postgres) as url:
                results.append(run_case(args, backend, url, batch))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
