"""Compute one monthly period (kỳ báo cáo): every indicator, duty, unit score and violation.

Each indicator's SQL (include/sql/indicators/<code>.sql) yields one row per item of its
population — `unit_code, item_id, ok, detail` — so a unit's numerator and denominator and
its list of failed items come from the same rows and always agree. `detail` is a reason code
of the indicator's `reasons` in the catalogue, which words it in Vietnamese for the office; a
run whose items give a reason the catalogue lacks stops before writing (check_reasons). A few
tests that need calendar arithmetic SQL cannot express portably are finished in Python
(`finishers`).

A run works on one connection of its own (tables.run_connection): the views are
materialised once for the period (tables.materialise_views), every indicator's items go
into one temporary table — only a finisher's items travel through Python — and are counted
there in one pass; then one short transaction replaces the period's rows, the violations
copied from that table inside the database (tables.replace_violations; on PostgreSQL into a
fresh partition of the period, swapped in).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tthc import config
from tthc.calendar import WorkingCalendar, load_calendar
from tthc.indicators import finishers
from tthc.indicators.catalogue import PROVINCE_CODE, PROVINCE_TIER, Catalogue, Indicator, load_catalogue
from tthc.indicators.derived import DERIVED
from tthc.indicators.scoring import RANK_DECIMALS, UnitScore, ranks, round_half_up, score_unit
from tthc.indicators.tables import (
    bind_sql,
    delete_period_scores,
    ensure_tables,
    ind_results,
    ind_unit_scores,
    lock_period,
    materialise_views,
    refresh_cal_days,
    replace_violations,
    run_connection,
    run_eligible,
    run_items,
)
from tthc.periods import Period, to_local_naive
from tthc.warehouse.db import insert_rows
from tthc.warehouse.schema import stg_units

# Margin of cal_days around the period: every day-based deadline that can fall in the
# month is anchored within a few weeks of it (5 working days across Tết at most).
CAL_MARGIN = dt.timedelta(days=120)
ITEM_COLUMNS = ["unit_code", "item_id", "ok", "detail"]
# PostgreSQL: a finisher's items in one statement, as one JSON document the server unpacks
# (a driver's executemany sends one statement per row, and adapting Python lists to arrays
# costs more than pandas' JSON writer).
INSERT_ITEMS_PG = sa.text(
    "INSERT INTO ind_run_items (indicator_code, unit_code, item_id, ok, detail) "
    "SELECT :indicator_code, x.unit_code, x.item_id, x.ok, x.detail "
    "FROM json_to_recordset(CAST(:items AS json)) AS x(unit_code text, item_id text, ok integer, detail text)"
)
INSERT_ITEMS_SQLITE = ("INSERT INTO ind_run_items (indicator_code, unit_code, item_id, ok, detail) "
                       "VALUES (?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class Unit:
    code: str
    name: str | None
    tier: str | None


def period_params(period: Period) -> dict:
    """The bind parameters every indicator SQL may use."""
    return {
        "period_start": period.start,
        "period_end": period.end,
        "first_day": period.first_day,
        "last_day": period.last_day,
    }


def read_items(conn: Connection, indicator: Indicator, params: dict, cal: WorkingCalendar,
               period: Period) -> pd.DataFrame:
    """The items of one indicator: unit_code, item_id, ok (0/1), detail."""
    stmt, used = bind_sql(indicator.sql_path.read_text(encoding="utf-8"), params)
    result = conn.execute(stmt, used)
    keys, rows = list(result.keys()), result.fetchall()
    # column-wise: building a frame from Row objects row by row costs seconds per 100k items
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(keys)
    frame = pd.DataFrame({k: pd.Series(col, dtype=object) for k, col in zip(keys, columns, strict=True)})
    finish = finishers.FINISHERS.get(indicator.code)
    if finish is not None:
        frame = finish(frame, cal, period)
    missing = [c for c in ITEM_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{indicator.sql_path.name}: the items lack column(s) {', '.join(missing)}")
    frame = frame.copy()
    frame["ok"] = frame["ok"].astype("int64")
    return frame


def active_units(conn: Connection, period: Period) -> list[Unit]:
    """Units active in M: valid_from ≤ last day and (valid_to null or ≥ first day)."""
    u = stg_units.c
    rows = conn.execute(
        sa.select(u.unit_code, u.name, u.tier)
        .where(u.valid_from <= period.last_day, sa.or_(u.valid_to.is_(None), u.valid_to >= period.first_day))
        .order_by(u.unit_code)
    )
    return [Unit(*row) for row in rows]


def parent_table(code: str) -> str:
    """The temporary table holding a parent indicator's whole rows for the duties derived from it."""
    return f"ind_run_parent_{code.lower()}"


