"""What a task needs from its Airflow run: the period it covers and when the run started."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tthc.periods import day_from_interval, period_from_interval, to_local_naive

TIMEZONE = "Asia/Ho_Chi_Minh"
NIGHTLY_CRON = "0 0 * * *"  # at 00:00 local, for the day that just ended
MONTHLY_CRON = "0 0 1 * *"  # at 00:00 local on the 1st, for the month that just ended
START_DATE = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TIMEZONE))  # the city's first month
NIGHTLY_DAG, MONTHLY_DAG = "tthc_nightly", "tthc_monthly_scorecards"


def default_args() -> dict:
    """Every task of both DAGs: retried with backoff, and the engineers told when it fails."""
    from tthc.delivery.failure_notifier import EngineerFailureNotifier

    return {
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": EngineerFailureNotifier(),
    }


def run_facts(context) -> dict:
    """What every later task of the run takes as arguments (XCom, `multiple_outputs`).

    `cut_off`: the run's start as naive local ISO time, the cut-off of what the sources hold
    (indicators.md §0). Taken by the run's first task, when work begins, so that all of a run's
    tasks — and a retry of one of them — use the same instant. (`dag.test()` stamps the run's
    start_date with its logical date, so the task's own start is the reliable reading.)
    `period`: the month (monthly DAG) or the day (nightly DAG) the run covers; `run_key`: one
    per DAG and period, so a rerun overwrites, never duplicates; `reread_from`, `send`, `resend`:
    the params, resolved (see reread_from and should_send).
    """
    ti = context["ti"]
    start = getattr(ti, "start_date", None) or dt.datetime.now(dt.UTC)
    dag_id = context["dag"].dag_id
    period = monthly_period(context) if dag_id == MONTHLY_DAG else nightly_day(context)
    reread = reread_from(context)
    return {
        "cut_off": to_local_naive(start).replace(microsecond=0).isoformat(),
        "period": period,
        "run_key": f"{dag_id}/{period}",
        "dag_run_id": context["run_id"],
        "reread_from": reread.isoformat() if reread else None,
        "send": should_send(context),
        "resend": bool(context["params"].get("resend", False)),
    }


def instant(value: str | dt.datetime | None) -> dt.datetime | None:
    """An instant passed through XCom (ISO text) as a datetime; datetimes pass unchanged."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def monthly_period(context) -> str:
    return period_from_interval(context["data_interval_start"], context["data_interval_end"]).code


def nightly_day(context) -> str:
    return day_from_interval(context["data_interval_start"], context["data_interval_end"]).isoformat()


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
