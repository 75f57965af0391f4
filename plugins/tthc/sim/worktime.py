"""Vectorised working time for the generator: instants as int64 seconds of naive local time.

Built from the province's WorkingCalendar (tthc.calendar) over the generated range, it
converts instants to cumulative working seconds and back with numpy searchsorted, so that
millions of receipts and appointments can be placed in working time at once. Results agree
with WorkingCalendar.working_seconds_between / add_working_seconds at one-second resolution.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tthc.calendar import WorkingCalendar

EPOCH = dt.date(1970, 1, 1)
DAY = 86_400


def day_seconds(d: dt.date) -> int:
    """Seconds from the epoch to 00:00 local of d."""
    return (d - EPOCH).days * DAY


def _seconds_of(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@dataclass(frozen=True)
class WorkClock:
    opens: np.ndarray  # start of each office-hours interval of each working day (sorted)
    lengths: np.ndarray  # its length in seconds
    before: np.ndarray  # working seconds before each interval
    working_days: frozenset[dt.date]

    @classmethod
    def build(cls, cal: WorkingCalendar, first: dt.date, last: dt.date) -> WorkClock:
        opens, lengths, days = [], [], []
        for d in cal.working_days_in(first, last + dt.timedelta(days=1)):
            days.append(d)
            base = day_seconds(d)
            for start, end in cls._intervals(cal, d):
                opens.append(base + _seconds_of(start))
                lengths.append(_seconds_of(end) - _seconds_of(start))
        opens_a, lengths_a = np.array(opens, dtype=np.int64), np.array(lengths, dtype=np.int64)
        before = np.concatenate([[0], np.cumsum(lengths_a)[:-1]]).astype(np.int64)
        return cls(opens_a, lengths_a, before, frozenset(days))

    @staticmethod
    def _intervals(cal: WorkingCalendar, d: dt.date) -> list:
        schedules = [s for s in cal.office_hours.schedules if s.effective_from <= d]
        return schedules[-1].intervals

    def to_ws(self, t: np.ndarray) -> np.ndarray:
        """Working seconds from the clock's start up to each instant t."""
        i = np.searchsorted(self.opens, t, side="right") - 1
        i = np.clip(i, 0, len(self.opens) - 1)
        inside = np.clip(t - self.opens[i], 0, self.lengths[i])
        return np.where(t < self.opens[0], 0, self.before[i] + inside)

    def from_ws(self, ws: np.ndarray) -> np.ndarray:
        """The earliest instant whose working-seconds count reaches ws (ws > 0)."""
        k = np.searchsorted(self.before + self.lengths, ws, side="left")
        k = np.clip(k, 0, len(self.opens) - 1)
        return self.opens[k] + (ws - self.before[k])

    def add(self, t: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Instants `seconds` working seconds after t (off-hours t counts from the next opening)."""
        return self.from_ws(self.to_ws(t) + seconds)

    def between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(self.to_ws(b) - self.to_ws(a), 0)
