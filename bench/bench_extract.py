"""Benchmark: nightly extraction and quality gate at a province-year's scale (issue 4).

    .venv/bin/python bench/bench_extract.py [--dossiers-per-year 1200000] [--workdir DIR]

1. Generates 2025 (replica + national store, SQLite), then times the initial load:
   extract_all, every national feed through the real HTTP mock, run_gate, into a SQLite warehouse.
2. Changes one night's worth of the replica (about 1/365 of the dossiers, with one new event
   each) and of the national store (a new synced-dossier version each), and times the
   incremental run. Prints the figures; asserts nothing about time (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the mock's test-server helper

from national_server import running_national_mock  # noqa: E402

from tthc.extract.national import NationalClient, feeds, load_feed  # noqa: E402
from tthc.extract.provincial import extract_all  # noqa: E402
from tthc.periods import to_local_naive  # noqa: E402
from tthc.quality.gate import run_gate  # noqa: E402
from tthc.sim.generator import generate  # noqa: E402
from tthc.warehouse.db import engine_for_url  # noqa: E402

TOKEN = "bench-token"
FIRST_NIGHT = dt.datetime(2026, 1, 1)
NEXT_NIGHT = FIRST_NIGHT + dt.timedelta(days=1)


def timed(label: str, fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    print(f"  {label:<38} {time.perf_counter() - started:8.1f} s", flush=True)
    return out


def nightly(replica: Path, store: Path, warehouse_url: str, night: dt.datetime) -> dict:
    warehouse = engine_for_url(warehouse_url)
    run_key = f"tthc_nightly/{night - dt.timedelta(days=1):%Y-%m-%d}"
    loads = timed("extract_all (replica)", extract_all, engine_for_url(f"sqlite:///{replica}"), warehouse,
                  run_key, night, dt.timedelta(minutes=60))
    rows = {load.stream: load.rows for load in loads}
    rows.update(national_load(store, warehouse, run_key))
    result = timed("run_gate", run_gate, warehouse, warehouse_url, "tthc_nightly", run_key.split("/")[1],
                   night + dt.timedelta(hours=1))
    print(f"  gate status {result.status}; failed {[o.name for o in result.failed]}")
    return rows


def national_load(store: Path, warehouse, run_key: str) -> dict[str, int]:
    """Every national feed read through the real HTTP mock into the warehouse; the items each read."""
    rows = {}
    with running_national_mock(f"sqlite:///{store}", TOKEN) as base_url:
        client = NationalClient(base_url, TOKEN)
        started = to_local_naive(dt.datetime.now(dt.UTC))
        for feed in feeds("H57"):
            load = timed(f"national.{feed.name}", load_feed, client, warehouse, feed, run_key, started,
                         dt.timedelta(minutes=10))
            rows[load.stream] = load.items
    return rows


def one_nights_changes(replica: Path, store: Path, share: float,
                       changed_at: dt.datetime = FIRST_NIGHT + dt.timedelta(hours=10)) -> int:
    """Move about `share` of the dossiers on (status, updated_at), with a new event and sync version each,
    stamped `changed_at` (local time) in the replica."""
    stamp = f"{changed_at:%Y-%m-%d %H:%M:%S}"
    with sqlite3.connect(replica) as conn:
        step = max(1, round(1 / share))
        codes = [r[0] for r in conn.execute(f"SELECT dossier_code FROM dossiers WHERE rowid % {step} = 0")]
        conn.executemany("UPDATE dossiers SET updated_at = ? WHERE dossier_code = ?", [(stamp, c) for c in codes])
        first = conn.execute("SELECT MAX(event_id) + 1 FROM dossier_events").fetchone()[0]
        conn.executemany("INSERT INTO dossier_events VALUES (?, ?, 'processed', ?, '000.00.10.H57', ?)",
                         [(first + i, c, stamp, stamp) for i, c in enumerate(codes)])
    now = dt.datetime.now(dt.UTC)
    with sqlite3.connect(store) as conn:
        # one pass over the store (MaHoSo has no index there): a new version of each changed dossier
        conn.execute("CREATE TEMP TABLE changed (code TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO changed VALUES (?)", [(c,) for c in codes])
        conn.execute(
            "INSERT INTO national_synced_dossiers (province, MaHoSo, MaTTHC, MaDonVi, TrangThaiHoSo, NgayTiepNhan, "
            "NgayHenTra, NgayCoKetQua, DongBoLuc, updated_at, sort_ts) SELECT province, MaHoSo, MaTTHC, MaDonVi, "
            "TrangThaiHoSo, NgayTiepNhan, NgayHenTra, NgayCoKetQua, DongBoLuc, ?, ? FROM national_synced_dossiers "
            "WHERE rowid IN (SELECT MIN(rowid) FROM national_synced_dossiers "
            "WHERE MaHoSo IN (SELECT code FROM changed) GROUP BY MaHoSo)",
            (now.isoformat(), now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    return len(codes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers-per-year", type=int, default=1_200_000)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the databases here")
    args = parser.parse_args(argv)
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="bench-extract-"))
    folder.mkdir(parents=True, exist_ok=True)
    replica, store, warehouse = folder / "replica.db", folder / "national.db", folder / "warehouse.db"
    warehouse.unlink(missing_ok=True)
    print(f"generating 2025 at {args.dossiers_per_year:,} dossiers/year into {folder}", flush=True)
    summary = timed("generate", generate, f"sqlite:///{replica}", f"sqlite:///{store}", dt.date(2025, 1, 1),
                    dt.date(2025, 12, 31), 1, args.dossiers_per_year)
    print("  " + ", ".join(f"{t} {n:,}" for t, n in sorted(summary.rows.items())))

    print("initial load:", flush=True)
    started = time.perf_counter()
    rows = nightly(replica, store, f"sqlite:///{warehouse}", FIRST_NIGHT)
    print(f"  TOTAL initial load {time.perf_counter() - started:.1f} s; rows {rows}")

    changed = one_nights_changes(replica, store, 1 / 365)
    print(f"one night's changes: {changed:,} dossiers (+1 event, +1 sync version each):", flush=True)
    started = time.perf_counter()
    rows = nightly(replica, store, f"sqlite:///{warehouse}", NEXT_NIGHT)
    print(f"  TOTAL incremental run {time.perf_counter() - started:.1f} s; rows {rows}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; warehouse {warehouse.stat().st_size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
