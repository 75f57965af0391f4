"""Month-end forecast (dự báo chỉ số cuối tháng) of each unit's index, from the data so far.

Method (blend):
1. *Month to date* — the engine's own indicator SQL and finishers, run read-only over the
   window [first day of M, cut-off) as if the month ended at the cut-off: the same
   populations and success tests, with `:period_end` bound to the cut-off (a dossier still
   open then is judged by `due_at` ≥ cut-off, feedback unanswered then by its deadline, …).
   Nothing is written to the result tables.
2. *Last month* — the previous month's final scores (ind_unit_scores, or computed the same
   way when that month was never run).
3. projected = w × month-to-date + (1 − w) × last month, where w is the share of the month's
   working days already elapsed at the cut-off: early in the month last month says more,
   late in the month the month's own data does. Where one side is missing (a unit not scored
   last month, or with no dossier yet this month) the other is used alone. Group points are
   projected the same way, group by group.

`backtest` replays the method on past months of a warehouse (cut-off on a fixed day of each
month) and measures the mean absolute error of the projected total against the month's
final total, for the blend and for its two ingredients alone, so that the choice of method
is argued by numbers (bench/bench_forecast.py prints them). The method the office's mail uses
and its measured error are config (config/forecast.yaml): the mail states both.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.calendar import WorkingCalendar, load_calendar
from tthc.indicators.catalogue import PROVINCE_CODE, load_catalogue
from tthc.indicators.engine import CAL_MARGIN, active_units, compute_indicators, unit_scores
from tthc.indicators.scoring import UnitScore
from tthc.indicators.tables import ensure_tables, ind_unit_scores, refresh_cal_days, run_connection
from tthc.periods import Period
from tthc.reports.formatting import format_number

METHODS = config.FORECAST_METHODS
DEFAULT_METHOD = "blend"
GROUPS = range(1, 7)


@dataclass(frozen=True)
class Window:
    """A month cut short at `end`: what the finishers read of a Period (start, end, days, code)."""

    code: str
    start: dt.datetime
    end: dt.datetime
    first_day: dt.date
    last_day: dt.date


def _float(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Score:
    """A unit's total and group points (None where not scored / not applicable)."""

    total: float | None
    groups: tuple[float | None, ...]

    @classmethod
    def of(cls, s: UnitScore) -> Score:
        return cls(_float(s.total), tuple(_float(s.groups[g]) for g in GROUPS))


@dataclass(frozen=True)
class ProjectedScore:
    """One unit's forecast row (also the office's weekly mail row)."""

    unit_code: str
    month_to_date: float | None
    previous: float | None
    projected: float | None
    projected_groups: tuple[float | None, ...]
    weight: float  # w: the share of the month's working days elapsed


def window(period: Period, cut_off: dt.datetime) -> Window:
    """[start of M, cut-off), clipped to the month."""
    end = min(max(cut_off, period.start), period.end)
    last = (end - dt.timedelta(microseconds=1)).date() if end > period.start else period.first_day
    return Window(period.code, period.start, end, period.first_day, last)


def score_window(engine: Engine, period: Period, cut_off: dt.datetime) -> dict[str, Score]:
    """Every active unit's (and H57's) score over [start of M, cut-off), read-only, with the engine's SQL."""
    cat, cal = load_catalogue(), load_calendar()
    w = window(period, cut_off)
    ensure_tables(engine)
    with engine.begin() as conn:
        refresh_cal_days(conn, cal, period.first_day - CAL_MARGIN, period.last_day + CAL_MARGIN)
    params = {"period_start": w.start, "period_end": w.end, "first_day": w.first_day, "last_day": w.last_day}
    # only the index is scored: duties are staged just when an index indicator derives from one
    wanted = [i for i in cat.indicators if i.family == "index"]
    parents = {i.derived_from for i in wanted if i.derived_from}
    wanted = [i for i in cat.indicators if i in wanted or i.code in parents]
    # the engine's read phase (compute_period's), on its own connection; nothing is written
    with run_connection(engine) as conn, conn.begin():
        units = active_units(conn, period)
        results = compute_indicators(conn, wanted, params, cal, w, units)
    scores = unit_scores(cat, [*(u.code for u in units), PROVINCE_CODE], results)
    return {code: Score.of(s) for code, s in scores.items()}


def stored_scores(engine: Engine, period: str) -> dict[str, Score]:
    """A month's final scores as the monthly run stored them (empty when it never ran)."""
    ensure_tables(engine)
    s = ind_unit_scores.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ind_unit_scores).where(s.period == period)).mappings().all()
    return {r["unit_code"]: Score(r["total"], tuple(r[f"g{g}"] for g in GROUPS)) for r in rows}


def elapsed_share(cal: WorkingCalendar, period: Period, cut_off: dt.datetime) -> float:
    """The share of M's working days before the cut-off's date (whole days: runs are at 00:00)."""
    days = cal.working_days_in(period.first_day, period.last_day + dt.timedelta(days=1))
    if not days:
        return 1.0
    done = sum(1 for d in days if dt.datetime.combine(d + dt.timedelta(days=1), dt.time()) <= cut_off)
    return done / len(days)


def blend(mtd: float | None, previous: float | None, weight: float) -> float | None:
    """w × month-to-date + (1 − w) × last month; either alone when the other is missing."""
    if mtd is None:
        return previous
    if previous is None:
        return mtd
    return float(Fraction(weight) * Fraction(mtd) + (1 - Fraction(weight)) * Fraction(previous))


