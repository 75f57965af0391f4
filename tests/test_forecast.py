"""Month-end forecast: month-to-date scoring with the engine's SQL, the blend, and its back-test."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from warehouse_builder import Warehouse, at, populate_sample, sqlite_engine

from tthc import config
from tthc.calendar import load_calendar
from tthc.indicators.tables import ind_results
from tthc.insights import early_warning as ew
from tthc.insights import forecast as fc
from tthc.orchestration.connections import SmtpEndpoint
from tthc.periods import Period
from tthc.warehouse import schema

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
    assert fc.stored_scores(wh.engine, "2025-03") == window  # exactly: the back-test uses either
    assert set(window) == set(stored)
    for unit, row in stored.items():
        assert window[unit].total == pytest.approx(row["total"], abs=1e-9) if row["total"] is not None \
            else window[unit].total is None
        for g in range(1, 7):
            assert window[unit].groups[g - 1] == (None if row[f"g{g}"] is None else pytest.approx(row[f"g{g}"]))


def test_windows_scored_on_one_materialisation_equal_each_scored_alone(wh):
    """score_windows reads every window through the scope of their span, wider than each one's."""
    populate_sample(wh)
    windows = [(MARCH, fc.cut_off_on(MARCH, day)) for day in (8, 15, 22)] + [
        (MARCH, MARCH.end), (MARCH.previous(), MARCH.previous().end), (MARCH.next(), fc.cut_off_on(MARCH.next(), 8))]
    together = fc.score_windows(wh.engine, windows)
    assert together == [fc.score_window(wh.engine, p, cut_off) for p, cut_off in windows]
    assert len({tuple(sorted(s.items())) for s in together}) > 2  # the windows really differ


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


def test_a_months_final_is_the_one_its_monthly_run_stored_and_a_month_never_run_is_scored(wh):
    """The back-test measures against the scores the office was sent, and replays "last month" as
    the weekly forecast takes it, even when late data has moved that month since its run."""
    plant_three_months(wh)
    february = MARCH.previous()
    wh.compute(february.code)
    sent = fc.stored_scores(wh.engine, february.code)
    with wh.engine.begin() as conn:  # late data: U2's February dossiers turn out to have finished late
        conn.execute(sa.update(schema.stg_dossiers).where(schema.stg_dossiers.c.dossier_code.like("U2-2-%"))
                     .values(completed_at=at(2025, 2, 27, 9)))
    assert fc.score_window(wh.engine, february, february.end)["U2"] != sent["U2"]  # the data really moved
    scores = fc.replay_scores(wh.engine, [(MARCH.code, 15)])
    assert scores[(february.code, february.end)] == sent
    assert scores[(MARCH.code, MARCH.end)] == fc.score_window(wh.engine, MARCH, MARCH.end)  # March never ran
    assert set(scores) == {(MARCH.code, fc.cut_off_on(MARCH, 15)), (MARCH.code, MARCH.end),
                           (february.code, february.end)}


def test_weekly_forecast_rows_and_method_note(wh):
    plant_three_months(wh)
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 3, 17))
    assert [(r.unit_code, r.unit_name) for r in rows] == [("U1", "Đơn vị U1"), ("U2", "Đơn vị U2"),
                                                          ("H57", "Thành phố Huế")]
    u1 = rows[0]
    share = fc.elapsed_share(load_calendar(), MARCH, at(2025, 3, 17))
    assert u1.has_dossiers
    assert u1.projected == pytest.approx(share * u1.month_to_date + (1 - share) * u1.previous)
    # no month closed by a monthly run yet: the default method, and no error stated
    assert config.forecast().default_method == "blend"
    assert "bình quân gia quyền" in note and "ngày làm việc" in note and f"({share:.0%})" in note
    assert "Chưa thể nêu sai số" in note and "hiện mới có 0 tháng" in note and "điểm (thang 100)" not in note


