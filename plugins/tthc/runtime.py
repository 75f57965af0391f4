"""What a task needs from its Airflow run: the period it covers and when the run started."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tthc.periods import day_from_interval, period_from_interval, to_local_naive

TIMEZONE = "Asia/Ho_Chi_Minh"
NIGHTLY_CRON = "0 0 * * *"  # at 00:00 local, for the day that just ended
MONTHLY_CRON = "0 0 1 * *"  # at 00:00 local on the 1st, for the month that just ended
START_DATE = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TIMEZONE))  # the city's first month


def default_args() -> dict:
    """Every task of both DAGs: retried with backoff, and the engineers told when it fails."""
    from tthc.notify import EngineerFailureNotifier

    return {
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": EngineerFailureNotifier(),
    }


def cut_off(context) -> str:
    """The run's start as naive local ISO time: the cut-off of what the sources hold (indicators.md §0).

    Taken by the run's first task, when work begins, and handed to every later task through
    XCom, so that all of a run's tasks — and a retry of one of them — use the same instant.
    (`dag.test()` stamps the run's start_date with its logical date, so the task's own start is
    the reliable reading.)
    """
    ti = context["ti"]
    start = getattr(ti, "start_date", None) or dt.datetime.now(dt.UTC)
    return to_local_naive(start).replace(microsecond=0).isoformat()


def parse_cut_off(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def monthly_period(context) -> str:
    return period_from_interval(context["data_interval_start"], context["data_interval_end"]).code


def nightly_day(context) -> str:
    return day_from_interval(context["data_interval_start"], context["data_interval_end"]).isoformat()


def run_key(context) -> str:
    """One key per DAG and period: a rerun of the same period overwrites, never duplicates."""
    dag_id = context["dag"].dag_id
    period = monthly_period(context) if dag_id.endswith("scorecards") else nightly_day(context)
    return f"{dag_id}/{period}"


def reread_from(context) -> dt.datetime | None:
    """With param `reextract` (a corrected source), the run re-reads everything changed since
    its period began, whatever the watermarks say."""
    if not context["params"].get("reextract"):
        return None
    return to_local_naive(context["data_interval_start"])


def should_send(context) -> bool:
    """Only the schedule mails by default: a backfill or a manual run (the monthly delivery to the
    office, the nightly early warnings to units) mails only when its conf says `send: true`
    (the ledgers still stop any re-send)."""
    asked = context["params"].get("send")
    return bool(asked) if asked is not None else context["dag_run"].run_type == "scheduled"
