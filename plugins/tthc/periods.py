"""Reporting periods (kỳ báo cáo) and how a DAG run's data interval maps to one.

All period bounds are naive local datetimes (Asia/Ho_Chi_Minh, UTC+7, no DST):
a monthly period `YYYY-MM` is [first day 00:00, first day of next month 00:00); a nightly
run covers [day 00:00, next day 00:00). DAGs use CronDataIntervalTimetable, so the data
interval *is* the period; these helpers convert and check it in one tested place.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Period:
    """A monthly period; `start`/`end` are naive local datetimes, end exclusive."""

    code: str

    def __post_init__(self) -> None:
        if not PERIOD_RE.match(self.code):
            raise ValueError(f"period must be YYYY-MM, got {self.code!r}")

    @property
    def first_day(self) -> dt.date:
        year, month = map(int, self.code.split("-"))
        return dt.date(year, month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time())

    @property
    def end(self) -> dt.datetime:
        return self.next().start

    def next(self) -> Period:
        d = self.first_day
        return Period(f"{d.year + d.month // 12:04d}-{d.month % 12 + 1:02d}")

    def previous(self) -> Period:
        d = self.first_day - dt.timedelta(days=1)
        return Period(f"{d.year:04d}-{d.month:02d}")

    def back(self, months: int) -> list[Period]:
        """This period and the `months - 1` before it, oldest first (trend charts)."""
        out = [self]
        for _ in range(months - 1):
            out.append(out[-1].previous())
        return out[::-1]

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(f"{day.year:04d}-{day.month:02d}")


def to_local_naive(instant: dt.datetime) -> dt.datetime:
    """An aware instant as naive local time; a naive value is taken as local already."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(LOCAL_TZ).replace(tzinfo=None)


def period_from_interval(start: dt.datetime, end: dt.datetime) -> Period:
    """The monthly period a run's data interval covers; refuses anything but one whole month."""
    s, e = to_local_naive(start), to_local_naive(end)
    period = Period.of(s.date())
    if (s, e) != (period.start, period.end):
        raise ValueError(f"data interval {s:%Y-%m-%d %H:%M}–{e:%Y-%m-%d %H:%M} (local) is not one month")
    return period


def day_from_interval(start: dt.datetime, end: dt.datetime) -> dt.date:
    """The local day a nightly run's data interval covers; refuses anything but one whole day."""
    s, e = to_local_naive(start), to_local_naive(end)
    if s.time() != dt.time() or e - s != dt.timedelta(days=1):
        raise ValueError(f"data interval {s:%Y-%m-%d %H:%M}–{e:%Y-%m-%d %H:%M} (local) is not one day")
    return s.date()
