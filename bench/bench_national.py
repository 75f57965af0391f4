"""Benchmark: the initial load of the national feeds at two sizes of province-year (issue 18).

    .venv/bin/python bench/bench_national.py [--dossiers-per-year 300000 1320000] [--workdir DIR]

For each size, generates 2025 (replica + national store, SQLite), then reads every national
feed from its start (no watermark: the initial load) through the real HTTP mock into a fresh
SQLite warehouse. The generator's time in the same run is the yardstick of the machine that
day: the load's figures are printed beside it, and the ratio of the two sizes' load times
beside the ratio of their records (linear: about equal). Wall seconds, and CPU seconds of this
process, which serves the mock too; with `--repeat N`, each load N times into a fresh warehouse
and the fastest kept (on a shared machine others' work only adds time). Asserts nothing
(benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from bench_extract import national_load

from tthc.sim.generator import generate
from tthc.warehouse import schema as wh
from tthc.warehouse.db import engine_for_url

RUN_KEY = "tthc_nightly/2025-12-31"


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def one_size(folder: Path, per_year: int, repeat: int) -> dict[str, float]:
    """Generate a province-year of `per_year` dossiers, then load its national feeds from the start."""
    folder.mkdir(parents=True, exist_ok=True)
    replica, store, warehouse = folder / "replica.db", folder / "national.db", folder / "warehouse.db"
    for db in (replica, store, warehouse):
        db.unlink(missing_ok=True)
    print(f"{per_year:,} dossiers per province-year (2025) in {folder}:", flush=True)
    started, cpu = time.perf_counter(), cpu_seconds()
    generate(f"sqlite:///{replica}", f"sqlite:///{store}", dt.date(2025, 1, 1), dt.date(2025, 12, 31), 1, per_year)
    generated, generated_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"  {'generate':<38} {generated:8.1f} s ({generated_cpu:.1f} s CPU)", flush=True)
    walls, cpus = [], []
    for _ in range(repeat):
        warehouse.unlink(missing_ok=True)
        engine = engine_for_url(f"sqlite:///{warehouse}")
        wh.create_all(engine)
        started, cpu = time.perf_counter(), cpu_seconds()
        items = national_load(store, engine, RUN_KEY)
        walls.append(time.perf_counter() - started)
        cpus.append(cpu_seconds() - cpu)
        engine.dispose()
        print(
            f"  national feeds: {sum(items.values()):,} items ({items['national.synced_dossiers']:,} synced "
            f"dossiers) in {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU = {walls[-1] / generated:.2f}x the "
            f"generator's {generated:.1f} s",
            flush=True,
        )
    return {
        "generate": generated,
        "generate_cpu": generated_cpu,
        "wall": min(walls),
        "cpu": min(cpus),
        "items": sum(items.values()),
        "synced": items["national.synced_dossiers"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dossiers-per-year", type=int, nargs=2, default=[300_000, 1_320_000], metavar=("SMALL", "LARGE")
    )
    parser.add_argument("--repeat", type=int, default=1, help="load each size this many times, keep the fastest")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the databases here")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-national-"))
    print(f"machine: {os.cpu_count()} cores", flush=True)
    small, large = (one_size(root / f"{n}", n, args.repeat) for n in args.dossiers_per_year)
    print(
        f"{'':11} {'items':>11} {'synced':>11} {'generator':>10} {'(CPU)':>8} {'load wall':>10} {'(CPU)':>8} "
        f"{'load/generator':>15}"
    )
    for name, r in (("small", small), ("large", large)):
        print(
            f"{name:11} {r['items']:>11,} {r['synced']:>11,} {r['generate']:>9.1f}s {r['generate_cpu']:>7.1f}s "
            f"{r['wall']:>9.1f}s {r['cpu']:>7.1f}s {r['wall'] / r['generate']:>14.2f}x"
        )
    ratio = {k: large[k] / small[k] for k in small}
    print(
        f"{'large/small':11} {ratio['items']:>10.2f}x {ratio['synced']:>10.2f}x {ratio['generate']:>9.2f}x "
        f"{ratio['generate_cpu']:>7.2f}x {ratio['wall']:>9.2f}x {ratio['cpu']:>7.2f}x"
    )
    print(
        f"linear: load time x{ratio['wall']:.2f} wall (x{ratio['cpu']:.2f} CPU) for x{ratio['items']:.2f} items; "
        f"large load {large['wall']:.0f} s ({large['wall'] / 60:.1f} min)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