def plant_changing_months(wh: Warehouse, months: list[int]) -> None:
    """U1 alternates: every dossier late one month, every one on time the next; all of a month's
    dossiers are received on its 2nd–5th and finished before the 8th, so by the 8th the month's own
    data already says how it ends, and last month says the opposite. U2 is always on time."""
    wh.unit("U1")
    wh.unit("U2")
    wh.procedure("P1")
    for n, month in enumerate(months):
        for i in range(4):
            received = at(2025, month, 2 + i, 9)
            due = received + dt.timedelta(days=1)
            late = n % 2 == 0
            done = due + dt.timedelta(hours=5) if late else received + dt.timedelta(hours=3)
            wh.dossier(f"U1-{month}-{i}", "U1", "P1", received_at=received, due_at=due, completed_at=done, status=9)
            wh.dossier(f"U2-{month}-{i}", "U2", "P1", received_at=received, due_at=due,
                       completed_at=received + dt.timedelta(hours=1), status=9)


def office_mail(wh: Warehouse, smtp_server, cut_off: dt.datetime) -> str:
    """The office's weekly summary as the SMTP server received it (a fresh ledger each time)."""
    host, port, inbox = smtp_server
    ew.ensure_ledger(wh.engine)
    with wh.engine.begin() as conn:
        conn.execute(sa.delete(ew.early_warning_ledger))
    rec = config.Recipients(office_to=["vanphong@hue.example.vn"], sender="tthc@hue.example.vn",
                            data_engineers=["de@hue.example.vn"], units={}, send_to_units=False)
    ew.send_warnings(wh.engine, cut_off, SmtpEndpoint(host, port, None, None, False), rec,
                     ew.WarningRules(office_weekday=0))
    return inbox.messages[-1].get_content()


def test_the_monthly_run_measures_each_method_on_the_provinces_own_months_and_the_best_is_used(wh, smtp_server):
    plant_changing_months(wh, list(range(1, 9)))
    for month in range(1, 8):
        wh.compute(f"2025-{month:02d}")  # the monthly runs of January to July
    settings = config.forecast()
    out = fc.backtest_closed_months(wh.engine, "2025-07", at(2025, 8, 1), settings)
    assert out["months"] == ["2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07"]
    accuracy = fc.stored_accuracy(wh.engine, at(2025, 8, 11))  # Monday 11 August: nearest day 8
    assert accuracy.cut_off_day == 8 and len(accuracy.months) == 6 and accuracy.unit_months == 12
    assert accuracy.mae["month_to_date"] < accuracy.mae["blend"] < accuracy.mae["previous"]
    assert accuracy.method == "month_to_date"
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 8, 11), settings)
    assert next(r for r in rows if r.unit_code == "U1").projected == rows[0].month_to_date
    assert "lấy kết quả đó làm dự báo" in note and "bình quân gia quyền" not in note
    mae = f"{accuracy.mae['month_to_date']:.2f}".replace(".", ",")
    assert "trên 6 tháng gần nhất của tỉnh (2/2025, 3/2025, 4/2025, 5/2025, 6/2025, 7/2025; 12 lượt đơn vị – tháng" \
        in note and f"{mae} điểm (thang 100)" in note and "ngày 8" in note
    # the office's mail, through a real SMTP server, states the same figure and basis
    assert mae + " điểm (thang 100)" in office_mail(wh, smtp_server, at(2025, 8, 11))
    assert "trên 6 tháng gần nhất của tỉnh" in office_mail(wh, smtp_server, at(2025, 8, 11))
    # a rerun of the month replaces its rows, never adds to them
    fc.backtest_closed_months(wh.engine, "2025-07", at(2025, 8, 2), settings)
    with wh.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.forecast_backtests)).scalar_one()
    assert stored == len(settings.cut_off_days) * len(fc.METHODS)


