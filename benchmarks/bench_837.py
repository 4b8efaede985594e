"""837 throughput and memory: build_837, read_837, a str.split baseline, pyx12, validate().

Run as `python benchmarks/bench_837.py [--mb 10] [--big-mb 100]`; prints one table. Synthetic
claims only. Numbers depend on the machine; docs/benchmarks.md records one run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edi.claim import Claim, Diagnosis, Procedure, ServiceLine
from edi.envelope import EnvelopeParams
from edi.fastbuild import constructor
from edi.read_837 import read_837
from edi.validate import AckControl, validate
from edi.write_837 import build_837
from tests.unit.claims import PATIENT, SUBSCRIBER, professional

PARAMS = EnvelopeParams(
    sender_id="SUB0001",
    receiver_id="PAYER01",
    interchange_control_number=1,
    group_control_number=1,
    transaction_control_number=1,
    created=datetime(2026, 11, 3, 10, 0),
)
ACK = AckControl(1, 1, 1, datetime(2026, 11, 3, 11, 0))
BUILD_TARGET = 100_000  # claims per second on one core
READ_TARGET_MB_S = 40  # MB/s into the full claim model, on one core
MAKE_CLAIM = constructor(Claim)  # as read_837 makes them
MAKE_LINE = constructor(ServiceLine)
LINES_AT = [f.name for f in fields(Claim)].index("service_lines")


def many_claims(n: int) -> list[Claim]:
    """Claims of 1-3 lines; a new subscriber every 4 claims, a dependent every 3rd subscriber."""
    base = professional()
    out = []
    for i in range(n):
        sub = replace(SUBSCRIBER, member_id=f"M{i // 4:08d}", last_name=f"PERSON{i // 4}")
        lines = tuple(
            ServiceLine(
                charge=Decimal("75.00"),
                units=Decimal("1"),
                service_date=date(2026, 11, 2),
                procedure=Procedure("99213", modifiers=("25",) if k else ()),
                diagnosis_pointers=(1, 2),
                line_control_number=f"L{i}-{k}",
            )
            for k in range(1 + i % 3)
        )
        out.append(
            replace(
                base,
                subscriber=sub,
                patient=PATIENT if (i // 4) % 3 == 0 else None,
                patient_control_number=f"PCN{i:010d}",
                total_charge=Decimal("75.00") * len(lines),
                diagnoses=(Diagnosis("J20.9"), Diagnosis("I10")),
                service_lines=lines,
            )
        )
    return out


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def read_all(text: str) -> int:
    return sum(1 for _ in read_837(text))


def split_baseline(text: str) -> int:
    return sum(len(seg.split("*")) for seg in text.split("~"))


def pyx12_parse(text: str) -> int:
    import pyx12.x12file  # only to measure pyx12's own tokenizer beside ours

    return sum(1 for _ in pyx12.x12file.X12Reader(io.StringIO(text)))


def pyx12_write(text: str) -> str:
    """The same 837 written by pyx12's X12Writer, from a pyx12 Segment per segment text."""
    import pyx12.segment
    import pyx12.x12file

    out = io.StringIO()
    writer = pyx12.x12file.X12Writer(out, "~", "*", ":", "", "^")
    for seg in text.split("~"):
        if seg:
            writer.Write(pyx12.segment.Segment(seg, "~", "*", ":", "^"))
    writer.close()
    return out.getvalue()


def body_floor(claims: list[Claim]) -> str:
    """A floor for build_837: only the claim bodies (CLM HI LX SV1 DTP REF) of these claims,
    formatted from the model with f-strings; no checks, no loop headers, no envelope."""
    out: list[str] = []
    put = out.append
    for c in claims:
        put(f"CLM*{c.patient_control_number}*{c.total_charge}***{c.place_of_service}:B:"
            f"{c.frequency_code}*Y*A*Y*Y~")  # fmt: skip
        codes = [d.code.replace(".", "") for d in c.diagnoses]
        put("HI*ABK:" + "*ABF:".join(codes) + "~")
        for n, line in enumerate(c.service_lines, 1):
            p = line.procedure
            assert p is not None
            mods = "".join(":" + m for m in p.modifiers)
            pointers = ":".join(map(str, line.diagnosis_pointers))
            put(f"LX*{n}~SV1*HC:{p.code}{mods}*{line.charge}*{line.unit_type}*{line.units}***"
                f"{pointers}~DTP*472*D8*{line.service_date:%Y%m%d}~")  # fmt: skip
            if line.line_control_number:
                put(f"REF*6R*{line.line_control_number}~")
    return "".join(out)


