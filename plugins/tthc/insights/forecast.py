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
final total, for the blend and for its two ingredients alone. Every monthly run replays them on
the warehouse's own last closed months (`backtest_closed_months`, config/forecast.yaml says how
many and on which days) and stores the errors; the office's weekly mail forecasts with the method
that erred least there and states that error with its basis (`weekly_forecast`). With too few
closed months it says the error cannot be stated yet and uses the configured default method.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.calendar import WorkingCalendar, load_calendar
from tthc.indicators.catalogue import PROVINCE_CODE, load_catalogue
from tthc.indicators.engine import CAL_MARGIN, active_units, compute_indicators, discard_items, unit_scores
from tthc.indicators.scoring import UnitScore
from tthc.indicators.tables import ensure_tables, ind_unit_scores, materialise_views, refresh_cal_days, run_connection
from tthc.periods import Period
from tthc.reports.formatting import format_number
from tthc.warehouse import schema as wh

METHODS = config.FORECAST_METHODS  # simplest first
DEFAULT_METHOD = "blend"
TIER_ORDER = ("department", "district", "commune")  # the ranked lists' order (reports.model)
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


def score_windows(engine: Engine, windows: Sequence[tuple[Period, dt.datetime]]) -> list[dict[str, Score]]:
    """score_window of each (period, cut-off), read-only, on one connection that materialises the
    views once for them all: the scope of their span, from the earliest start to the latest end,
    holds every window's populations (run/period_scope.sql), and a wider scope changes no number.
    Materialising the views is most of a window's cost; a month's cut-off days share it."""
    if not windows:
        return []
    cat, cal = load_catalogue(), load_calendar()
    cut = [window(period, cut_off) for period, cut_off in windows]
    ensure_tables(engine)
    with engine.begin() as conn:
        refresh_cal_days(conn, cal, min(p.first_day for p, _ in windows) - CAL_MARGIN,
                         max(p.last_day for p, _ in windows) + CAL_MARGIN)
    # only the index is scored: duties are staged just when an index indicator derives from one
    wanted = [i for i in cat.indicators if i.family == "index"]
    parents = {i.derived_from for i in wanted if i.derived_from}
    wanted = [i for i in cat.indicators if i in wanted or i.code in parents]
    out = []
    # the engine's read phase (compute_period's), on its own connection; nothing is written
    with run_connection(engine) as conn, conn.begin():
        materialise_views(conn, {"period_start": min(w.start for w in cut), "period_end": max(w.end for w in cut)})
        for (period, _), w in zip(windows, cut, strict=True):
            params = {"period_start": w.start, "period_end": w.end, "first_day": w.first_day, "last_day": w.last_day}
            units = active_units(conn, period)
            results = compute_indicators(conn, wanted, params, cal, w, units, views_ready=True)
            discard_items(conn, wanted)
            scores = unit_scores(cat, [*(u.code for u in units), PROVINCE_CODE], results)
            out.append({code: Score.of(s) for code, s in scores.items()})
    return out


def score_window(engine: Engine, period: Period, cut_off: dt.datetime) -> dict[str, Score]:
    """Every active unit's (and H57's) score over [start of M, cut-off), read-only, with the engine's SQL."""
    return score_windows(engine, [(period, cut_off)])[0]


def stored_finals(engine: Engine, periods: Iterable[str]) -> dict[str, dict[str, Score]]:
    """The final scores the monthly runs stored, by month, in one read; a month never run is absent."""
    ensure_tables(engine)
    s = ind_unit_scores.c
    out: dict[str, dict[str, Score]] = defaultdict(dict)
    with engine.connect() as conn:
        for r in conn.execute(sa.select(ind_unit_scores).where(s.period.in_(sorted(set(periods))))).mappings():
            out[r["period"]][r["unit_code"]] = Score(r["total"], tuple(r[f"g{g}"] for g in GROUPS))
    return dict(out)


def stored_scores(engine: Engine, period: str) -> dict[str, Score]:
    """A month's final scores as the monthly run stored them (empty when it never ran)."""
    return stored_finals(engine, [period]).get(period, {})


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
ERROR_NOTE = (" Phương pháp được chọn vì có sai số nhỏ nhất khi dự báo lại trên {n} tháng gần nhất của tỉnh "
              "({periods}; {unit_months} lượt đơn vị – tháng; dự báo vào ngày {day} của tháng): sai số tuyệt "
              "đối trung bình {mae} điểm (thang 100).")
