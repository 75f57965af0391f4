"""Back-test of the month-end forecast (tthc.insights.forecast) on generated months.

    .venv/bin/python bench/bench_forecast.py [--dossiers-per-year 120000] [--start 2025-01-01]
        [--end 2025-04-30] [--periods 2025-02,2025-03,2025-04] [--cut-off-day 15]
        [--workdir /tmp/bench_forecast] [--reuse]

Generates the months with the simulator and stages them with the real extraction (as
bench_early_warning.py does), then replays the forecast at 00:00 on --cut-off-day of each
period and prints the mean absolute error of the projected total per unit against the
month's final total: for the blend (the method the office's mail uses) and for its two
ingredients alone (month-to-date score, last month's score).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from bench_early_warning import bench_warehouse

from tthc.insights.forecast import METHODS, backtest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers-per-year", type=int, default=120_000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 4, 30))
    parser.add_argument("--periods", default="2025-02,2025-03,2025-04")
    parser.add_argument("--cut-off-day", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_forecast"))
    parser.add_argument("--reuse", action="store_true", help="use the workdir's warehouse as it is")
    args = parser.parse_args(argv)
    warehouse = bench_warehouse(args)
    periods = args.periods.split(",")
    t = time.perf_counter()
    result = backtest(warehouse, periods, args.cut_off_day)
    print(f"back-test over {', '.join(periods)}, cut-off 00:00 on day {args.cut_off_day}, "
          f"{result.units} (unit, month) pairs, {time.perf_counter() - t:.0f} s")
    print(f"{'method':<15}" + "".join(f"{p:>10}" for p in periods) + f"{'all':>10}")
    for method in METHODS:
        cells = "".join(f"{result.mae_by_period[p][method]:>10.2f}" for p in periods)
        print(f"{method:<15}{cells}{result.mae[method]:>10.2f}   (MAE of the total, points out of 100)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
