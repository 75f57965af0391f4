"""tthc_nightly — every night at 00:00 Asia/Ho_Chi_Minh, for the local day that just ended:
extract the replica and the national feeds incrementally (everything changed since the last
committed watermark, as the sources stand when the run starts), then run the quality gate
(quarantine, exclusions, de-duplicated alerts) and store its outcome under that day, then the
early warning (cảnh báo sớm): each unit mailed what it must act on before the portal counts it,
the office a weekly summary with the month-end forecast.

Param `send` (unset: scheduled runs mail the warnings, backfills and manual runs only count them).
A mail server that cannot be reached does not fail the night (tthc.pipeline.early_warning)."""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from tthc import pipeline, runtime
from tthc.notify import EngineerFailureNotifier


@dag(
    dag_id="tthc_nightly",
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
    @task
    def record_cut_off() -> str:
        return runtime.cut_off(get_current_context())

    @task
    def extract_source(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.extract_source(runtime.run_key(ctx), runtime.parse_cut_off(cut_off))

    @task
    def extract_national(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.extract_national(runtime.run_key(ctx), runtime.parse_cut_off(cut_off))

    @task
    def quality_gate(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.quality_gate("tthc_nightly", runtime.nightly_day(ctx), runtime.parse_cut_off(cut_off))

    @task
    def early_warning(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.early_warning(runtime.parse_cut_off(cut_off), send=runtime.should_send(ctx))

    cut_off = record_cut_off()
    [extract_source(cut_off), extract_national(cut_off)] >> quality_gate(cut_off) >> early_warning(cut_off)


tthc_nightly()