def model_floor(
    text: str, field_values: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]
) -> int:
    """A floor for read_837: splitting the text into segments (not elements) and making each
    Claim and ServiceLine (read_837's own slot-setting constructors) from values already read.
    Any reader does at least this; read_837's other work has to fit in what the target leaves."""
    made = len(text.split("~"))
    for claim_values, line_values in field_values:
        lines = tuple([MAKE_LINE(*values) for values in line_values])
        MAKE_CLAIM(*claim_values[:LINES_AT], lines, *claim_values[LINES_AT + 1 :])
        made += 1
    return made


def field_values_of(claims: list[Claim]) -> list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    names = [f.name for f in fields(Claim)]
    line_names = [f.name for f in fields(ServiceLine)]
    return [
        (
            tuple(getattr(c, name) for name in names),
            [tuple(getattr(line, name) for name in line_names) for line in c.service_lines],
        )
        for c in claims
    ]


def slice_of(claims: list[Claim], target_bytes: int) -> str:
    per_claim = len(build_837(claims[:100], PARAMS)) / 100
    return build_837(claims[: max(1, int(target_bytes / per_claim))], PARAMS)


CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from edi.fastbuild import constructor
from edi.read_837 import read_837
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = sys.stdin.readline().strip()
start = time.perf_counter()
with open(path, "rb") as f:
    n = sum(1 for _ in read_837(f))
