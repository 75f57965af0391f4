"""Benchmark: generate a province-year on SQLite and report rows per second and size on disk.

    .venv/bin/python bench/bench_generator.py [--dossiers-per-year 1200000] [--year 2025] [--dir /tmp]

Target (issue 3): a province-year of 1.2 million dossiers in under 2 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from tthc.sim.generator import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers-per-year", type=int, default=1_200_000)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the databases (kept)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="tthc_bench_"))
    src, nat = folder / "replica.db", folder / "national.db"
    began = time.perf_counter()
    summary = generate(
        f"sqlite:///{src}",
        f"sqlite:///{nat}",
        dt.date(args.year, 1, 1),
        dt.date(args.year, 12, 31),
        seed=1,
        dossiers_per_year=args.dossiers_per_year,
    )
    seconds = time.perf_counter() - began
    rows = sum(summary.rows.values())
    for table, count in sorted(summary.rows.items()):
        print(f"{table:32s} {count:>10,d}")
    print(f"total rows {rows:,d} in {seconds:.1f} s = {rows / seconds:,.0f} rows/s")
    print(
        f"replica {src.stat().st_size / 2**20:.0f} MiB, national store {nat.stat().st_size / 2**20:.0f} MiB "
        f"({folder})"
    )


if __name__ == "__main__":
    main()
