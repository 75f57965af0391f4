"""Working calendar (lịch làm việc): working days and working hours, as calendar.md defines them.

Days off come from the `holidays` package (country VN: Tết, Hùng Kings' day, 30/4, 1/5, 2/9,
24/11 from 2026, observed days and the Government's swaps, with their make-up Saturdays),
then from the province's `calendar_overrides.yaml`, which wins over the package. Office hours
come from `office_hours.yaml`, each schedule in force from its `effective_from` date, so a
change of hours never alters earlier periods.

Every instant is a naive local datetime (Asia/Ho_Chi_Minh, UTC+7, no daylight saving);
working time is counted in whole microseconds so that sums are exact and additive.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import holidays
import numpy as np
from pydantic import BeforeValidator, Field, field_validator, model_validator

from tthc import paths
from tthc.config import Strict, load_model

OVERRIDES_FILE = "calendar_overrides.yaml"
OFFICE_HOURS_FILE = "office_hours.yaml"

# Vietnam has kept UTC+7 without daylight saving since 1975.
LOCAL_TZ = dt.timezone(dt.timedelta(hours=7), "Asia/Ho_Chi_Minh")
# The package's Vietnamese lunar tables end here; later years would have no Tết.
LAST_DAY = dt.date(2099, 12, 31)

_US_PER_SECOND = 1_000_000
_HHMM = re.compile(r"^\d{2}:\d{2}$")


# --- calendar_overrides.yaml -----------------------------------------------------------
class CalendarOverride(Strict):
    """One day the province declares off (nghỉ) or worked (làm bù), with its reason."""

    date: dt.date
    reason_vi: str = Field(min_length=1)
    reason_en: str = Field(min_length=1)


class CalendarOverrides(Strict):
    """Days off and make-up working days the package lacks or the province declares (storms, floods)."""

    days_off: list[CalendarOverride] = []
    working_days: list[CalendarOverride] = []

    @field_validator("days_off", "working_days")
    @classmethod
    def _unique(cls, entries: list[CalendarOverride]) -> list[CalendarOverride]:
        days = [e.date for e in entries]
        repeated = sorted({d for d in days if days.count(d) > 1})
        if repeated:
            raise ValueError(f"date listed more than once: {', '.join(map(str, repeated))}")
        return entries

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarOverrides:
        both = sorted({e.date for e in self.days_off} & {e.date for e in self.working_days})
        if both:
            raise ValueError(f"listed both in days_off and in working_days: {', '.join(map(str, both))}")
        return self


# --- office_hours.yaml -----------------------------------------------------------------
def _clock_time(value: object) -> dt.time:
    # Unquoted 13:00 reaches us as the YAML 1.1 integer 780: insist on a quoted "HH:MM".
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"{value!r} is not a time: write it quoted as 'HH:MM', e.g. '07:30'")
    return dt.time.fromisoformat(value)


ClockTime = Annotated[dt.time, BeforeValidator(_clock_time)]


class OfficeSchedule(Strict):
    """Giờ làm việc in force from `effective_from` until the next schedule's date."""

    effective_from: dt.date
    intervals: list[tuple[ClockTime, ClockTime]] = Field(min_length=1)

    @field_validator("intervals")
    @classmethod
    def _ordered(cls, intervals: list[tuple[dt.time, dt.time]]) -> list[tuple[dt.time, dt.time]]:
        for start, end in intervals:
            if not start < end:
                raise ValueError(f"interval {start:%H:%M}–{end:%H:%M} must start before it ends")
        for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
            if start < end:
                raise ValueError(f"intervals must be in order and not overlap ({start:%H:%M} < {end:%H:%M})")
        return intervals


class OfficeHours(Strict):
    schedules: list[OfficeSchedule] = Field(min_length=1)

    @field_validator("schedules")
    @classmethod
    def _increasing(cls, schedules: list[OfficeSchedule]) -> list[OfficeSchedule]:
        dates = [s.effective_from for s in schedules]
        if dates != sorted(set(dates)):
            raise ValueError("effective_from dates must increase strictly, oldest schedule first")
        return schedules