def project(mtd: dict[str, Score], previous: dict[str, Score], weight: float,
            method: str = DEFAULT_METHOD) -> list[ProjectedScore]:
    """Each unit's projected total and group points (unit code order, H57 last)."""
    if method not in METHODS:
        raise ValueError(f"unknown forecast method {method!r}; one of {', '.join(METHODS)}")
    w = {"blend": weight, "month_to_date": 1.0, "previous": 0.0}[method]
    none = Score(None, (None,) * 6)
    rows = []
    for code in sorted(mtd, key=lambda c: (c == PROVINCE_CODE, c)):
        now, before = mtd[code], previous.get(code, none)
        rows.append(ProjectedScore(
            code, now.total, before.total,
            blend(now.total, before.total, w) if method == "blend" else (now.total if w else before.total),
            tuple(blend(a, b, w) if method == "blend" else (a if w else b)
                  for a, b in zip(now.groups, before.groups, strict=True)),
            weight))
    return rows


def forecast_month(engine: Engine, cut_off: dt.datetime, method: str = DEFAULT_METHOD,
                   cal: WorkingCalendar | None = None) -> list[ProjectedScore]:
    """The month containing the day before the cut-off (the nightly run's day), projected to its end."""
    cal = cal or load_calendar()
    period = Period.of((cut_off - dt.timedelta(microseconds=1)).date())
    previous = stored_scores(engine, period.previous().code)
    if not previous:
        previous = score_window(engine, period.previous(), period.previous().end)
    mtd = score_window(engine, period, cut_off)
    return project(mtd, previous, elapsed_share(cal, period, cut_off), method)


METHOD_NOTES = {
    "blend": ("Phương pháp: tính các chỉ tiêu trên dữ liệu từ đầu tháng đến nay (cùng công thức của hệ thống), "
              "rồi lấy bình quân gia quyền với điểm tháng trước, trọng số là tỷ lệ số ngày làm việc đã qua "
              "của tháng ({share:.0%})."),
    "month_to_date": ("Phương pháp: tính các chỉ tiêu trên dữ liệu từ đầu tháng đến nay (cùng công thức của "
                      "hệ thống) và lấy kết quả đó làm dự báo cuối tháng."),
    "previous": "Phương pháp: lấy điểm của tháng trước làm dự báo cuối tháng.",
}
ERROR_NOTE = (" Sai số tuyệt đối trung bình của phương pháp này khi kiểm tra lại trên {data} (các tháng {periods}; "
              "{unit_months} lượt đơn vị – tháng; dự báo vào ngày {day} của tháng): {mae} điểm (thang 100).")
DATA_TITLES = {"generated": "dữ liệu mô phỏng", "real": "số liệu các tháng trước"}


def method_note(settings: config.Forecast, share: float) -> str:
    """The mail's statement of the method and of its back-test error (config/forecast.yaml)."""
    bt = settings.backtest
    periods = ", ".join(f"{int(p[5:])}/{p[:4]}" for p in bt.periods)
    return METHOD_NOTES[settings.method].format(share=share) + ERROR_NOTE.format(
        data=DATA_TITLES.get(bt.data, bt.data), unit_months=bt.unit_months, periods=periods,
        day=bt.cut_off_day, mae=format_number(settings.mae))


def weekly_forecast(engine: Engine, cut_off: dt.datetime, settings: config.Forecast | None = None
                    ) -> tuple[list[ProjectedScore], str]:
    """Rows and the method note of the office's weekly mail (tthc.insights.early_warning)."""
    settings = settings or config.forecast()
    rows = forecast_month(engine, cut_off, settings.method)
    share = rows[0].weight if rows else 0.0
    scored = [r for r in rows if r.projected is not None]
    return scored, method_note(settings, share)


# --- back-test -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BacktestResult:
    """Mean absolute error of the projected total against the final total, per method."""

    cut_off_day: int
    periods: tuple[str, ...]
    units: int  # (unit, month) pairs compared: scored both in the projection and at month end
    mae: dict[str, float]
    mae_by_period: dict[str, dict[str, float]]


def backtest(engine: Engine, periods: list[str], cut_off_day: int = 15) -> BacktestResult:
    """Replay the forecast at 00:00 on `cut_off_day` of each period; compare with the month's final score.

    Units of H57 are left out (it is not a unit's forecast). Final scores are computed with
    the same read-only scoring over the whole month, so the comparison never depends on
    which months the monthly DAG happened to run.
    """
    cal = load_calendar()
    finals: dict[str, dict[str, Score]] = {}

    def final(p: Period) -> dict[str, Score]:
        if p.code not in finals:
            finals[p.code] = score_window(engine, p, p.end)
        return finals[p.code]

    errors: dict[str, dict[str, list[float]]] = {m: {} for m in METHODS}
    for code in periods:
        p = Period(code)
        cut_off = dt.datetime.combine(p.first_day.replace(day=cut_off_day), dt.time())
        mtd, previous, actual = score_window(engine, p, cut_off), final(p.previous()), final(p)
        share = elapsed_share(cal, p, cut_off)
        for method in METHODS:
            errs = errors[method].setdefault(code, [])
            for row in project(mtd, previous, share, method):
                truth = actual.get(row.unit_code)
                if row.unit_code == PROVINCE_CODE or row.projected is None or truth is None or truth.total is None:
                    continue
                errs.append(abs(row.projected - truth.total))
    by_period = {m: {p: statistics.fmean(e) for p, e in per.items() if e} for m, per in errors.items()}
    overall = {m: statistics.fmean([x for e in per.values() for x in e]) for m, per in errors.items()
               if any(per.values())}
    units = sum(len(e) for e in errors[DEFAULT_METHOD].values())
    return BacktestResult(cut_off_day, tuple(periods), units, overall,
                          {p: {m: by_period[m].get(p) for m in METHODS} for p in periods})