NO_ERROR_NOTE = (" Chưa thể nêu sai số của dự báo: cần ít nhất {need} tháng đã khóa số liệu của tỉnh để kiểm tra "
                 "lại, hiện mới có {have} tháng.")
NO_DOSSIERS_NOTE = "Từ đầu tháng đến nay chưa có hồ sơ nào; dự báo chưa có cơ sở tính."


@dataclass(frozen=True)
class Accuracy:
    """The stored back-test a weekly mail relies on (forecast_backtests)."""

    cut_off_day: int
    months: tuple[str, ...]
    unit_months: int
    mae: dict[str, float]

    @property
    def method(self) -> str:
        """The method that erred least; ties go to the simpler (FORECAST_METHODS' order)."""
        return min(self.mae, key=lambda m: (round(self.mae[m], 9), METHODS.index(m)))


@dataclass(frozen=True)
class ForecastRow:
    """One row of the office's weekly table: a unit by name; no figures while it has no dossier."""

    unit_code: str
    unit_name: str
    has_dossiers: bool
    month_to_date: float | None
    previous: float | None
    projected: float | None


def closed_months(engine: Engine, period: str) -> list[str]:
    """The months up to `period` whose final scores the monthly run stored, oldest first."""
    ensure_tables(engine)
    s = ind_unit_scores.c
    with engine.connect() as conn:
        return list(conn.execute(sa.select(s.period).distinct().where(s.period <= period).order_by(s.period))
                    .scalars())


def backtest_closed_months(engine: Engine, period: str, computed_at: dt.datetime,
                           settings: config.Forecast | None = None) -> dict:
    """The monthly run's back-test: every method, on the last N closed months up to `period`, at each
    configured day; stored in forecast_backtests (a rerun replaces the period's rows).

    Each month is replayed once: its errors are kept in forecast_backtest_months and the later
    runs reuse them, so the back-test measures every month as it stood when it was first replayed
    (normally by its own monthly run, which always replays it afresh). To replay them all again,
    delete that table's rows."""
    settings = settings or config.forecast()
    months = closed_months(engine, period)[-settings.backtest_months:]
    rows = []
    wh.create_all(engine)
    if len(months) >= settings.min_backtest_months:
        kept = kept_month_errors(engine, [m for m in months if m != period])
        scores = replay_scores(engine, [(m, day) for day in settings.cut_off_days for m in months
                                        if (m, day) not in kept])
        replayed = []
        for day in settings.cut_off_days:
            result = backtest(engine, months, cut_off_day=day, scores=scores,
                              known={m: errs for (m, d), errs in kept.items() if d == day})
            rows += [{"period": period, "cut_off_day": day, "method": m, "mae": result.mae.get(m),
                      "unit_months": result.units, "months": ",".join(months), "computed_at": computed_at}
                     for m in METHODS]
            replayed += [{"month": month, "cut_off_day": day, "method": m, "error_sum": e.total,
                          "unit_months": e.count, "computed_at": computed_at}
                         for month, errs in result.errors.items() if (month, day) not in kept
                         for m, e in errs.items()]
        store_month_errors(engine, replayed)
    t = wh.forecast_backtests
    with engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.period == period))
        if rows:
            conn.execute(sa.insert(t), rows)
    return {"months": months, "stored": bool(rows),
            "mae": {f"{r['method']}@{r['cut_off_day']}": r["mae"] for r in rows}}


def kept_month_errors(engine: Engine, months: list[str]) -> dict[tuple[str, int], dict[str, MonthError]]:
    """The stored errors of `months`, by (month, cut-off day); a day missing a method is not kept."""
    t = wh.forecast_backtest_months.c
    with engine.connect() as conn:
        found = conn.execute(sa.select(wh.forecast_backtest_months).where(t.month.in_(months))).mappings().all()
    kept: dict[tuple[str, int], dict[str, MonthError]] = {}
    for r in found:
        kept.setdefault((r["month"], r["cut_off_day"]), {})[r["method"]] = MonthError(r["error_sum"], r["unit_months"])
    return {key: errs for key, errs in kept.items() if set(errs) == set(METHODS)}


def store_month_errors(engine: Engine, rows: list[dict]) -> None:
    t = wh.forecast_backtest_months
    with engine.begin() as conn:
        for month, day in {(r["month"], r["cut_off_day"]) for r in rows}:
            conn.execute(sa.delete(t).where(t.c.month == month, t.c.cut_off_day == day))
        if rows:
            conn.execute(sa.insert(t), rows)


