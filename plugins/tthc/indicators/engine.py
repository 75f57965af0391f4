"""Compute one monthly period (kỳ báo cáo): every indicator, duty, unit score and violation.

Each indicator's SQL (include/sql/indicators/<code>.sql) yields one row per item of its
population — `unit_code, item_id, ok, detail` — so a unit's numerator and denominator and
its list of failed items come from the same rows and always agree. A few tests that need
calendar arithmetic SQL cannot express portably are finished in Python (`finishers`).
"""

from __future__ import annotations

import datetime as dt
import re
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
    delete_period,
    ensure_tables,
    ind_results,
    ind_unit_scores,
    ind_violations,
    refresh_cal_days,
)
from tthc.periods import Period, to_local_naive
from tthc.warehouse.db import insert_rows
from tthc.warehouse.schema import stg_units

# Margin of cal_days around the period: every day-based deadline that can fall in the
# month is anchored within a few weeks of it (5 working days across Tết at most).
CAL_MARGIN = dt.timedelta(days=120)
ITEM_COLUMNS = ["unit_code", "item_id", "ok", "detail"]


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


def _bound(sql: str, params: dict) -> tuple[sa.TextClause, dict]:
    """text() with the parameters it names; datetimes bound as DateTime (SQLite's stored format)."""
    names = set(re.findall(r"(?<!:):([a-z_]+)", sql))
    used = {k: v for k, v in params.items() if k in names}
    binds = [
        sa.bindparam(k, type_=sa.DateTime() if isinstance(v, dt.datetime) else sa.Date())
        for k, v in used.items() if isinstance(v, dt.date)
    ]
    return sa.text(sql).bindparams(*binds), used


def read_items(conn: Connection, indicator: Indicator, params: dict, cal: WorkingCalendar,
               period: Period) -> pd.DataFrame:
    """The items of one indicator: unit_code, item_id, ok (0/1), detail."""
    stmt, used = _bound(indicator.sql_path.read_text(encoding="utf-8"), params)
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


def derive(indicator: Indicator, parent_items: pd.DataFrame) -> pd.DataFrame:
    """A derived duty's items from its parent's (see derived.py)."""
    parent, restrict = DERIVED[indicator.code]
    if parent != indicator.derived_from:
        raise ValueError(f"{indicator.code}: the catalogue derives it from {indicator.derived_from}, "
                         f"derived.py from {parent}")
    return restrict(parent_items)


def active_units(conn: Connection, period: Period) -> list[Unit]:
    """Units active in M: valid_from ≤ last day and (valid_to null or ≥ first day)."""
    u = stg_units.c
    rows = conn.execute(
        sa.select(u.unit_code, u.name, u.tier)
        .where(u.valid_from <= period.last_day, sa.or_(u.valid_to.is_(None), u.valid_to >= period.first_day))
        .order_by(u.unit_code)
    )
    return [Unit(*row) for row in rows]


def _counts(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    grouped = frame.groupby("unit_code", dropna=True)["ok"].agg(["sum", "size"])
    return {code: (int(s), int(n)) for code, s, n in grouped.itertuples()}


def aggregate(indicator: Indicator, items: pd.DataFrame, units: list[Unit]) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) for each active unit whose tier has the indicator, and for H57."""
    own_h57 = indicator.province_population == "own_rows"
    unit_items = items[items["unit_code"] != PROVINCE_CODE] if own_h57 else items
    per_unit = _counts(unit_items)
    out = {u.code: per_unit.get(u.code, (0, 0)) for u in units if indicator.applies_to_tier(u.tier)}
    province = items[items["unit_code"] == PROVINCE_CODE] if own_h57 else items
    out[PROVINCE_CODE] = (int(province["ok"].sum()), len(province))
    return out


def failed_items(period: Period, indicator: Indicator, items: pd.DataFrame, units: list[Unit]) -> list[dict]:
    """Violations: failed items of active units whose tier has the indicator."""
    eligible = {u.code for u in units if indicator.applies_to_tier(u.tier)}
    failed = items[(items["ok"] == 0) & items["unit_code"].isin(eligible)]
    return [
        {"period": period.code, "unit_code": unit, "indicator_code": indicator.code,
         "item_type": indicator.item_type, "item_id": str(item_id), "detail": detail}
        for unit, item_id, detail in failed[["unit_code", "item_id", "detail"]].itertuples(index=False)
    ]


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


def compute_period(engine: Engine, period: str, run_started_at: dt.datetime) -> dict:
    """Compute every indicator of `period` ('YYYY-MM') and replace its rows in the result tables.

    Reads the staged tables as they stand (the run's cut-off is the extraction that filled
    them); returns counts only.
    """
    p = Period(period)
    cat = load_catalogue()
    cal = load_calendar()
    ensure_tables(engine)
    with engine.begin() as conn:
        refresh_cal_days(conn, cal, p.first_day - CAL_MARGIN, p.last_day + CAL_MARGIN)
    params = period_params(p)
    results: dict[str, dict[str, tuple[int, int]]] = {}
    violations: list[dict] = []
    parents = {i.derived_from for i in cat.indicators if i.derived_from}
    kept: dict[str, pd.DataFrame] = {}  # items of the indicators some duty derives from
    with _snapshot(engine) as conn:
        units = active_units(conn, p)
        for indicator in cat.indicators:
            if indicator.derived_from:
                items = derive(indicator, kept[indicator.derived_from])
            else:
                items = read_items(conn, indicator, params, cal, p)
                if indicator.code in parents:
                    kept[indicator.code] = items
            results[indicator.code] = aggregate(indicator, items, units)
            violations.extend(failed_items(p, indicator, items, units))
    scores = unit_scores(cat, [*(u.code for u in units), PROVINCE_CODE], results)
    score_table = score_rows(p, units, scores, to_local_naive(run_started_at))
    with engine.begin() as conn:
        delete_period(conn, p.code)
        n_results = insert_rows(conn, ind_results, result_rows(p, results, scores))
        insert_rows(conn, ind_unit_scores, score_table)
        n_violations = insert_rows(conn, ind_violations, violations)
    return {
        "period": p.code,
        "units": len(units),
        "indicators": len(results),
        "results": n_results,
        "violations": n_violations,
        "scored_units": sum(1 for r in score_table if r["scored"] and r["unit_code"] != PROVINCE_CODE),
    }


def _snapshot(engine: Engine):
    """One read snapshot for all the period's queries on PostgreSQL (SQLite reads one file)."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="REPEATABLE READ")
    return engine.connect()
