"""Throughput and memory of read_835 beside edi-835-parser, pyx12 and a plain str.split.

Run from the repository root: `python benchmarks/bench_responses.py` (add `--quick` for a
short run). Files are synthetic, written by build_835 into a temporary folder; the largest 835
of the shared corpus is added when the corpus sits beside the repository. Prints one table of
MB/s, then peak RSS of a streaming read per file size (each in a fresh subprocess), then, for a
target missed, the functions where read_835 spends its time. No number here is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi.envelope import EnvelopeParams  # noqa: E402
from edi.read_835 import iter_835, read_835  # noqa: E402
from edi.remittance import Remittance  # noqa: E402
from edi.validate import AckControl, validate  # noqa: E402
from edi.write_835 import build_835  # noqa: E402
from tests.unit.remittances import claim, denied, remittance  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
PARAMS = EnvelopeParams("PAYER01", "SUB0001", 1, 1, 1, datetime(2026, 11, 10, 8, 0))
TARGETS = {"small": 50.0, "large": 20.0}  # MB/s: files under 1 MB, and the 10 MB file


def payment(index: int, claims: int) -> Remittance:
    """One check's worth of claims: paid 3-line claims with the odd denial."""
    items = tuple(
        denied(f"D{index}-{i}")
        if i % 10 == 9
        else replace(claim(f"P{index}-{i}", lines=3), payer_claim_control_number=f"C{index}-{i}")
        for i in range(claims)
    )
    return replace(remittance(items), trace_number=f"EFT{index:06d}")


def write_835(path: Path, megabytes: float, claims_per_set: int) -> Path:
    """An 835 of about `megabytes`, one ST per `claims_per_set` claims (as payers batch)."""
    one = build_835([payment(0, claims_per_set)], PARAMS)
    sets = max(1, round(megabytes * 1e6 / len(one)))
    with path.open("w") as f:
        for i in range(0, sets, 50):
            batch = [payment(j, claims_per_set) for j in range(i, min(sets, i + 50))]
            f.write(build_835(batch, replace(PARAMS, interchange_control_number=i + 1)))
    return path


def largest_corpus_835() -> Path | None:
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        return None
    with index.open(newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["st01"] == "835"]
    if not rows:
        return None
    return CORPUS / max(rows, key=lambda r: int(r["size_bytes"]))["file"]


def rate(size: int, fn: Callable[[], object], budget: float) -> float:
    """Best MB/s over repeated runs within about `budget` seconds."""
    best = float("inf")
    spent = 0.0
    runs = 0
    while runs < 3 or (spent < budget and runs < 200):
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best = min(best, took)
        spent += took
        runs += 1
    return size / 1e6 / best


def split_baseline(text: str) -> None:
    term, sep = text[105], text[3]
    for seg in text.split(term):
        seg.split(sep)


def edi_835_parser_reader() -> Callable[[Path], object] | None:
    try:
        import edi_835_parser  # type: ignore[import-not-found]
    except ImportError:
        return None

    def parse(path: Path) -> object:
        with warnings.catch_warnings():  # it warns for each segment it does not model
            warnings.simplefilter("ignore")
            return edi_835_parser.parse(str(path))

    return parse


def pyx12_reader(text: str) -> None:
    """pyx12's own tokenizer and segment objects (what its validation walks)."""
    import pyx12.x12file

    for _ in pyx12.x12file.X12Reader(io.StringIO(text)):
        pass


def cell(value: float | None, target: float | None = None) -> str:
    if value is None:
        return "n/a"
    mark = "" if target is None else (" ok" if value >= target else " MISS")
    return f"{value:8.1f}{mark}"


def rss_child(path: str) -> None:
    """Subprocess body: stream the file through iter_835, print peak RSS in MB.

    VmHWM (Linux) is this process's own high-water mark; ru_maxrss would carry the parent's
    over from fork, which is larger than what is measured here.
    """
    count = 0
    if path != "-":
        with open(path, "rb") as f:
            for r in iter_835(f):
                count += len(r.claims)
    try:
        status = Path("/proc/self/status").read_text()
        kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(kb / 1024, count)