def stored_accuracy(engine: Engine, cut_off: dt.datetime) -> Accuracy | None:
    """The latest stored back-test before the cut-off's month, at the day nearest the cut-off's."""
    wh.create_all(engine)
    t = wh.forecast_backtests.c
    month = Period.of((cut_off - dt.timedelta(microseconds=1)).date()).code
    with engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(t.period)).where(t.period < month)).scalar_one_or_none()
        if latest is None:
            return None
        rows = conn.execute(sa.select(wh.forecast_backtests).where(t.period == latest)).mappings().all()
    day = min({r["cut_off_day"] for r in rows}, key=lambda d: (abs(d - cut_off.day), d))
    chosen = [r for r in rows if r["cut_off_day"] == day and r["mae"] is not None]
    if not chosen:
        return None
    return Accuracy(day, tuple(chosen[0]["months"].split(",")), chosen[0]["unit_months"],
                    {r["method"]: r["mae"] for r in chosen})


def _month_label(code: str) -> str:
    return f"{int(code[5:])}/{code[:4]}"


def method_note(method: str, share: float, accuracy: Accuracy | None, settings: config.Forecast,
                closed: int) -> str:
    """The mail's statement of the method and of its error on the province's own months
    (None: not measured on enough months; `closed`: how many closed months the warehouse holds)."""
    note = METHOD_NOTES[method].format(share=share)
    if accuracy is None:
        return note + NO_ERROR_NOTE.format(need=settings.min_backtest_months, have=closed)
    return note + ERROR_NOTE.format(n=len(accuracy.months), periods=", ".join(map(_month_label, accuracy.months)),
                                    unit_months=accuracy.unit_months, day=accuracy.cut_off_day,
                                    mae=format_number(accuracy.mae[method]))


def units_as_ranked(engine: Engine, period: Period) -> dict[str, tuple[int, str]]:
    """Unit code → (position, Vietnamese name), in the ranked lists' order: tier, then last month's
    rank (unranked units after, by code); H57 last."""
    ensure_tables(engine)
    u, s = wh.stg_units.c, ind_unit_scores.c
    previous = period.previous().code
    with engine.connect() as conn:
        units = conn.execute(sa.select(u.unit_code, u.name, u.tier)).all()
        ranks = dict(conn.execute(sa.select(s.unit_code, s.rank).where(s.period == previous)).all())

    def key(unit) -> tuple:
        tier = TIER_ORDER.index(unit.tier) if unit.tier in TIER_ORDER else len(TIER_ORDER)
        rank = ranks.get(unit.unit_code)
        return (tier, rank is None, rank or 0, unit.unit_code)
    order = {x.unit_code: (i, x.name or x.unit_code) for i, x in enumerate(sorted(units, key=key))}
    order[PROVINCE_CODE] = (len(order), config.province().name_for(period.code))
    return order


def units_with_dossiers(engine: Engine, period: Period, cut_off: dt.datetime) -> set[str]:
    """Units with a dossier submitted between the month's start and the cut-off."""
    d = wh.stg_dossiers.c
    with engine.connect() as conn:
        return set(conn.execute(sa.select(d.unit_code).distinct().where(
            d.submitted_at >= period.start, d.submitted_at < cut_off)).scalars())


def weekly_forecast(engine: Engine, cut_off: dt.datetime, settings: config.Forecast | None = None
                    ) -> tuple[list[ForecastRow], str]:
    """Rows and the note of the office's weekly mail (tthc.insights.early_warning): the method that
    erred least on the province's own closed months (or the default while there are too few)."""
    settings = settings or config.forecast()
    accuracy = stored_accuracy(engine, cut_off)
    if accuracy is not None and len(accuracy.months) < settings.min_backtest_months:
        accuracy = None  # measured on too few months to be stated
    method = accuracy.method if accuracy else settings.default_method
    period = Period.of((cut_off - dt.timedelta(microseconds=1)).date())
    projected = forecast_month(engine, cut_off, method)
    share = projected[0].weight if projected else 0.0
    order, active = units_as_ranked(engine, period), units_with_dossiers(engine, period, cut_off)
    active |= {PROVINCE_CODE} if active else set()
    rows = [ForecastRow(r.unit_code, order.get(r.unit_code, (0, r.unit_code))[1], r.unit_code in active,
                        r.month_to_date, r.previous, r.projected)
            for r in projected]
    rows.sort(key=lambda r: (order.get(r.unit_code, (len(order), ""))[0], r.unit_code))
    closed = len(closed_months(engine, period.previous().code))
    note = method_note(method, share, accuracy, settings, closed)
    if not active:
        note = NO_DOSSIERS_NOTE + " " + note
    return rows, note


