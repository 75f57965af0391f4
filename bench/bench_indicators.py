"""Benchmark: every indicator of a province-month against one bare aggregate query.

    .venv/bin/python bench/bench_indicators.py [--dossiers-per-year 1200000] [--period 2025-03]
        [--workdir /tmp/bench_indicators] [--warehouse-url URL] [--repeat 3] [--history-months 0]
        [--reuse]

Builds the month (and `--history-months` before it, for a warehouse with history) with the
simulator (tthc.sim.generator) into a replica and a national store, stages them into a fresh
warehouse (provincial: the real extraction; national: the store's records through the
extraction's own item-to-row mappings, latest version per key), then times compute_period
for the month against the floor — one
`SELECT unit_code, count(*) FROM stg_dossiers WHERE received_at in M GROUP BY unit_code`.

Then a per-indicator table: the seconds compute_period spent on each indicator (its items
kept in the run's item table, a finisher's Python included) beside two floors of that
indicator over the same materialised views — `count`, a bare
`SELECT unit_code, count(*) FROM (<its SQL>) GROUP BY unit_code` (the population counted,
nothing judged), and `read`, the same with a count of every column its SQL returns (every
value judged is computed, no item kept) — and the shared steps (views materialised once
per run, every indicator's items counted in one pass, scores, the write of the period's
rows and violations).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tthc.extract.national import feeds
from tthc.extract.provincial import extract_all
from tthc.indicators.catalogue import load_catalogue
from tthc.indicators.engine import compute_period, derived_sql, parent_table, period_params
from tthc.indicators.export import export_period
from tthc.indicators.tables import bind_sql, materialise_views, run_connection
from tthc.periods import Period
from tthc.sim.generator import generate
from tthc.sim.reference import PROVINCE
from tthc.warehouse import schema as wh
from tthc.warehouse.db import insert_rows, refresh_statistics

FLOOR_SQL = sa.text(
    "SELECT unit_code, count(*) FROM stg_dossiers "
    "WHERE received_at >= :start AND received_at < :end GROUP BY unit_code"
).bindparams(sa.bindparam("start", type_=sa.DateTime()), sa.bindparam("end", type_=sa.DateTime()))


def stage_national(national: sa.Engine, warehouse: sa.Engine) -> dict[str, int]:
    """The national store's records into the staged tables: latest version per key, feed order kept."""
    counts = {}
    with national.connect() as src, warehouse.begin() as dst:
        for feed in feeds(PROVINCE):
            store_table = feed.name if feed.name.startswith("national_") else f"national_{feed.name}"
            rows = src.execute(sa.text(f"SELECT * FROM {store_table} ORDER BY sort_ts, row_id"))
            latest: dict[tuple, dict] = {}
            for seq, item in enumerate(rows.mappings()):
                item = dict(item)
                if isinstance(item.get("procedure_codes"), str):
                    item["procedure_codes"] = json.loads(item["procedure_codes"])
                row = feed.to_row(item)
                key = tuple(row[k] for k in feed.key)
                if any(k is None or k == "" for k in key):
                    continue
                old = latest.get(key)
                newest = row["updated_at"] or dt.datetime.min
                if old is None or newest >= (old["updated_at"] or dt.datetime.min):
                    latest[key] = {**row, "feed_seq": seq}
            codes = []
            for row in latest.values():
                codes.extend({"decision_no": row["decision_no"], "procedure_code": c}
                             for c in dict.fromkeys(row.pop("_procedure_codes", []) or []))
            dst.execute(sa.delete(feed.table))
            counts[feed.name] = insert_rows(dst, feed.table, latest.values())
            refresh_statistics(dst, feed.table, counts[feed.name])  # as the national loads do
            if codes:
                dst.execute(sa.delete(wh.stg_ministry_decision_procedures))
                insert_rows(dst, wh.stg_ministry_decision_procedures, codes)
    return counts


