"""Month-end forecast: month-to-date scoring with the engine's SQL, the blend, and its back-test."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from warehouse_builder import Warehouse, at, populate_sample, sqlite_engine

from tthc import config
from tthc.calendar import load_calendar
from tthc.indicators.tables import ind_results
from tthc.insights import forecast as fc
from tthc.periods import Period

MARCH = Period("2025-03")


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(sqlite_engine(tmp_path))


def test_elapsed_share_counts_whole_working_days_before_the_cut_off():
    cal = load_calendar()
    days = cal.working_days_in(MARCH.first_day, MARCH.end.date())
    done = [d for d in days if d < dt.date(2025, 3, 15)]
    assert fc.elapsed_share(cal, MARCH, at(2025, 3, 15)) == len(done) / len(days)
    assert fc.elapsed_share(cal, MARCH, MARCH.start) == 0
    assert fc.elapsed_share(cal, MARCH, MARCH.end) == 1


def test_blend_weights_the_month_so_far_and_falls_back_to_either_side():
    assert fc.blend(80.0, 60.0, 0.25) == pytest.approx(65.0)
    assert fc.blend(None, 60.0, 0.25) == 60.0 and fc.blend(80.0, None, 0.25) == 80.0
    assert fc.blend(None, None, 0.5) is None


def test_full_window_scores_equal_the_engines_stored_scores(wh):
    populate_sample(wh)
    wh.compute("2025-03")
    stored = wh.scores("2025-03")
    window = fc.score_window(wh.engine, MARCH, MARCH.end)
    assert set(window) == set(stored)
    for unit, row in stored.items():
        assert window[unit].total == pytest.approx(row["total"], abs=1e-9) if row["total"] is not None \
            else window[unit].total is None
        for g in range(1, 7):
            assert window[unit].groups[g - 1] == (None if row[f"g{g}"] is None else pytest.approx(row[f"g{g}"]))


def test_month_to_date_judges_items_as_they_stood_at_the_cut_off(wh):
    wh.unit("U1")
    wh.procedure("P1")
    # late at month end (completed 25/3 after its due date 20/3), still in time on 15/3
    wh.dossier("LATE", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 20, 17),
               completed_at=at(2025, 3, 25, 9), status=9)
    mid, end = fc.score_window(wh.engine, MARCH, at(2025, 3, 15)), fc.score_window(wh.engine, MARCH, MARCH.end)
    assert mid["U1"].groups[1] == 20.0 and end["U1"].groups[1] == 0.0
    with wh.engine.connect() as conn:  # read-only: nothing reaches the result tables
        assert conn.execute(sa.select(sa.func.count()).select_from(ind_results)).scalar_one() == 0


def plant_three_months(wh: Warehouse) -> None:
    """U1 gets steadily later; U2 is always on time."""
    wh.unit("U1")
    wh.unit("U2")
    wh.procedure("P1")
    for month, late in ((1, 0), (2, 1), (3, 2)):
        for i in range(4):
            received = at(2025, month, 3 + i, 9)
            due = received + dt.timedelta(days=10)
            done = due + dt.timedelta(days=2) if i < late else received + dt.timedelta(days=3)
            wh.dossier(f"U1-{month}-{i}", "U1", "P1", received_at=received, due_at=due, completed_at=done,
                       status=9)
            wh.dossier(f"U2-{month}-{i}", "U2", "P1", received_at=received, due_at=due,
                       completed_at=received + dt.timedelta(days=1), status=9)


def test_backtest_reports_the_error_of_each_method(wh):
    plant_three_months(wh)
    result = fc.backtest(wh.engine, ["2025-02", "2025-03"], cut_off_day=15)
    assert set(result.mae) == set(fc.METHODS) and result.units == 4  # 2 units × 2 months
    # 'previous' alone: its error is |last month's final − this month's final|, computed independently
    finals = {p: fc.score_window(wh.engine, Period(p), Period(p).end) for p in ("2025-01", "2025-02", "2025-03")}
    expected = [abs(finals[prev][u].total - finals[cur][u].total)
                for prev, cur in (("2025-01", "2025-02"), ("2025-02", "2025-03")) for u in ("U1", "U2")]
    assert result.mae["previous"] == pytest.approx(sum(expected) / 4)
    assert result.mae["previous"] > 0  # U1 really moved
    for method in fc.METHODS:
        assert result.mae[method] >= 0
        assert set(result.mae_by_period["2025-03"]) == set(fc.METHODS)


def test_weekly_forecast_rows_and_method_note(wh):
    plant_three_months(wh)
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 3, 17))
    assert [r.unit_code for r in rows] == ["U1", "U2", "H57"]
    u1 = rows[0]
    share = fc.elapsed_share(load_calendar(), MARCH, at(2025, 3, 17))
    assert u1.weight == share
    assert u1.projected == pytest.approx(share * u1.month_to_date + (1 - share) * u1.previous)
    # the shipped config: the blend, and its back-test error on generated months
    shipped = config.forecast()
    assert shipped.method == "blend"
    assert "bình quân gia quyền" in note and "ngày làm việc" in note and f"({share:.0%})" in note
    assert f"{shipped.mae:.2f}".replace(".", ",") + " điểm" in note and "dữ liệu mô phỏng" in note
    assert f"{shipped.backtest.unit_months} lượt" in note and "ngày 15" in note


def test_the_note_states_the_configured_method_and_its_own_error(wh):
    plant_three_months(wh)
    backtest = config.Backtest(data="generated", dossiers_per_year=1000, periods=["2025-02"], cut_off_day=10,
                               unit_months=12, mae={"blend": 2.0, "month_to_date": 1.234})
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 3, 17),
                                    config.Forecast(method="month_to_date", backtest=backtest))
    assert rows[0].projected == rows[0].month_to_date
    assert "bình quân gia quyền" not in note and "lấy kết quả đó làm dự báo" in note
    assert "1,23 điểm" in note and "12 lượt" in note and "2/2025" in note and "ngày 10" in note


def test_a_method_without_a_measured_error_is_refused():
    backtest = {"data": "generated", "dossiers_per_year": 1, "periods": ["2025-02"], "cut_off_day": 15,
                "unit_months": 1, "mae": {"blend": 2.5}}
    with pytest.raises(ValueError, match="no back-test error"):
        config.Forecast(method="previous", backtest=backtest)
    with pytest.raises(ValueError, match="is not one of"):
        config.Forecast(method="trend", backtest=backtest)
    with pytest.raises(ValueError, match="unknown method"):
        config.Forecast(method="blend", backtest={**backtest, "mae": {"blend": 2.5, "guess": 1.0}})
