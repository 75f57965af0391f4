"""Benchmark: render a whole month of documents (every unit's scorecard, ranking PDF and XLSX).

Target (issue 6): under 60 s for a full month on the 2-core machine.

    .venv/bin/python bench/bench_render.py                # after the reform: 15 departments, 40 communes
    .venv/bin/python bench/bench_render.py --pre-reform   # before: 15 departments, 9 districts, 80 communes
    .venv/bin/python bench/bench_render.py --workers 1    # one process

Scorecards are rendered by a pool of processes (WeasyPrint lays out one document per core);
the ranking documents are rendered in the parent meanwhile.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tthc.reports.render import render_ranking_pdf, render_ranking_xlsx, render_scorecard
from tthc.reports.samples import post_reform_units, pre_reform_units, sample_ranking, sample_scorecard


def _render_one(job: tuple) -> tuple[int, float, float]:
    """Size, wall seconds and CPU seconds of one scorecard (CPU time shows what a busy
    machine hides: the wall time of a shared 2-core box depends on its neighbours)."""
    ctx, out_dir = job
    started, cpu_started = time.perf_counter(), time.process_time()
    path = render_scorecard(ctx, Path(out_dir) / "scorecards" / f"{ctx.unit.code}.pdf")
    return path.stat().st_size, time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pre-reform", action="store_true", help="the larger pre-2025-07 month (104 units)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    units = pre_reform_units() if args.pre_reform else post_reform_units()
    started = time.perf_counter()
    contexts = [sample_scorecard(unit, units=units) for unit in units]
    ranking = sample_ranking(units=units)
    built = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as out_dir, ProcessPoolExecutor(args.workers) as pool:
        started = time.perf_counter()
        results = pool.map(_render_one, [(ctx, out_dir) for ctx in contexts])
        render_ranking_pdf(ranking, Path(out_dir) / "ranking.pdf")
        render_ranking_xlsx(ranking, Path(out_dir) / "ranking.xlsx")
        results = list(results)
        elapsed = time.perf_counter() - started

    per_doc = sorted(seconds for _, seconds, _ in results)
    cpu = sum(seconds for _, _, seconds in results)
    size = sum(size for size, _, _ in results)
    print(f"units: {len(units)}  workers: {args.workers}")
    print(f"contexts built in {built:.2f} s (sample data, not part of the target)")
    print(f"rendered {len(results)} scorecards + ranking.pdf + ranking.xlsx in {elapsed:.1f} s "
          f"(target < 60 s): {'OK' if elapsed < 60 else 'OVER TARGET'}")
    print(f"per scorecard: median {per_doc[len(per_doc) // 2]:.2f} s, max {per_doc[-1]:.2f} s wall; "
          f"{cpu / len(results):.2f} s CPU on average; scorecards total {size / 1e6:.1f} MB")
    print(f"CPU time of the scorecards / {args.workers} workers = {cpu / args.workers:.1f} s "
          "(the wall time on an otherwise idle machine)")


if __name__ == "__main__":
    main()
