"""Success tests that need calendar arithmetic SQL cannot express portably.

Each finisher takes the rows its indicator's SQL returned (the population, with the
instants the test reads) and returns `unit_code, item_id, ok, detail` — `detail` a reason
code of the indicator's `reasons` (config/indicators.yaml), like the SQL's. Pure functions of
their inputs, the period and the working calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from tthc.calendar import WorkingCalendar
from tthc.periods import Period

EIGHT_WORKING_HOURS = 28_800  # seconds: "within 8 working hours" (calendar.md)
FEEDBACK_DAYS = 15            # a feedback item's deadline: the local date of forwarded_at + 15 days
APOLOGY_NOTICE = dt.timedelta(hours=24)  # letter 11821, 6.3: "01 ngày" read as 24 hours


def _instants(column: pd.Series) -> pd.Series:
    """Naive local instants, whether the driver gave datetimes (PostgreSQL) or text (SQLite)."""
    return pd.to_datetime(column, format="ISO8601")


def feedback_deadline_missed_from(forwarded_at: pd.Series) -> pd.Series:
    """The first instant that misses the deadline: 00:00 of the day after date(forwarded_at) + 15."""
    return forwarded_at.dt.normalize() + pd.Timedelta(days=FEEDBACK_DAYS + 1)


def _items(frame: pd.DataFrame, ok: pd.Series, detail: pd.Series | str) -> pd.DataFrame:
    out = frame[["unit_code", "item_id"]].copy()
    out["ok"] = ok.astype("int64").to_numpy()
    out["detail"] = detail
    return out


def petition_processing_on_time(frame: pd.DataFrame, cal: WorkingCalendar, period: Period) -> pd.DataFrame:
    """(published before end and in time) or (unanswered at end and the deadline after the month)."""
    forwarded, published = _instants(frame["forwarded_at"]), _instants(frame["published_at"])
    missed_from = feedback_deadline_missed_from(forwarded)
    answered_in_month = published < pd.Timestamp(period.end)
    in_time = answered_in_month & (published < missed_from)
    # the deadline is after the last day of M exactly when it is missed from after the day after it
    still_allowed = ~answered_in_month & (missed_from > pd.Timestamp(period.end))
    ok = in_time | still_allowed
    detail = answered_in_month.map({True: "answered_late", False: "unanswered_overdue"})
    return _items(frame, ok, detail)


def petition_handling_satisfaction(frame: pd.DataFrame, cal: WorkingCalendar, period: Period) -> pd.DataFrame:
    """Not dissatisfied, not repeated, and answered by its deadline (no forwarded_at: fails)."""
    forwarded, published = _instants(frame["forwarded_at"]), _instants(frame["published_at"])
    in_time = published < feedback_deadline_missed_from(forwarded)
    dissatisfied, repeated = frame["dissatisfied"].astype(bool), frame["repeated"].astype(bool)
    ok = ~dissatisfied & ~repeated & in_time
    detail = pd.Series("answered_late", index=frame.index)
    detail = detail.mask(repeated, "repeated")
    detail = detail.mask(dissatisfied, "dissatisfied")
    return _items(frame, ok, detail)


def d2_2_online_receipt_8wh(frame: pd.DataFrame, cal: WorkingCalendar, period: Period) -> pd.DataFrame:
    """First answer within 28,800 working seconds of submission.

    Unanswered dossiers still inside that window at the period's end are left out.
    """
    submitted, answered = _instants(frame["submitted_at"]), _instants(frame["first_answer_at"])
    unanswered = answered.isna()
    # an unanswered dossier is judged on the time it has had by the period's end
    until = answered.mask(unanswered, pd.Timestamp(period.end))
    elapsed = (until - submitted).dt.total_seconds()
    # Working time never exceeds elapsed time, so under 8 elapsed hours the calendar has
    # nothing to add; an answer beyond the calendar's last day is certainly late.
    worked = elapsed.copy()
    beyond_calendar = ~unanswered & (until >= pd.Timestamp(cal.last_day + dt.timedelta(days=1)))
    worked[beyond_calendar] = np.inf
    judge = (elapsed >= EIGHT_WORKING_HOURS) & ~beyond_calendar
    worked[judge] = cal.working_seconds_between_many(submitted[judge].to_numpy(), until[judge].to_numpy())
    keep = ~unanswered | (worked >= EIGHT_WORKING_HOURS)
    ok = ~unanswered & (worked <= EIGHT_WORKING_HOURS)
    detail = unanswered.map({True: "unanswered", False: "answered_late"})
    return _items(frame, ok, detail)[keep]


def d6_3_apology_before_due(frame: pd.DataFrame, cal: WorkingCalendar, period: Period) -> pd.DataFrame:
    """One item per late dossier: ok when one of its apologies was issued ≥ 24 h before due_at."""
    due, issued = _instants(frame["due_at"]), _instants(frame["apology_issued_at"])
    frame = frame.assign(timely=(issued <= due - APOLOGY_NOTICE))
    per_dossier = frame.groupby(["unit_code", "item_id"], dropna=False,
                                sort=False)["timely"].any().reset_index()
    return _items(per_dossier, per_dossier["timely"], "no_timely_apology")


FINISHERS: dict[str, Callable[[pd.DataFrame, WorkingCalendar, Period], pd.DataFrame]] = {
    "PETITION_PROCESSING_ON_TIME": petition_processing_on_time,
    "PETITION_HANDLING_SATISFACTION": petition_handling_satisfaction,
    "D2_2_ONLINE_RECEIPT_8WH": d2_2_online_receipt_8wh,
    "D6_3_APOLOGY_BEFORE_DUE": d6_3_apology_before_due,
}
