import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tthc.periods import Period, day_from_interval, period_from_interval, to_local_naive

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_period_bounds_are_half_open_local_months():
    p = Period("2025-12")
    assert (p.start, p.end) == (dt.datetime(2025, 12, 1), dt.datetime(2026, 1, 1))
    assert (p.first_day, p.last_day) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert Period("2024-02").last_day == dt.date(2024, 2, 29)
    assert Period("2025-01").previous() == Period("2024-12")
    assert [q.code for q in Period("2025-02").back(3)] == ["2024-12", "2025-01", "2025-02"]


@pytest.mark.parametrize("bad", ["2025-13", "2025-1", "25-01", "2025/01", ""])
def test_bad_period_codes_are_refused(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period(bad)


@given(st.integers(2000, 2090), st.integers(1, 12))
def test_next_and_previous_are_inverse(year, month):
    p = Period(f"{year:04d}-{month:02d}")
    assert p.next().previous() == p and p.end == p.next().start


def test_interval_in_utc_maps_to_the_local_month():
    # Airflow hands data intervals as aware datetimes (UTC): 2025-08-31 17:00Z is 2025-09-01 00:00 local.
    start = dt.datetime(2025, 8, 31, 17, tzinfo=dt.UTC)
    end = dt.datetime(2025, 9, 30, 17, tzinfo=dt.UTC)
    assert period_from_interval(start, end) == Period("2025-09")
    assert day_from_interval(dt.datetime(2025, 9, 1, tzinfo=HCM), dt.datetime(2025, 9, 2, tzinfo=HCM)) == \
        dt.date(2025, 9, 1)


def test_zero_width_or_shifted_intervals_are_refused():
    t = dt.datetime(2025, 9, 1, tzinfo=HCM)
    with pytest.raises(ValueError, match="not one month"):
        period_from_interval(t, t)  # what a bare cron string (CronTriggerTimetable) would give
    with pytest.raises(ValueError, match="not one day"):
        day_from_interval(t + dt.timedelta(minutes=30), t + dt.timedelta(days=1, minutes=30))


def test_to_local_naive():
    assert to_local_naive(dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.UTC)) == dt.datetime(2025, 1, 1, 7, 0)
    assert to_local_naive(dt.datetime(2025, 1, 1, 7, 0)) == dt.datetime(2025, 1, 1, 7, 0)
