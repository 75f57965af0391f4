"""tthc_nightly — every night at 00:00 Asia/Ho_Chi_Minh, for the local day that just ended:
extract the replica and the national feeds incrementally (everything changed since the last
committed watermark, as the sources stand when the run starts), then run the quality gate
(quarantine, exclusions, de-duplicated alerts) and store its outcome under that day, then the
early warning (cảnh báo sớm): each unit mailed what it must act on before the portal counts it,
the office a weekly summary with the month-end forecast.

Param `send` (unset: scheduled runs mail the warnings, backfills and manual runs only count them).
A mail server that cannot be reached does not fail the night (tthc.orchestration.pipeline.early_warning)."""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from tthc.delivery.failure_notifier import EngineerFailureNotifier
from tthc.orchestration import pipeline, runtime


@dag(
    dag_id=runtime.NIGHTLY_DAG,
    schedule=CronDataIntervalTimetable(runtime.NIGHTLY_CRON, timezone=runtime.TIMEZONE),
    start_date=runtime.START_DATE,
    catchup=True,
    max_active_runs=1,
    default_args=runtime.default_args(),
    on_failure_callback=EngineerFailureNotifier(),
    params={
        "send": Param(None, type=["null", "boolean"],
                      description="mail the early warnings; unset: scheduled runs do, backfills and manual runs not"),
    },
    tags=["tthc", "nightly", "extract", "quality", "early-warning"],
    doc_md=__doc__,
)
def tthc_nightly():
    @task(multiple_outputs=True, retries=0)
    def preflight() -> dict:
        """Check everything the run needs (tthc.orchestration.preflight), then record the run's
        cut-off, period, key and resolved params, for every later task."""
        return {**runtime.run_facts(get_current_context()), "preflight": pipeline.preflight()}

    run = preflight()
    cut_off = run["cut_off"]
    extracted = [task(pipeline.extract_source)(run["run_key"], cut_off),
                 task(pipeline.extract_national)(run["run_key"], cut_off)]
    gate = task(pipeline.quality_gate)(runtime.NIGHTLY_DAG, run["period"], cut_off)
    extracted >> gate >> task(pipeline.early_warning)(cut_off, run["send"])


tthc_nightly()
