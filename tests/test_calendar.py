"""The working calendar (calendar.md): worked examples computed by hand, and properties."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import holidays
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tthc.calendar import (
    OFFICE_HOURS_FILE,
    OVERRIDES_FILE,
    CalendarOverrides,
    OfficeHours,
    WorkingCalendar,
    calendar_rows,
    load_calendar,
)
from tthc.config import ConfigError, load_model
from tthc.paths import REPO_ROOT

D, T = dt.date, dt.datetime
HOUR = 3600
CONFIG = REPO_ROOT / "config"


def _dates(*lines: str) -> set[D]:
    """Dates written as in calendar.md: 'YYYY: day/month day/month ...'."""
    out = set()
    for line in lines:
        year, days = line.split(":")
        for day_month in days.split():
            day, month = day_month.split("/")
            out.add(D(int(year), int(month), int(day)))
    return out


# calendar.md's normative civil-service list for 2024–2026: weekdays off, make-up Saturdays.
NORMATIVE_DAYS_OFF = _dates(
    "2024: 1/1 8/2 9/2 12/2 13/2 14/2 18/4 29/4 30/4 1/5 2/9 3/9",
    "2025: 1/1 27/1 28/1 29/1 30/1 31/1 7/4 30/4 1/5 2/5 1/9 2/9",
    "2026: 1/1 2/1 16/2 17/2 18/2 19/2 20/2 27/4 30/4 1/5 31/8 1/9 2/9 24/11",
)
NORMATIVE_MAKE_UP = _dates("2024: 4/5", "2025: 26/4", "2026: 10/1 22/8")
NORMATIVE_YEARS = (D(2024, 1, 1), D(2027, 1, 1))


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return load_calendar(CONFIG)


def _days(start: D, end_exclusive: D) -> list[D]:
    return [start + dt.timedelta(days=i) for i in range((end_exclusive - start).days)]


# --- the package against calendar.md's normative list ----------------------------------
def test_package_differs_from_normative_list_only_by_the_shipped_swap():
    vn = holidays.country_holidays("VN", years=range(2024, 2027))
    in_years = [d for d in _days(*NORMATIVE_YEARS)]
    package_off = {d for d in in_years if d.weekday() < 5 and d in vn}
    package_make_up = {d for d in vn.weekend_workdays if NORMATIVE_YEARS[0] <= d < NORMATIVE_YEARS[1]}
    # The package lacks exactly 2026-01-02 (off) and Saturday 2026-01-10 (worked), nothing else.
    assert package_off - NORMATIVE_DAYS_OFF == set()
    assert NORMATIVE_DAYS_OFF - package_off == {D(2026, 1, 2)}
    assert package_make_up == NORMATIVE_MAKE_UP - {D(2026, 1, 10)}
    shipped = load_model(CONFIG / OVERRIDES_FILE, CalendarOverrides)
    assert [e.date for e in shipped.days_off] == [D(2026, 1, 2)]
    assert [e.date for e in shipped.working_days] == [D(2026, 1, 10)]


def test_calendar_matches_normative_list_2024_to_2026_exactly(cal):
    days = _days(*NORMATIVE_YEARS)
    weekdays_off = {d for d in days if d.weekday() < 5 and not cal.is_working_day(d)}
    weekend_worked = {d for d in days if d.weekday() >= 5 and cal.is_working_day(d)}
    assert weekdays_off == NORMATIVE_DAYS_OFF
    assert weekend_worked == NORMATIVE_MAKE_UP


@pytest.mark.parametrize("day", sorted(NORMATIVE_DAYS_OFF), ids=str)
def test_every_normative_day_off_is_off(cal, day):
    assert not cal.is_working_day(day)


@pytest.mark.parametrize("day", sorted(NORMATIVE_MAKE_UP), ids=str)
def test_every_make_up_saturday_is_worked_a_full_day(cal, day):
    assert day.weekday() == 5 and cal.is_working_day(day)
    # Make-up Saturdays keep full office hours: 4 h + 4 h.
    assert cal.working_seconds_between(T.combine(day, dt.time()), T.combine(day, dt.time(23, 59))) == 8 * HOUR


# --- worked examples -------------------------------------------------------------------
def test_tet_2025(cal):
    # Mon 27/1 – Fri 31/1/2025 off; the Friday before and the Monday after are worked.
    assert [cal.is_working_day(d) for d in _days(D(2025, 1, 27), D(2025, 2, 1))] == [False] * 5
    assert cal.is_working_day(D(2025, 1, 24)) and cal.is_working_day(D(2025, 2, 3))
    # After Fri 24/1: Mon 3/2 (1), Tue 4 (2), Wed 5 (3), Thu 6 (4), Fri 7/2 (5).
    assert cal.nth_working_day_after(D(2025, 1, 24), 5) == D(2025, 2, 7)
    # Strictly before Mon 3/2: Fri 24/1 (1), Thu 23 (2), Wed 22 (3), Tue 21 (4), Mon 20/1 (5).
    assert cal.nth_working_day_before(D(2025, 2, 3), 5) == D(2025, 1, 20)
    # From a day inside Tết, Wed 29/1: the same five days as from Fri 24/1.
    assert cal.nth_working_day_after(D(2025, 1, 29), 5) == D(2025, 2, 7)
    assert cal.nth_working_day_after(D(2025, 1, 29), 1) == D(2025, 2, 3)


def test_tet_2026(cal):
    # Mon 16/2 – Fri 20/2/2026 off. After Fri 13/2: 23, 24, 25, 26, 27/2.
    assert cal.nth_working_day_after(D(2026, 2, 13), 5) == D(2026, 2, 27)
    # Strictly before Mon 23/2: 13, 12, 11, 10, 9/2.
    assert cal.nth_working_day_before(D(2026, 2, 23), 5) == D(2026, 2, 9)
    # Working time from Fri 13/2 16:00 to Mon 23/2 08:30: 1 h on Friday + 1 h on Monday.
    assert cal.working_seconds_between(T(2026, 2, 13, 16), T(2026, 2, 23, 8, 30)) == 2 * HOUR


def test_reunification_day_2025_with_make_up_saturday(cal):
    # Wed 30/4, Thu 1/5, Fri 2/5/2025 off; Saturday 26/4 worked in exchange for 2/5.
    assert [cal.is_working_day(d) for d in _days(D(2025, 4, 30), D(2025, 5, 3))] == [False] * 3
    assert cal.is_working_day(D(2025, 4, 26)) and not cal.is_working_day(D(2025, 4, 27))
    # After Fri 25/4: Sat 26/4 (1), Mon 28 (2), Tue 29 (3), Mon 5/5 (4), Tue 6/5 (5).
    assert cal.nth_working_day_after(D(2025, 4, 25), 5) == D(2025, 5, 6)
    # Strictly before Mon 5/5: Tue 29/4 (1), Mon 28 (2), Sat 26 (3), Fri 25 (4), Thu 24/4 (5).
    assert cal.nth_working_day_before(D(2025, 5, 5), 5) == D(2025, 4, 24)


def test_eight_working_hours_from_friday_1659_before_the_holiday(cal):
    # Fri 25/4/2025 16:59: 60 s left on Friday; Saturday 26/4 is a make-up day, so
    # 07:30–11:30 (14,400 s) + 13:00–16:59 (14,340 s) completes 28,800 s at Sat 16:59.
    submitted = T(2025, 4, 25, 16, 59)
    assert cal.add_working_seconds(submitted, 8 * HOUR) == T(2025, 4, 26, 16, 59)
    assert cal.working_seconds_between(submitted, T(2025, 4, 26, 16, 59)) == 28_800
    # One microsecond later is past "within 8 working hours".
    assert cal.working_seconds_between(submitted, T(2025, 4, 26, 16, 59, 0, 1)) == 28_800.000001
    # Tue 29/4 16:59: 60 s, then 30/4–2/5 off, the weekend, and Mon 5/5 07:30–11:30 + 13:00–16:59.
    assert cal.add_working_seconds(T(2025, 4, 29, 16, 59), 8 * HOUR) == T(2025, 5, 5, 16, 59)


def test_new_year_2026_swap_from_the_overrides_file(cal):
    # Fri 2/1/2026 off (override), Sat 3/1 off, Sat 10/1 worked (override).
    assert not cal.is_working_day(D(2026, 1, 2))
    assert not cal.is_working_day(D(2026, 1, 3))
    assert cal.is_working_day(D(2026, 1, 10))
    # After Wed 31/12/2025: Mon 5/1 (1) ... Fri 9/1 (5), Sat 10/1 (6).
    assert cal.nth_working_day_after(D(2025, 12, 31), 5) == D(2026, 1, 9)
    assert cal.nth_working_day_after(D(2025, 12, 31), 6) == D(2026, 1, 10)
    assert cal.working_seconds_between(T(2026, 1, 10), T(2026, 1, 11)) == 8 * HOUR


def test_vietnam_culture_day_from_2026(cal):
    assert not cal.is_working_day(D(2026, 11, 24))  # Tuesday
    assert cal.is_working_day(D(2025, 11, 24))  # Monday, before the day existed


def test_office_hours_boundaries(cal):
    monday = D(2025, 3, 3)
    at = lambda h, m=0: T.combine(monday, dt.time(h, m))  # noqa: E731
    assert cal.working_seconds_between(at(11, 30), at(13)) == 0  # lunch break
    assert cal.working_seconds_between(at(11), at(13, 30)) == HOUR  # 30 min + 30 min
    assert cal.working_seconds_between(at(6), at(8)) == 30 * 60  # counts from 07:30
    assert cal.working_seconds_between(at(0), at(23, 59)) == 8 * HOUR
    assert cal.working_seconds_between(at(13), at(11)) == 0  # b before a
    assert cal.next_opening(at(11, 30)) == at(13)
    assert cal.next_opening(at(9)) == at(9)
    # Friday 17:00 opens again on Monday 07:30.
    assert cal.next_opening(T(2025, 3, 7, 17)) == at(7, 30) + dt.timedelta(days=7)
    # A span ending exactly at 11:30 is reached at 11:30, not at the afternoon opening.
    assert cal.add_working_seconds(at(7, 30), 4 * HOUR) == at(11, 30)


def test_aware_instants_are_taken_in_local_time(cal):
    utc = dt.UTC
    # 01:00 UTC is 08:00 in Huế.
    assert cal.working_seconds_between(T(2025, 3, 3, 1, tzinfo=utc), T(2025, 3, 3, 8)) == 0
    assert cal.working_seconds_between(T(2025, 3, 3, 7, 30), T(2025, 3, 3, 1, tzinfo=utc)) == 30 * 60


def test_queries_outside_the_calendar_are_refused(cal):
    with pytest.raises(ValueError, match="outside the working calendar"):
        cal.is_working_day(D(1999, 12, 31))
    with pytest.raises(ValueError, match="beyond"):
        cal.nth_working_day_after(D(2099, 12, 30), 5)
    with pytest.raises(ValueError, match="at least 1"):
        cal.nth_working_day_after(D(2025, 1, 1), 0)
    # A calendar built from data must have office hours in force from its first day.
    with pytest.raises(ValueError, match="no office hours are in force on 1999-12-31"):
        WorkingCalendar(D(1999, 12, 31), D(2000, 1, 31), frozenset(), frozenset(), cal.office_hours)


def test_a_change_of_hours_never_alters_earlier_periods(tmp_path, cal):
    (tmp_path / OVERRIDES_FILE).write_text((CONFIG / OVERRIDES_FILE).read_text(encoding="utf-8"))
    (tmp_path / OFFICE_HOURS_FILE).write_text(
        "schedules:\n"
        "  - effective_from: 2000-01-01\n"
        '    intervals: [["07:30", "11:30"], ["13:00", "17:00"]]\n'
        "  - effective_from: 2025-06-02\n"
        '    intervals: [["07:00", "11:00"], ["13:30", "17:00"]]\n',
        encoding="utf-8",
    )
    changed = load_calendar(tmp_path)
    # May 2025 is counted exactly as before the change.
    may = (T(2025, 5, 1), T(2025, 6, 1))
    assert changed.working_seconds_between(*may) == cal.working_seconds_between(*may)
    # Fri 30/5 uses the old hours, Mon 2/6 the new ones: 07:00–11:00 + 13:30–17:00 = 7.5 h.
    assert changed.working_seconds_between(T(2025, 5, 30, 7), T(2025, 5, 30, 8)) == 30 * 60
    assert changed.working_seconds_between(T(2025, 6, 2, 7), T(2025, 6, 2, 8)) == HOUR
    assert changed.working_seconds_between(T(2025, 6, 2), T(2025, 6, 3)) == 7.5 * HOUR
    assert changed.next_opening(T(2025, 6, 2, 11, 15)) == T(2025, 6, 2, 13, 30)


def test_override_closure_wins_over_a_make_up_saturday(tmp_path):
    (tmp_path / OVERRIDES_FILE).write_text(
        "days_off:\n"
        "  - {date: 2025-04-26, reason_vi: 'Nghỉ do bão', reason_en: 'Closed for a storm'}\n"
        "working_days:\n"
        "  - {date: 2025-04-30, reason_vi: 'Trực', reason_en: 'Open on duty'}\n",
        encoding="utf-8",
    )
    (tmp_path / OFFICE_HOURS_FILE).write_text((CONFIG / OFFICE_HOURS_FILE).read_text(encoding="utf-8"))
    province = load_calendar(tmp_path)
    assert not province.is_working_day(D(2025, 4, 26))  # package make-up Saturday, closed
    assert province.is_working_day(D(2025, 4, 30))  # package holiday, declared worked
    assert province.is_working_day(D(2026, 1, 2))  # not in this file: the package works it


# --- config validation -----------------------------------------------------------------
def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_override_date_names_file_and_field(tmp_path):
    path = _write(tmp_path, OVERRIDES_FILE, "days_off:\n  - {date: 02/01/2026, reason_vi: x, reason_en: x}\n")
    with pytest.raises(ConfigError) as err:
        load_model(path, CalendarOverrides)
    assert str(path) in str(err.value) and "days_off[0].date" in str(err.value)


def test_override_errors_name_the_field(tmp_path):
    both = _write(
        tmp_path,
        OVERRIDES_FILE,
        "days_off: [{date: 2026-01-02, reason_vi: a, reason_en: a}]\n"
        "working_days: [{date: 2026-01-02, reason_vi: b, reason_en: b}]\n",
    )
    with pytest.raises(ConfigError, match="both in days_off and in working_days: 2026-01-02"):
        load_model(both, CalendarOverrides)
    no_reason = _write(tmp_path, "r.yaml", "days_off: [{date: 2026-01-02, reason_vi: a}]\n")
    with pytest.raises(ConfigError, match=r"days_off\[0\]\.reason_en"):
        load_model(no_reason, CalendarOverrides)
    repeated = _write(
        tmp_path,
        "d.yaml",
        "days_off:\n"
        "  - {date: 2026-01-02, reason_vi: a, reason_en: a}\n"
        "  - {date: 2026-01-02, reason_vi: b, reason_en: b}\n",
    )
    with pytest.raises(ConfigError, match="'days_off': .*more than once: 2026-01-02"):
        load_model(repeated, CalendarOverrides)


def test_impossible_override_date_is_a_config_error(tmp_path):
    path = _write(tmp_path, OVERRIDES_FILE, "days_off: [{date: 2026-02-30, reason_vi: a, reason_en: a}]\n")
    with pytest.raises(ConfigError, match=OVERRIDES_FILE):
        load_model(path, CalendarOverrides)


@pytest.mark.parametrize(
    ("intervals", "problem"),
    [
        ('[["13:00", "17:00"], ["07:30", "11:30"]]', "in order and not overlap"),
        ('[["07:30", "11:30"], ["11:00", "17:00"]]', "in order and not overlap"),
        ('[["11:30", "07:30"]]', "must start before it ends"),
        ('[["07:30", "11:30"], [13:00, "17:00"]]', "write it quoted"),  # YAML reads 13:00 as 780
        ('[["07:30", "25:00"]]', r"schedules\[0\]\.intervals\[0\]\[1\]"),
    ],
)
def test_bad_office_hours_name_file_and_field(tmp_path, intervals, problem):
    path = _write(
        tmp_path,
        OFFICE_HOURS_FILE,
        f"schedules:\n  - effective_from: 2000-01-01\n    intervals: {intervals}\n",
    )
    with pytest.raises(ConfigError, match=problem) as err:
        load_model(path, OfficeHours)
    assert str(path) in str(err.value) and "schedules[0].intervals" in str(err.value)


def test_schedules_must_be_oldest_first(tmp_path):
    path = _write(
        tmp_path,
        OFFICE_HOURS_FILE,
        "schedules:\n"
        '  - {effective_from: 2025-01-01, intervals: [["07:30", "11:30"]]}\n'
        '  - {effective_from: 2000-01-01, intervals: [["07:30", "11:30"]]}\n',
    )
    with pytest.raises(ConfigError, match="'schedules': .*increase strictly"):
        load_model(path, OfficeHours)


# --- rows for the warehouse table cal_days ---------------------------------------------
def test_calendar_rows_let_sql_find_the_nth_working_day(cal):
    rows = calendar_rows(cal, D(2025, 1, 1), D(2025, 12, 31))
    assert len(rows) == 365 and rows[0]["day"] == D(2025, 1, 1)
    # 1/1/2025 is off, so Thu 2/1 is the first working day of the year.
    assert [(r["is_working"], r["working_day_seq"]) for r in rows[:3]] == [(False, 0), (True, 1), (True, 2)]
    assert rows[-1]["working_day_seq"] == len(cal.working_days_in(D(2025, 1, 1), D(2026, 1, 1)))

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE cal_days (day TEXT PRIMARY KEY, is_working INTEGER, working_day_seq INTEGER)")
    db.executemany(
        "INSERT INTO cal_days VALUES (?, ?, ?)",
        [(r["day"].isoformat(), r["is_working"], r["working_day_seq"]) for r in rows],
    )
    after = (
        "SELECT w.day FROM cal_days d JOIN cal_days w ON w.is_working "
        "AND w.working_day_seq = d.working_day_seq + 5 WHERE d.day = ?"
    )
    before = (
        "SELECT w.day FROM cal_days d JOIN cal_days w ON w.is_working "
        "AND w.working_day_seq = d.working_day_seq - d.is_working - 5 + 1 WHERE d.day = ?"
    )
    for day in (D(2025, 1, 24), D(2025, 1, 29), D(2025, 2, 3), D(2025, 4, 26), D(2025, 5, 4), D(2025, 9, 2)):
        assert (
            db.execute(after, (day.isoformat(),)).fetchone()[0]
            == cal.nth_working_day_after(day, 5).isoformat()
        )
        assert (
            db.execute(before, (day.isoformat(),)).fetchone()[0]
            == cal.nth_working_day_before(day, 5).isoformat()
        )


# --- properties ------------------------------------------------------------------------
days = st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31))
instants = st.datetimes(min_value=T(2020, 1, 1), max_value=T(2030, 12, 31))
counts = st.integers(min_value=1, max_value=60)
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@fixture_ok
@given(d=days, n=counts)
def test_nth_working_day_after_counts_exactly_n(cal, d, n):
    result = cal.nth_working_day_after(d, n)
    assert result > d and cal.is_working_day(result)
    assert len(cal.working_days_in(d + dt.timedelta(days=1), result + dt.timedelta(days=1))) == n


@fixture_ok
@given(d=days, n=counts)
def test_nth_working_day_before_counts_exactly_n(cal, d, n):
    result = cal.nth_working_day_before(d, n)
    assert result < d and cal.is_working_day(result)
    assert len(cal.working_days_in(result, d)) == n


@fixture_ok
@given(d=days, n=counts)
def test_before_undoes_after(cal, d, n):
    # Going n forward then n back lands on d when d is worked, else on the last working day before d.
    back = cal.nth_working_day_before(cal.nth_working_day_after(d, n), n)
    assert back == (d if cal.is_working_day(d) else cal.nth_working_day_before(d, 1))


@fixture_ok
@given(points=st.lists(instants, min_size=3, max_size=3))
def test_working_seconds_are_additive_and_bounded(cal, points):
    a, b, c = sorted(points)
    ab, bc, ac = (cal.working_seconds_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab >= 0 and bc >= 0
    assert round((ab + bc) * 1e6) == round(ac * 1e6)
    touched = cal.working_days_in(a.date(), c.date() + dt.timedelta(days=1))
    assert ac <= 8 * HOUR * len(touched)


@fixture_ok
@given(d=days, minutes=st.lists(st.integers(0, 90), min_size=2, max_size=2))
def test_nothing_counts_inside_the_lunch_break(cal, d, minutes):
    a, b = (T.combine(d, dt.time(11, 30)) + dt.timedelta(minutes=m) for m in sorted(minutes))
    assert cal.working_seconds_between(a, b) == 0


@fixture_ok
@given(d=days, seconds=st.lists(st.integers(0, 86_399), min_size=2, max_size=2))
def test_nothing_counts_on_a_day_off(cal, d, seconds):
    assume(not cal.is_working_day(d))
    a, b = (T.combine(d, dt.time()) + dt.timedelta(seconds=s) for s in sorted(seconds))
    assert cal.working_seconds_between(a, b) == 0


@fixture_ok
@given(t=instants, later=instants)
def test_an_instant_counts_from_the_next_opening(cal, t, later):
    opening = cal.next_opening(t)
    assert opening >= t and cal.working_seconds_between(t, opening) == 0
    assume(later >= opening)
    assert cal.working_seconds_between(t, later) == cal.working_seconds_between(opening, later)


@fixture_ok
@given(t=instants, seconds=st.integers(1, 40 * 8 * HOUR), micro=st.integers(0, 999_999))
def test_add_working_seconds_is_the_inverse(cal, t, seconds, micro):
    amount = seconds + micro / 1e6
    end = cal.add_working_seconds(t, amount)
    assert round(cal.working_seconds_between(t, end) * 1e6) == round(amount * 1e6)
    # The earliest such instant: one microsecond less is short of the amount.
    assert cal.working_seconds_between(t, end - dt.timedelta(microseconds=1)) < amount


@fixture_ok
@given(pairs=st.lists(st.tuples(instants, instants), min_size=1, max_size=40))
def test_working_seconds_over_arrays_equal_one_by_one(cal, pairs):
    a = np.array([x for x, _ in pairs], dtype="datetime64[us]")
    b = np.array([y for _, y in pairs], dtype="datetime64[us]")
    expected = [cal.working_seconds_between(x, y) for x, y in pairs]
    assert cal.working_seconds_between_many(a, b).tolist() == expected


def test_working_seconds_over_arrays_refuse_instants_outside_the_calendar(cal):
    inside, outside = np.datetime64("2025-01-02T08:00"), np.datetime64(f"{cal.last_day.year + 1}-01-02T08:00")
    with pytest.raises(ValueError, match="outside the working calendar"):
        cal.working_seconds_between_many(np.array([inside, inside]), np.array([inside, outside]))
