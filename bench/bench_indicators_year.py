"""All indicators for every month of a province-year, against a bare aggregate as the floor.

Usage: python bench/bench_indicators_year.py --warehouse sqlite:////tmp/bench_ext/warehouse.db --year 2025
(the warehouse of bench/bench_extract.py --workdir /tmp/bench_ext: a province-year, 1.2 M dossiers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time

import sqlalchemy as sa

from tthc.indicators.engine import compute_period
from tthc.warehouse.db import engine_for_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="SQLAlchemy URL of a loaded warehouse")
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    engine = engine_for_url(args.warehouse)
    with engine.connect() as conn:
        t = time.perf_counter()
        conn.execute(sa.text("SELECT unit_code, COUNT(*) FROM stg_dossiers GROUP BY unit_code")).all()
        floor = time.perf_counter() - t
        total = conn.execute(sa.text("SELECT COUNT(*) FROM stg_dossiers")).scalar_one()
    print(f"warehouse: {total:,} dossiers; floor (one GROUP BY count over all of them) {floor:.2f} s")
    start = time.perf_counter()
    for month in range(1, 13):
        period = f"{args.year}-{month:02d}"
        t = time.perf_counter()
        summary = compute_period(engine, period, dt.datetime(args.year + 1, 1, 2))
        print(f"{period}: {time.perf_counter() - t:.1f} s  units {summary['units']}, "
              f"violations {summary['violations']:,}")
    print(f"province-year, 12 months: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
