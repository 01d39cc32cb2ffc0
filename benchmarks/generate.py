"""Benchmark of `pilotage generate`: a synthetic company of N contacts (default 1,000,000).

Writes into a temporary folder (deleted afterwards unless --keep), then prints the wall
time, the rows written per table, rows per second and the peak resident memory of the
process (ru_maxrss). Reproducible: the seed and the end date are fixed, so every run
writes the same bytes; only the timings vary with the machine.

    .venv/bin/python benchmarks/generate.py                   # 1M contacts, CSV
    .venv/bin/python benchmarks/generate.py --format parquet
    .venv/bin/python benchmarks/generate.py --contacts 100000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pilotage.demo.generator import generate_company


def peak_memory_mb() -> float:
    """Peak resident set size of this process, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write here and keep the files")
    args = parser.parse_args(argv)

    out = args.keep or Path(tempfile.mkdtemp(prefix="pilotage-generate-"))
    baseline = peak_memory_mb()
    try:
        started = time.perf_counter()
        rows = generate_company(out, contacts=args.contacts, seed=args.seed, fmt=args.format)
        elapsed = time.perf_counter() - started
        size = sum(path.stat().st_size for path in out.iterdir())
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    total = sum(rows.values())
    print(f"pilotage generate --contacts {args.contacts} --seed {args.seed} --format {args.format}")
    for name, count in rows.items():
        print(f"  {name:<14} {count:>12,}")
    print(f"  {'total':<14} {total:>12,} rows, {size / 1e6:,.0f} MB on disk")
    print(f"wall time        {elapsed:8.1f} s")
    rate = f"{total / elapsed:12,.0f} rows/s ({args.contacts / elapsed:,.0f} contacts/s)"
    print(f"throughput       {rate}")
    print(f"peak memory      {peak_memory_mb():8.0f} MiB (after imports: {baseline:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