def test_each_month_is_replayed_once_and_its_errors_are_kept_for_the_next_runs(wh, monkeypatch):
    plant_changing_months(wh, list(range(1, 10)))
    for month in range(1, 9):
        wh.compute(f"2025-{month:02d}")
    settings = config.forecast()
    fc.backtest_closed_months(wh.engine, "2025-07", at(2025, 8, 1), settings)
    kept = fc.kept_month_errors(wh.engine, ["2025-02", "2025-07"])
    assert set(kept) == {(m, d) for m in ("2025-02", "2025-07") for d in settings.cut_off_days}
    windows = []
    real_windows = fc.score_windows
    monkeypatch.setattr(fc, "score_windows", lambda engine, asked: windows.extend((p.code, c) for p, c in asked)
                        or real_windows(engine, asked))
    august = fc.backtest_closed_months(wh.engine, "2025-08", at(2025, 9, 1), settings)
    # only August is replayed, at its cut-off days: its final and July's (its "previous") are
    # those their monthly runs stored
    assert sorted(windows) == sorted([("2025-08", fc.cut_off_on(Period("2025-08"), day))
                                      for day in settings.cut_off_days])
    # and the result is what replaying every month afresh gives
    with wh.engine.begin() as conn:
        conn.execute(sa.delete(schema.forecast_backtest_months))
    windows.clear()
    assert fc.backtest_closed_months(wh.engine, "2025-08", at(2025, 9, 1), settings)["mae"] == \
        pytest.approx(august["mae"])
    assert len(windows) == 6 * len(settings.cut_off_days)
    # the month's own run always replays it: a kept row of the run's own month is not trusted
    with wh.engine.begin() as conn:
        conn.execute(sa.update(schema.forecast_backtest_months).values(error_sum=1e6))
    again = fc.backtest_closed_months(wh.engine, "2025-08", at(2025, 9, 2), settings)
    assert again["mae"] != pytest.approx(august["mae"])  # the older months' kept errors were used...
    with wh.engine.connect() as conn:
        august_rows = conn.execute(sa.select(schema.forecast_backtest_months.c.error_sum).where(
            schema.forecast_backtest_months.c.month == "2025-08")).scalars().all()
    assert august_rows and 1e6 not in august_rows  # ...but August's were replayed and replaced


def test_with_two_closed_months_the_error_cannot_be_stated_yet(wh, smtp_server):
    plant_changing_months(wh, [1, 2, 3])
    for month in (1, 2):
        wh.compute(f"2025-{month:02d}")
    out = fc.backtest_closed_months(wh.engine, "2025-02", at(2025, 3, 1))
    assert out == {"months": ["2025-01", "2025-02"], "stored": False, "mae": {}}
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 3, 10))
    assert "Chưa thể nêu sai số của dự báo: cần ít nhất 3 tháng" in note and "bình quân gia quyền" in note
    assert "Sai số tuyệt đối" not in note
    text = office_mail(wh, smtp_server, at(2025, 3, 10))
    assert "Chưa thể nêu sai số của dự báo" in text and "hiện mới có 2 tháng" in text


def test_ties_go_to_the_simpler_method():
    tie = fc.Accuracy(15, ("2025-01",), 4, {"blend": 1.5, "month_to_date": 1.5, "previous": 2.0})
    assert tie.method == "month_to_date"
    assert fc.Accuracy(15, ("2025-01",), 4, {"blend": 1.0, "month_to_date": 1.0, "previous": 1.0}).method == "previous"


def test_a_unit_without_dossiers_yet_gets_no_figure_and_an_empty_month_says_so(wh):
    plant_three_months(wh)
    wh.unit("U3")  # no dossier in March
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 3, 17))
    by_unit = {r.unit_code: r for r in rows}
    assert by_unit["U1"].has_dossiers and not by_unit["U3"].has_dossiers
    assert not note.startswith(fc.NO_DOSSIERS_NOTE)
    rows, note = fc.weekly_forecast(wh.engine, at(2025, 4, 1, 0) + dt.timedelta(days=1))  # 2 April: none yet
    assert note.startswith(fc.NO_DOSSIERS_NOTE) and not any(r.has_dossiers for r in rows)


def test_forecast_settings_are_validated():
    good = {"default_method": "blend", "backtest_months": 6, "min_backtest_months": 3, "cut_off_days": [8, 15]}
    assert config.Forecast(**good).backtest_months == 6
    for bad, message in (({"default_method": "trend"}, "is not one of"),
                         ({"min_backtest_months": 7}, "cannot exceed"),
                         ({"cut_off_days": [8, 8]}, "distinct days"), ({"cut_off_days": [30]}, "distinct days")):
        with pytest.raises(ValueError, match=message):
            config.Forecast(**(good | bad))