# --- back-test -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BacktestResult:
    """Mean absolute error of the projected total against the final total, per method."""

    cut_off_day: int
    periods: tuple[str, ...]
    units: int  # (unit, month) pairs compared: scored both in the projection and at month end
    mae: dict[str, float]
    mae_by_period: dict[str, dict[str, float]]
    errors: dict[str, dict[str, MonthError]]  # period -> method -> its errors


@dataclass(frozen=True)
class MonthError:
    """One method's absolute errors on one month at one cut-off day: their sum and how many."""

    total: float
    count: int

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


def cut_off_on(period: Period, day: int) -> dt.datetime:
    """00:00 on `day` of the period: when a back-test replays the forecast."""
    return dt.datetime.combine(period.first_day.replace(day=day), dt.time())


Windows = dict[tuple[str, dt.datetime], dict[str, Score]]  # (period, cut-off) -> its scores


def replay_scores(engine: Engine, replays: Iterable[tuple[str, int]]) -> Windows:
    """The scores replaying each (month, cut-off day) needs: the month at the cut-off, and the
    finals of the month and of the month before. A final is what that month's monthly run stored
    (the scores the office was sent, and the weekly forecast's "last month"), or, for a month
    never run, the same scoring over the whole month. Each month's windows are scored on one
    materialisation of the views (score_windows)."""
    out: Windows = {}
    cuts: dict[Period, set[dt.datetime]] = defaultdict(set)
    finals: set[Period] = set()
    for code, day in replays:
        p = Period(code)
        cuts[p].add(cut_off_on(p, day))
        finals |= {p, p.previous()}
    stored = stored_finals(engine, (p.code for p in finals))
    for p in finals:
        if p.code in stored:
            out[(p.code, p.end)] = stored[p.code]
        else:
            cuts[p].add(p.end)
    for p in sorted(cuts):
        ends = sorted(cuts[p])
        out |= {(p.code, end): scores
                for end, scores in zip(ends, score_windows(engine, [(p, end) for end in ends]), strict=True)}
    return out


def backtest(engine: Engine, periods: list[str], cut_off_day: int = 15,
             known: dict[str, dict[str, MonthError]] | None = None, scores: Windows | None = None
             ) -> BacktestResult:
    """Replay the forecast at 00:00 on `cut_off_day` of each period; compare with the month's final score.

    Units of H57 are left out (it is not a unit's forecast). A month's final, the month's own
    (what the forecast is measured against) and the month before's (the forecast's "last
    month"), is what its monthly run stored, or the same scoring over the whole month for a
    month never run (replay_scores). `known`: periods whose errors the caller
    already has (kept from an earlier run), not replayed. `scores`: the windows' scores when
    the caller has them (replay_scores, for several cut-off days at once).
    """
    cal = load_calendar()
    known = known or {}
    if scores is None:
        scores = replay_scores(engine, [(code, cut_off_day) for code in periods if code not in known])

    def replayed(p: Period) -> dict[str, MonthError]:
        cut_off = cut_off_on(p, cut_off_day)
        mtd, previous = scores[(p.code, cut_off)], scores[(p.previous().code, p.previous().end)]
        actual = scores[(p.code, p.end)]
        share = elapsed_share(cal, p, cut_off)
        errors = {}
        for method in METHODS:
            errs = [abs(row.projected - actual[row.unit_code].total) for row in project(mtd, previous, share, method)
                    if row.unit_code != PROVINCE_CODE and row.projected is not None
                    and actual.get(row.unit_code) is not None and actual[row.unit_code].total is not None]
            errors[method] = MonthError(math.fsum(errs), len(errs))
        return errors

    errors = {code: known[code] if code in known else replayed(Period(code)) for code in periods}
    overall = {}
    for m in METHODS:
        count = sum(errors[p][m].count for p in periods)
        if count:
            overall[m] = math.fsum(errors[p][m].total for p in periods) / count
    units = sum(errors[p][DEFAULT_METHOD].count for p in periods)
    return BacktestResult(cut_off_day, tuple(periods), units, overall,
                          {p: {m: errors[p][m].mean for m in METHODS} for p in periods}, errors)