def peak_rss(path: str) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--rss", path], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs, 3 MB instead of 10")
    parser.add_argument("--rss", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss:
        rss_child(args.rss)
        return
    budget = 1.0 if args.quick else 3.0
    large_mb = 3 if args.quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files: list[tuple[str, str, Path]] = [
            ("small", "synthetic 835, 0.5 MB", write_835(folder / "small.835", 0.5, 100)),
            ("large", f"synthetic 835, {large_mb} MB",
             write_835(folder / "large.835", large_mb, 100)),
        ]  # fmt: skip
        corpus = largest_corpus_835()
        if corpus is not None:
            files.append(("small", f"corpus: {corpus.name}", corpus))
        other = edi_835_parser_reader()

        print("read_835 throughput, MB/s (best of repeated runs, one core)")
        print(f"{'file':<46}{'size':>10}{'read_835':>14}{'edi-835-parser':>16}"
              f"{'pyx12 X12Reader':>17}{'str.split':>11}{'claims':>9}")  # fmt: skip
        missed: list[Path] = []
        for kind, label, path in files:
            text = path.read_text()
            size = len(text.encode())
            ours = rate(size, lambda t=text: read_835(t), budget)
            claims = sum(len(r.claims) for r in read_835(text))
            theirs = None
            if other is not None and size < 20e6:
                try:
                    theirs = rate(size, lambda p=path: other(p), budget)
                except Exception as exc:  # a third-party parser failing is a result too
                    print(f"  edi-835-parser failed on {label}: {exc!r}")
            # pyx12 on a slice: the first 200 KB cut at a segment end (it is ~100x slower).
            piece = text if size < 200_000 else text[: text.index(text[105], 200_000) + 1]
            slice_rate = rate(len(piece.encode()), lambda p=piece: pyx12_reader(p), budget / 2)
            base = rate(size, lambda t=text: split_baseline(t), budget)
            target = TARGETS[kind] if size >= 100_000 else None
            print(f"{label:<46}{size / 1e6:>8.2f}MB{cell(ours, target):>14}{cell(theirs):>16}"
                  f"{cell(slice_rate):>17}{cell(base):>11}{claims:>9}")  # fmt: skip
            if target is not None and ours < target:
                missed.append(path)

        text = files[0][2].read_text()
        piece = text[: text.index("~", 50_000) + 1]
        piece = piece[: piece.rindex("~CLP*") + 1] + "SE*1*0001~GE*1*1~IEA*1*000000001~"
        # The slice's trailer counts are left as they are: pyx12 reports them, the walk over
        # the segments (what is timed) is the same.
        check = AckControl(1, 1, 1, datetime(2026, 1, 1))
        full = rate(len(piece), lambda: validate(piece, check), budget)
        print(f"\npyx12 full validation (edi.validate.validate, cached maps) on a "
              f"{len(piece) // 1000} KB slice: {full:.2f} MB/s")  # fmt: skip

        print("\nPeak RSS of a streaming read (iter_835 over a file handle, fresh process)")
        base_rss, _ = peak_rss("-")
        print(f"{'interpreter + imports only':<46}{base_rss:>8.1f} MB")
        for mb in (1, large_mb, 3 * large_mb):
            path = write_835(folder / f"rss{mb}.835", mb, 100)
            rss, claims = peak_rss(str(path))
            print(f"{f'{mb} MB synthetic 835 ({claims} claims)':<46}{rss:>8.1f} MB")

        for path in missed[-1:]:
            print(f"\nWhere read_835 spends its time on {path.name} (cProfile, top 12 by own time)")
            text = path.read_text()
            gc.collect()
            profile = cProfile.Profile()
            profile.runcall(read_835, text)
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
            lines = out.getvalue().splitlines()
            start = next(i for i, line in enumerate(lines) if "ncalls" in line)
            print("\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:]))


if __name__ == "__main__":
    main()