elapsed = time.perf_counter() - start
print(n, elapsed, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def start_reader() -> subprocess.Popen[str]:
    """Start the memory-test reader while this process is still small: Linux children start
    with their parent's ru_maxrss, so a late fork would report the parent's peak."""
    root = str(Path(__file__).resolve().parents[1])
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def big_file_rss(
    child: subprocess.Popen[str], text: str, mb: int
) -> tuple[int, float, float, float]:
    """Write `mb` MB of interchanges to a temp file; the waiting child reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.837")
        size = 0
        with open(path, "w") as f:
            while size < mb * 1_000_000:
                f.write(text)
                f.write("\n")
                size += len(text) + 1
        out, _ = child.communicate(path + "\n")
    _, elapsed, before, peak = out.split()
    return size, float(elapsed), int(peak) / 1024, int(before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10, help="size of the many-claim 837P")
    parser.add_argument(
        "--big-mb", type=int, default=100, help="size of the memory test file (0: skip)"
    )
    parser.add_argument("--pyx12-kb", type=int, default=200, help="slice given to pyx12")
    parser.add_argument(
        "--profile-claims",
        type=int,
        default=10_000,
        help="claims profiled for each missed target (0: no profile)",
    )
    args = parser.parse_args()
    child = start_reader()

    probe = many_claims(1000)
    per_claim = len(build_837(probe, PARAMS)) / len(probe)
    n = int(args.mb * 1_000_000 / per_claim)
    claims = many_claims(n)
    text = build_837(claims, PARAMS)
    mb = len(text) / 1_000_000
    rows: list[tuple[str, str, str]] = []

    missed: list[tuple[str, Callable[[], object]]] = []
    t = timed(lambda: build_837(claims, PARAMS))
    rows.append(
        (
            "build_837 (837P)",
            f"{n / t:,.0f} claims/s",
            f"{n:,} claims, {mb:.1f} MB, {mb / t:.1f} MB/s; "
            + verdict(n / t >= BUILD_TARGET, f"target {BUILD_TARGET:,} claims/s"),
        )
    )
    if n / t < BUILD_TARGET and args.profile_claims:
        some = claims[: args.profile_claims]
        missed.append(("build_837", lambda: build_837(some, PARAMS)))

    body = body_floor(claims)
    assert all(seg + "~" in text for seg in body[:20_000].split("~")[:-1]), (
        "floor differs from build"
    )
    t = timed(lambda: body_floor(claims))
    rows.append(
        (
            "f-string floor (claim bodies)",
            f"{n / t:,.0f} claims/s",
            f"{len(body) / 1e6 / t:.1f} MB/s; CLM HI LX SV1 DTP REF only, no checks, no headers",
        )
    )
    small = slice_of(claims, args.pyx12_kb * 1000)
    small_mb = len(small) / 1_000_000
    small_claims = small.count("~CLM*")
    assert pyx12_write(small) == small, "pyx12's X12Writer wrote another text"
    t = timed(lambda: pyx12_write(small), repeat=1)
    rows.append(
        (
            "pyx12 X12Writer",
            f"{small_claims / t:,.0f} claims/s",
            f"the same 837 from pyx12 Segments, {small_mb * 1000:.0f} kB slice; same text",
        )
    )

    t = timed(lambda: read_all(text))
    rows.append(
        (
            "read_837 -> Claim model",
            f"{mb / t:.1f} MB/s",
            f"{n / t:,.0f} claims/s, GC on; "
            + verdict(mb / t >= READ_TARGET_MB_S, f"target {READ_TARGET_MB_S} MB/s"),
        )
    )
    if mb / t < READ_TARGET_MB_S and args.profile_claims:
        part = build_837(claims[: args.profile_claims], PARAMS)
        missed.append(("read_837", lambda: read_all(part)))
    gc.disable()
    try:
        t = timed(lambda: read_all(text))
    finally:
        gc.enable()
    rows.append(("read_837, GC disabled", f"{mb / t:.1f} MB/s", "for comparison only"))

    t = timed(lambda: split_baseline(text))
    rows.append(("str.split baseline", f"{mb / t:.1f} MB/s", "split into segments and elements"))
    values = field_values_of(claims)
    t = timed(lambda: model_floor(text, values))
    rows.append(
        (
            "floor: segments + model objects",
            f"{mb / t:.1f} MB/s",
            f"split into segments, then every Claim and ServiceLine made from values already "
            f"read; leaves {max(0.0, 1 / READ_TARGET_MB_S - t / mb) * mb / n * 1e6:.1f} us "
            f"a claim for the rest at {READ_TARGET_MB_S} MB/s",
        )
    )

    t = timed(lambda: pyx12_parse(small), repeat=1)
    rows.append(
        (
            "pyx12 X12Reader (parse only)",
            f"{small_mb / t:.2f} MB/s",
            f"{small_mb * 1000:.0f} kB slice",
        )
    )
    validate(small, ACK)  # loads the map into the cache
    t = timed(lambda: validate(small, ACK), repeat=1)
    rows.append(
        (
            "validate() (pyx12, map cached)",
            f"{small_mb / t:.2f} MB/s",
            f"{small_mb * 1000:.0f} kB slice",
        )
    )

    one = build_837([professional()], PARAMS)
    t = timed(lambda: validate(one, ACK), repeat=20)
    rows.append(
        ("validate() one-claim file", f"{t * 1000:.1f} ms", f"{len(one)} bytes, map cached")
    )

    if args.big_mb > 0:
        size, elapsed, rss, base_rss = big_file_rss(child, text, args.big_mb)
        rows.append((
            f"read_837 {size / 1e6:.0f} MB file, peak RSS",
            f"{rss:.0f} MB",
            f"ru_maxrss in a subprocess ({base_rss:.0f} MB before reading); "
            f"{size / 1e6 / elapsed:.1f} MB/s from disk",
        ))  # fmt: skip
    else:
        child.kill()
        child.wait()

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>{vwidth}}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {note}")
    print(f"\nPython {sys.version.split()[0]}, one core; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
    if args.profile_claims:
        for name, fn in missed:
            print_profile(name, fn, args.profile_claims)


def verdict(met: bool, target: str) -> str:
    return f"{target}: {'met' if met else 'MISSED'}"


def print_profile(name: str, fn: Callable[[], object], claims: int) -> None:
    """Where the time of a missed target goes: cProfile's top functions by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(14)
    body = out.getvalue()
    start = body.find("   ncalls")
    print(f"\nWhere the time of {name} goes ({claims:,} claims under cProfile, by own time):")
    print(body[start:].rstrip() if start >= 0 else body.rstrip())


if __name__ == "__main__":
    main()