def _us_of_day(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


# --- the calendar ----------------------------------------------------------------------
@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours over [first_day, last_day]; a query outside raises ValueError.

    A working day (ngày làm việc) is a Monday–Friday not in `days_off`, or a day in
    `make_up_days` (làm bù). Working time is the overlap with the office hours of working days.
    """

    first_day: dt.date
    last_day: dt.date
    days_off: frozenset[dt.date]
    make_up_days: frozenset[dt.date]
    office_hours: OfficeHours
    # Derived: working days as ordinals, and the working microseconds before each of them.
    _working: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _before_us: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.office_hours.schedules[0].effective_from > self.first_day:
            raise ValueError(f"no office hours are in force on {self.first_day}")
        working = [
            o
            for o in range(self.first_day.toordinal(), self.last_day.toordinal() + 1)
            if self._declared_working(dt.date.fromordinal(o))
        ]
        before = [0]
        for o in working:
            before.append(before[-1] + self._day_capacity_us(dt.date.fromordinal(o)))
        object.__setattr__(self, "_working", tuple(working))
        object.__setattr__(self, "_before_us", tuple(before))

    def _declared_working(self, d: dt.date) -> bool:
        return d in self.make_up_days or (d.weekday() < 5 and d not in self.days_off)

    def _intervals_on(self, d: dt.date) -> list[tuple[dt.time, dt.time]]:
        schedules = self.office_hours.schedules
        i = bisect_right([s.effective_from for s in schedules], d) - 1
        return schedules[i].intervals

    def _day_capacity_us(self, d: dt.date) -> int:
        return sum(_us_of_day(end) - _us_of_day(start) for start, end in self._intervals_on(d))

    def _check(self, d: dt.date) -> None:
        if not self.first_day <= d <= self.last_day:
            raise ValueError(f"{d} is outside the working calendar ({self.first_day} to {self.last_day})")

    # -- working days --------------------------------------------------------------------
    def is_working_day(self, d: dt.date) -> bool:
        self._check(d)
        i = bisect_left(self._working, d.toordinal())
        return i < len(self._working) and self._working[i] == d.toordinal()

    def nth_working_day_after(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after d (n ≥ 1)."""
        self._check(d)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        i = bisect_right(self._working, d.toordinal()) + n - 1
        if i >= len(self._working):
            raise ValueError(f"the {n}th working day after {d} is beyond {self.last_day}")
        return dt.date.fromordinal(self._working[i])

    def nth_working_day_before(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day strictly before d (n ≥ 1)."""
        self._check(d)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        i = bisect_left(self._working, d.toordinal()) - n
        if i < 0:
            raise ValueError(f"the {n}th working day before {d} is before {self.first_day}")
        return dt.date.fromordinal(self._working[i])

    def working_days_in(self, start: dt.date, end_exclusive: dt.date) -> list[dt.date]:
        """Working days d with start ≤ d < end_exclusive."""
        if end_exclusive <= start:
            return []
        self._check(start)
        self._check(end_exclusive - dt.timedelta(days=1))
        lo = bisect_left(self._working, start.toordinal())
        hi = bisect_left(self._working, end_exclusive.toordinal())
        return [dt.date.fromordinal(o) for o in self._working[lo:hi]]

    # -- working hours -------------------------------------------------------------------
    def _elapsed_us(self, t: dt.datetime) -> int:
        """Working microseconds from the calendar's start up to instant t."""
        t = _local(t)
        d = t.date()
        self._check(d)
        i = bisect_left(self._working, d.toordinal())
        elapsed = self._before_us[i]
        if i < len(self._working) and self._working[i] == d.toordinal():
            now = _us_of_day(t.time())
            for start, end in self._intervals_on(d):
                elapsed += max(0, min(now, _us_of_day(end)) - _us_of_day(start))
        return elapsed

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Seconds of [a, b) inside office hours of working days, exact to the microsecond; 0 if b ≤ a."""
        if _local(b) <= _local(a):
            return 0.0
        return (self._elapsed_us(b) - self._elapsed_us(a)) / _US_PER_SECOND

    # -- the same over arrays: an indicator judges tens of thousands of dossiers at once ----
    @functools.cached_property
    def _day_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per calendar day from first_day: working µs before it, and its office intervals
        (µs of day, padded with empty ones; none on a day off)."""
        n = self.last_day.toordinal() - self.first_day.toordinal() + 1
        width = max(len(s.intervals) for s in self.office_hours.schedules)
        before = np.empty(n, dtype=np.int64)
        opens = np.zeros((n, width), dtype=np.int64)
        closes = np.zeros((n, width), dtype=np.int64)
        for i in range(n):
            ordinal = self.first_day.toordinal() + i
            k = bisect_left(self._working, ordinal)
            before[i] = self._before_us[k]
            if k < len(self._working) and self._working[k] == ordinal:
                for j, (start, end) in enumerate(self._intervals_on(dt.date.fromordinal(ordinal))):
                    opens[i, j], closes[i, j] = _us_of_day(start), _us_of_day(end)
        return before, opens, closes

    def _elapsed_us_many(self, instants: np.ndarray) -> np.ndarray:
        """_elapsed_us of each naive local instant (datetime64), vectorised."""
        t = np.asarray(instants, dtype="datetime64[us]")
        days = t.astype("datetime64[D]")
        index = (days - np.datetime64(self.first_day, "D")).astype(np.int64)
        before, opens, closes = self._day_table
        outside = (index < 0) | (index >= len(before))
        if outside.any():
            self._check(days[outside][0].item())
        now = (t - days).astype(np.int64)[:, None]
        inside = np.clip(now - opens[index], 0, closes[index] - opens[index])
        return before[index] + inside.sum(axis=1)

    def working_seconds_between_many(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """working_seconds_between for each pair of naive local instants (datetime64 arrays)."""
        elapsed = self._elapsed_us_many(b) - self._elapsed_us_many(a)
        return np.maximum(elapsed, 0) / _US_PER_SECOND

    def add_working_seconds(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The earliest instant t ≥ start with working_seconds_between(start, t) == seconds.

        E.g. the end of "within 8 working hours" (28,800 s) of a submission.
        """
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        start = _local(start)
        if seconds == 0:
            return start
        target = self._elapsed_us(start) + round(seconds * _US_PER_SECOND)
        k = bisect_left(self._before_us, target) - 1  # the working day in which target is reached
        if k >= len(self._working):
            raise ValueError(f"{seconds} working seconds after {start} is beyond {self.last_day}")
        day = dt.date.fromordinal(self._working[k])
        remaining = target - self._before_us[k]
        # The day's capacity covers `remaining`, so the loop always stops at an interval.
        for open_, close in self._intervals_on(day):
            length = _us_of_day(close) - _us_of_day(open_)
            if remaining <= length:
                break
            remaining -= length
        return dt.datetime.combine(day, open_) + dt.timedelta(microseconds=remaining)

    def next_opening(self, t: dt.datetime) -> dt.datetime:
        """t itself during office hours, else the next opening: where working time counts from."""
        t = _local(t)
        d = t.date()
        if self.is_working_day(d):
            for open_, close in self._intervals_on(d):
                if t.time() < close:
                    return max(t, dt.datetime.combine(d, open_))
        following = self.nth_working_day_after(d, 1)
        return dt.datetime.combine(following, self._intervals_on(following)[0][0])


def _local(t: dt.datetime) -> dt.datetime:
    """Naive local time; an aware instant (e.g. a feed's UTC `Z`) is converted to UTC+7 first."""
    return t if t.tzinfo is None else t.astimezone(LOCAL_TZ).replace(tzinfo=None)


def build_calendar(
    overrides: CalendarOverrides, office_hours: OfficeHours, last_day: dt.date = LAST_DAY
) -> WorkingCalendar:
    """The package's Vietnamese holidays and make-up days, then the province's overrides on top.

    The calendar starts on the first office-hours schedule's `effective_from`.
    """
    first_day = office_hours.schedules[0].effective_from
    vn = holidays.country_holidays("VN", years=range(first_day.year, last_day.year + 1))
    forced_off = {e.date for e in overrides.days_off}
    forced_work = {e.date for e in overrides.working_days}
    package_make_up = {d for d in vn.weekend_workdays if first_day <= d <= last_day}
    return WorkingCalendar(
        first_day=first_day,
        last_day=last_day,
        days_off=frozenset((set(vn) | forced_off) - forced_work),
        make_up_days=frozenset((package_make_up | forced_work) - forced_off),
        office_hours=office_hours,
    )


@functools.cache
def _cached_calendar(overrides_path: Path, hours_path: Path, _mtimes: tuple[float, float]) -> WorkingCalendar:
    return build_calendar(load_model(overrides_path, CalendarOverrides), load_model(hours_path, OfficeHours))


def load_calendar(config_dir: Path | None = None) -> WorkingCalendar:
    """The province's calendar from calendar_overrides.yaml and office_hours.yaml (ConfigError if invalid).

    Cached until either file changes: building a century of days takes about half a second.
    """
    folder = config_dir or paths.config_dir()
    overrides_path, hours_path = folder / OVERRIDES_FILE, folder / OFFICE_HOURS_FILE
    mtimes = tuple(p.stat().st_mtime if p.exists() else 0.0 for p in (overrides_path, hours_path))
    return _cached_calendar(overrides_path, hours_path, mtimes)


def calendar_rows(cal: WorkingCalendar, first: dt.date, last: dt.date) -> list[dict]:
    """Rows of the warehouse table `cal_days`, one per day of [first, last].

    `working_day_seq` counts working days from `first` up to and including the day, so in SQL
    the n-th working day after d is the working day whose seq = seq(d) + n, and the n-th
    working day before d is the working day whose seq = seq(d) − is_working(d) − n + 1.
    """
    working = set(cal.working_days_in(first, last + dt.timedelta(days=1)))
    rows, seq = [], 0
    for o in range(first.toordinal(), last.toordinal() + 1):
        day = dt.date.fromordinal(o)
        seq += day in working
        rows.append({"day": day, "is_working": day in working, "working_day_seq": seq})
    return rows