def derived_sql(indicator: Indicator) -> str:
    """A derived duty's items: its parent's kept rows, restricted or re-judged (derived.py)."""
    parent, restriction = DERIVED[indicator.code]
    if parent != indicator.derived_from:
        raise ValueError(f"{indicator.code}: the catalogue derives it from {indicator.derived_from}, "
                         f"derived.py from {parent}")
    return (f"SELECT unit_code, item_id, {restriction.ok} AS ok, {restriction.detail} AS detail "
            f"FROM {parent_table(parent)} WHERE {restriction.where}")


def insert_items(conn: Connection, indicator: Indicator, items: pd.DataFrame) -> None:
    """A finisher's items into ind_run_items."""
    if items.empty:
        return
    items = items[ITEM_COLUMNS].astype({"item_id": str, "ok": "int64"})
    if conn.dialect.name == "postgresql":
        conn.execute(INSERT_ITEMS_PG, {"indicator_code": indicator.code,
                                       "items": items.to_json(orient="records", force_ascii=False)})
    else:
        # straight to the driver's executemany: SQLAlchemy's per-row parameter processing
        # would cost more than the insert itself
        conn.exec_driver_sql(INSERT_ITEMS_SQLITE, [(indicator.code, *row) for row in zip(
            items["unit_code"].tolist(), items["item_id"].tolist(), items["ok"].tolist(), items["detail"].tolist(),
            strict=True)])


def stage_items(conn: Connection, indicator: Indicator, params: dict, cal: WorkingCalendar,
                period: Period, parents: set[str]) -> None:
    """Add one indicator's items to ind_run_items.

    Items stay in the database: only those a finisher must judge in Python travel through it.
    A parent's whole rows are kept in their own table for the duties derived from it.
    """
    if indicator.code in finishers.FINISHERS:
        insert_items(conn, indicator, read_items(conn, indicator, params, cal, period))
        return
    if indicator.derived_from:
        source = derived_sql(indicator)
    else:
        source = indicator.sql_path.read_text(encoding="utf-8")
        if indicator.code in parents:
            table = parent_table(indicator.code)
            stmt, used = bind_sql(f"CREATE TEMPORARY TABLE {table} AS SELECT * FROM (\n{source}\n) items", params)
            conn.execute(stmt, used)
            source = f"SELECT * FROM {table}"
    stmt, used = bind_sql(f"INSERT INTO {run_items.name} (indicator_code, unit_code, item_id, ok, detail) "
                          f"SELECT :indicator_code, unit_code, CAST(item_id AS TEXT), ok, detail "
                          f"FROM (\n{source}\n) items", {**params, "indicator_code": indicator.code})
    conn.execute(stmt, used)


def item_counts(conn: Connection) -> dict[str, dict[str | None, tuple[int, int]]]:
    """Indicator -> unit (None where an item names none) -> (passed, items), in one pass."""
    c = run_items.c
    rows = conn.execute(sa.select(c.indicator_code, c.unit_code, sa.func.sum(c.ok), sa.func.count())
                        .group_by(c.indicator_code, c.unit_code))
    counts: dict[str, dict[str | None, tuple[int, int]]] = {}
    for code, unit, passed, n in rows:
        counts.setdefault(code, {})[unit] = (int(passed), int(n))
    return counts


