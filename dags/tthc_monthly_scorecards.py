"""tthc_monthly_scorecards — at 00:00 Asia/Ho_Chi_Minh on the 1st, for the month that just ended.

Refresh the extraction (a run reads the sources as they stand when it starts), run the
quality gate, compute every indicator, build the month's folder aside (CSV, ranked lists,
then the scorecards rendered by one mapped task per batch of units), move it into place
whole with its manifest, then deliver it to the office exactly once — unless the month's quality gate
has a critical failure, in which case the engineers are told why and nothing is sent.

Params: `send` (unset: scheduled runs send, backfills and manual runs do not; `tthc-scorecards run`
passes it from --send),
`resend` (default false; a rerun or backfill re-sends only when this is set) and
`reextract` (default false; re-read the sources from the period's start, for a corrected source).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from tthc.delivery.failure_notifier import EngineerFailureNotifier
from tthc.orchestration import pipeline, runtime


@dag(
    dag_id=runtime.MONTHLY_DAG,
    schedule=CronDataIntervalTimetable(runtime.MONTHLY_CRON, timezone=runtime.TIMEZONE),
    start_date=runtime.START_DATE,
    catchup=True,
    max_active_runs=1,
    default_args=runtime.default_args(),
    on_failure_callback=EngineerFailureNotifier(),
    params={
        "send": Param(None, type=["null", "boolean"],
                      description="deliver to the office; unset: scheduled runs do, backfills and manual runs not"),
        "resend": Param(False, type="boolean", description="send again even if the ledger says sent"),
        "reextract": Param(False, type="boolean",
                           description="re-read the sources from the period's start (after a source was corrected)"),
    },
    tags=["tthc", "monthly", "scorecards", "delivery"],
    doc_md=__doc__,
)
def tthc_monthly_scorecards():
    @task(multiple_outputs=True, retries=0)
    def preflight() -> dict:
        """Check everything the run needs (tthc.orchestration.preflight), then record the run's
        cut-off, period, key and resolved params, for every later task."""
        return {**runtime.run_facts(get_current_context()), "preflight": pipeline.preflight()}

    run = preflight()
    period, cut_off = run["period"], run["cut_off"]

    extracted = [
        task(pipeline.extract_source)(run["run_key"], cut_off, run["reread_from"]),
        task(pipeline.extract_national)(run["run_key"], cut_off, run["reread_from"]),
    ]
    gate = task(pipeline.quality_gate)(runtime.MONTHLY_DAG, period, cut_off)
    computed = task(pipeline.compute_indicators)(period, cut_off)
    extracted >> gate >> computed
    staging = task(pipeline.start_month_folder)(period, cut_off, run["dag_run_id"])
    batches = task(pipeline.plan_scorecards)(period)
    computed >> [staging, batches, task(pipeline.backtest_forecast)(period, cut_off)]
    # One mapped task per batch of units: the executor spreads the rendering over its workers.
    rendered = (task(pipeline.render_scorecards, max_active_tis_per_dagrun=8)
                .partial(period=period, cut_off=cut_off, staging=staging).expand(units=batches))
    finished = task(pipeline.finish_month_folder)(period, cut_off, staging)
    rendered >> finished >> task(pipeline.deliver)(period, run["send"], run["resend"])


tthc_monthly_scorecards()