def build(workdir: Path, period: Period, per_year: int, warehouse_url: str, history_months: int = 0) -> sa.Engine:
    workdir.mkdir(parents=True, exist_ok=True)
    replica, national = workdir / "replica.db", workdir / "national.db"
    first = period
    for _ in range(history_months):
        first = first.previous()
    t = time.perf_counter()
    summary = generate(f"sqlite:///{replica}", f"sqlite:///{national}", first.first_day, period.last_day,
                       seed=7, dossiers_per_year=per_year)
    print(f"generated {summary.rows.get('dossiers', 0):,} dossiers in {time.perf_counter() - t:.1f} s")
    warehouse = sa.create_engine(warehouse_url)
    wh.metadata.drop_all(warehouse)
    wh.create_all(warehouse)
    t = time.perf_counter()
    extract_all(sa.create_engine(f"sqlite:///{replica}"), warehouse, "bench",
                period.end + dt.timedelta(days=1),
                dt.timedelta(0))
    staged = stage_national(sa.create_engine(f"sqlite:///{national}"), warehouse)
    print(f"staged in {time.perf_counter() - t:.1f} s: {staged}")
    if warehouse.dialect.name == "postgresql":
        # What autovacuum does to freshly loaded tables a while after the load (it sets the
        # visibility map, which index-only scans need); a server running with autovacuum
        # off, like the reference machine's, would otherwise never do it.
        with warehouse.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one()
            t = time.perf_counter()
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        print(f"vacuumed in {time.perf_counter() - t:.1f} s (this server's autovacuum: {autovacuum})")
    return warehouse


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def indicator_floors(warehouse: sa.Engine, period: Period, repeat: int) -> dict[str, dict[str, float]]:
    """Each indicator's two floors (median seconds), on materialised views.

    `count`: its population counted per unit. `read`: per unit, a count of every column its
    SQL returns, so that the database computes every value the indicator judges (PostgreSQL
    drops a LEFT JOIN whose columns a bare count does not use) without keeping any item.
    A derived duty reads its restriction of its parent's rows, kept as the engine keeps them.
    """
    cat, params = load_catalogue(), period_params(period)
    floors: dict[str, dict[str, float]] = {"count": {}, "read": {}}
    with run_connection(warehouse) as conn:
        materialise_views(conn, params)
        for ind in cat.indicators:
            if ind.derived_from:
                source = derived_sql(ind)
            else:
                source = ind.sql_path.read_text(encoding="utf-8")
                if any(i.derived_from == ind.code for i in cat.indicators):
                    stmt, used = bind_sql(f"CREATE TEMPORARY TABLE {parent_table(ind.code)} AS "
                                          f"SELECT * FROM (\n{source}\n) items", params)
                    conn.execute(stmt, used)
            stmt, used = bind_sql(f"SELECT * FROM (\n{source}\n) items LIMIT 0", params)
            columns = list(conn.execute(stmt, used).keys())
            for kind, aggregates in (("count", "count(*)"), ("read", ", ".join(f"count({c})" for c in columns))):
                stmt, used = bind_sql(f"SELECT unit_code, {aggregates} FROM (\n{source}\n) items GROUP BY unit_code",
                                      params)
                floors[kind][ind.code], _ = timed(lambda s=stmt, u=used: conn.execute(s, u).all(), repeat)
    return floors


def print_steps(timings: dict[str, float], floors: dict[str, dict[str, float]]) -> None:
    count, read = floors["count"], floors["read"]
    print(f"{'step / indicator':36s} {'engine ms':>10s} {'count ms':>9s} {'ratio':>6s} {'read ms':>9s} {'ratio':>6s}")
    for code, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        extra = "".join(f"{f[code] * 1000:9.1f} {seconds / f[code]:6.1f} " if code in f else f"{'—':>9s} {'':6s} "
                        for f in (count, read))
        print(f"{code:36s} {seconds * 1000:10.1f} {extra}")
    per_indicator = sum(timings.get(c, 0.0) for c in count)
    print(f"{'Σ indicators':36s} {per_indicator * 1000:10.1f} "
          + "".join(f"{sum(f.values()) * 1000:9.1f} {per_indicator / sum(f.values()):6.1f} " for f in (count, read)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--period", default="2025-03")
    parser.add_argument("--dossiers-per-year", type=int, default=1_200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_indicators"))
    parser.add_argument("--warehouse-url", default=None, help="default: sqlite in the workdir")
    parser.add_argument("--reuse", action="store_true", help="skip generation; use the warehouse as it is")
    parser.add_argument("--history-months", type=int, default=0,
                        help="also generate this many months before the period (a warehouse with history)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    period = Period(args.period)
    url = args.warehouse_url or f"sqlite:///{args.workdir / 'warehouse.db'}"
    if args.reuse:
        warehouse = sa.create_engine(url)
    else:
        warehouse = build(args.workdir, period, args.dossiers_per_year, url, args.history_months)
    with warehouse.connect() as conn:
        in_month = conn.execute(FLOOR_SQL, {"start": period.start, "end": period.end}).all()
    print(f"warehouse {warehouse.dialect.name}: {sum(n for _, n in in_month):,} dossiers received in "
          f"{period.code} over {len(in_month)} units")

    def floor():
        with warehouse.connect() as conn:
            return conn.execute(FLOOR_SQL, {"start": period.start, "end": period.end}).all()

    floor_s, _ = timed(floor, args.repeat)
    runs: list[dict[str, float]] = []
    totals: list[float] = []

    def run():
        runs.append({})
        started = time.perf_counter()
        summary = compute_period(warehouse, period.code, dt.datetime.now(), timings=runs[-1])
        totals.append(time.perf_counter() - started)
        return summary

    run_s, summary = timed(run, args.repeat)
    # The first run writes the period; the later ones replace it (SQLite: its rows, beside the
    # free pages they leave; PostgreSQL: its partition).
    print("compute_period, run by run (s): "
          + ", ".join(f"{t:.2f} (write {r['write']:.2f})" for t, r in zip(totals, runs, strict=True)))
    timings = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floors = indicator_floors(warehouse, period, args.repeat)
    export_s, paths = timed(lambda: export_period(warehouse, period.code, args.workdir / "out"), 1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"floor (one GROUP BY count):       {floor_s * 1000:10.1f} ms")
    print(f"compute_period (37 codes, scores): {run_s * 1000:10.1f} ms  = {run_s / floor_s:,.0f} x floor")
    print(f"export_period ({len(paths)} files):        {export_s * 1000:10.1f} ms")
    print(f"summary: {summary}")
    print_steps(timings, floors)
    print(f"peak RSS of this process: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