def eligible_rows(indicators: list[Indicator], units: list[Unit]) -> list[dict]:
    """The (indicator, unit) pairs whose failed items are violations."""
    return [{"indicator_code": i.code, "unit_code": u.code, "item_type": i.item_type}
            for i in indicators for u in units if i.applies_to_tier(u.tier)]


def aggregate(indicator: Indicator, counts: dict[str | None, tuple[int, int]], units: list[Unit]
              ) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) for each active unit whose tier has the indicator, and for H57.

    H57 counts every item whatever its unit, or only its own rows where the SQL writes them
    (indicators counting distinct procedures province-wide).
    """
    out = {u.code: counts.get(u.code, (0, 0)) for u in units if indicator.applies_to_tier(u.tier)}
    if indicator.province_population == "own_rows":
        out[PROVINCE_CODE] = counts.get(PROVINCE_CODE, (0, 0))
    else:
        out[PROVINCE_CODE] = (sum(n for n, _ in counts.values()), sum(d for _, d in counts.values()))
    return out


def compute_indicators(conn: Connection, indicators: list[Indicator], params: dict, cal: WorkingCalendar,
                       period: Period, units: list[Unit], timings: dict[str, float] | None = None,
                       views_ready: bool = False) -> dict[str, dict[str, tuple[int, int]]]:
    """The read phase of a run, on a connection from run_connection(), inside a transaction.

    Materialises the views for `params` (period_params, or a window's) — unless `views_ready`:
    the caller materialised them for a span holding the period (its scope is a superset of the
    period's populations, which changes no number) — then stages each indicator's items in
    order — a derived duty's parent must come before it — counts them all at once and returns
    indicator -> unit (active units and H57) -> (numerator, denominator). The items wait in the
    connection's ind_run_items for failed_items (discard_items clears them); nothing else is written.
    """
    step = _Stopwatch(timings)
    parents = {i.derived_from for i in indicators if i.derived_from}
    with step("views"):
        if not views_ready:
            materialise_views(conn, params)
        run_items.create(conn)
        run_eligible.create(conn)
    for indicator in indicators:
        with step(indicator.code):
            stage_items(conn, indicator, params, cal, period, parents)
    with step("counts"):
        counts = item_counts(conn)
        insert_rows(conn, run_eligible, eligible_rows(indicators, units))
    return {i.code: aggregate(i, counts.get(i.code, {}), units) for i in indicators}


def discard_items(conn: Connection, indicators: list[Indicator]) -> None:
    """Drop what compute_indicators staged (the views stay), so the connection can compute another window."""
    for code in sorted({i.derived_from for i in indicators if i.derived_from}):
        conn.exec_driver_sql(f"DROP TABLE {parent_table(code)}")
    run_items.drop(conn)
    run_eligible.drop(conn)


def check_reasons(conn: Connection, cat: Catalogue) -> None:
    """Every failed item's reason code is one the catalogue words for the office; otherwise the
    run stops here, before writing, naming the indicator and the code."""
    c = run_items.c
    found = conn.execute(sa.select(c.indicator_code, c.detail).where(c.ok == 0).distinct()).all()
    unknown = sorted(f"{code}: {reason!r}" for code, reason in found if reason not in cat.reasons_of(code))
    if unknown:
        raise ValueError(f"failure reasons missing from config/indicators.yaml (`reasons`): {'; '.join(unknown)}")


def failed_items(period: Period) -> sa.Select:
    """Violations: the failed items of eligible units, as ind_violations' columns."""
    i, e = run_items.c, run_eligible.c
    return (sa.select(sa.literal(period.code, sa.Text).label("period"), i.unit_code, i.indicator_code, e.item_type,
                      i.item_id, i.detail)
            .join_from(run_items, run_eligible,
                       sa.and_(e.indicator_code == i.indicator_code, e.unit_code == i.unit_code))
            .where(i.ok == 0))


def _float(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


def unit_scores(cat: Catalogue, codes: list[str], results: dict[str, dict[str, tuple[int, int]]]
                ) -> dict[str, UnitScore]:
    """Each unit's (and H57's) group points and total from its indicator results."""
    return {
        code: score_unit(cat, {ind: per_unit[code] for ind, per_unit in results.items() if code in per_unit})
        for code in codes
    }


def score_rows(period: Period, units: list[Unit], scores: dict[str, UnitScore],
               computed_at: dt.datetime) -> list[dict]:
    """ind_unit_scores rows: active units, then H57 (tier `province`, no rank)."""
    bands = config.bands()
    everyone = [*units, Unit(PROVINCE_CODE, config.province().name_for(period.code), PROVINCE_TIER)]
    rank_of: dict[str, int] = {}
    for tier in sorted({u.tier for u in units if u.tier is not None}):
        rank_of |= ranks(
            (u.code, scores[u.code].total, scores[u.code].groups[2])
            for u in units if u.tier == tier and scores[u.code].total is not None
        )
    rows = []
    for u in everyone:
        s = scores[u.code]
        rounded = None if s.total is None else round_half_up(s.total, RANK_DECIMALS)
        rows.append({
            "period": period.code, "unit_code": u.code, "unit_name": u.name, "tier": u.tier,
            **{f"g{g}": _float(s.groups[g]) for g in range(1, 7)},
            "total": _float(s.total),
            "band": None if rounded is None else bands.band_of(float(rounded)),
            "rank": rank_of.get(u.code) if u.code != PROVINCE_CODE else None,
            "scored": s.total is not None,
            "points_earned": float(s.points_sum), "points_applicable": float(s.max_sum),
            "computed_at": computed_at,
        })
    return rows


def result_rows(period: Period, results: dict[str, dict[str, tuple[int, int]]],
                scores: dict[str, UnitScore]) -> list[dict]:
    rows = []
    for code, per_unit in results.items():
        for unit, (num, den) in per_unit.items():
            pts = scores[unit].indicator_points.get(code)
            rows.append({
                "period": period.code, "unit_code": unit, "indicator_code": code,
                "numerator": num, "denominator": den,
                "value": None if den == 0 else num / den, "points": _float(pts),
            })
    return rows


def compute_period(engine: Engine, period: str, run_started_at: dt.datetime,
                   timings: dict[str, float] | None = None) -> dict:
    """Compute every indicator of `period` ('YYYY-MM') and replace its rows in the result tables.

    Reads the staged tables as they stand (the run's cut-off is the extraction that filled
    them); returns counts only. `timings`, when given, receives the seconds each step took
    (each indicator by its code; `views`, `scores`, `write`).
    """
    p = Period(period)
    cat = load_catalogue()
    cal = load_calendar()
    ensure_tables(engine)
    with engine.begin() as conn:
        refresh_cal_days(conn, cal, p.first_day - CAL_MARGIN, p.last_day + CAL_MARGIN)
    params = period_params(p)
    step = _Stopwatch(timings)
    with run_connection(engine) as conn:
        # Read phase: one snapshot; writes go to the connection's temporary tables only.
        with conn.begin():
            units = active_units(conn, p)
            results = compute_indicators(conn, cat.indicators, params, cal, p, units, timings)
            with step("reasons"):
                check_reasons(conn, cat)
            with step("scores"):
                scores = unit_scores(cat, [*(u.code for u in units), PROVINCE_CODE], results)
                score_table = score_rows(p, units, scores, to_local_naive(run_started_at))
        # Write phase: the period's rows replaced in one short transaction, READ COMMITTED
        # like any other write, so a concurrent run of the same period waits instead of failing.
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="READ COMMITTED")
        with step("write"), conn.begin():
            lock_period(conn, p.code)
            delete_period_scores(conn, p.code)
            n_results = insert_rows(conn, ind_results, result_rows(p, results, scores))
            insert_rows(conn, ind_unit_scores, score_table)
            n_violations = replace_violations(conn, p.code, failed_items(p))
    return {
        "period": p.code,
        "units": len(units),
        "indicators": len(results),
        "results": n_results,
        "violations": n_violations,
        "scored_units": sum(1 for r in score_table if r["scored"] and r["unit_code"] != PROVINCE_CODE),
    }


class _Stopwatch:
    """Adds each step's wall time to `timings` (nothing when it is None)."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.timings is not None:
                self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
