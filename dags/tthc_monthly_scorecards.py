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
from tthc import pipeline, runtime
from tthc.notify import EngineerFailureNotifier


@dag(
    dag_id="tthc_monthly_scorecards",
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
    @task
    def record_cut_off() -> str:
        return runtime.cut_off(get_current_context())

    @task
    def extract_source(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.extract_source(runtime.run_key(ctx), runtime.parse_cut_off(cut_off), runtime.reread_from(ctx))

    @task
    def extract_national(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.extract_national(runtime.run_key(ctx), runtime.parse_cut_off(cut_off),
                                         runtime.reread_from(ctx))

    @task
    def quality_gate(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.quality_gate("tthc_monthly_scorecards", runtime.monthly_period(ctx),
                                     runtime.parse_cut_off(cut_off))

    @task
    def compute_indicators(cut_off: str) -> dict:
        ctx = get_current_context()
        return pipeline.compute_indicators(runtime.monthly_period(ctx), runtime.parse_cut_off(cut_off))

    @task
    def start_month_folder(cut_off: str) -> str:
        ctx = get_current_context()
        return pipeline.start_month_folder(runtime.monthly_period(ctx), runtime.parse_cut_off(cut_off), ctx["run_id"])

    @task
    def plan_scorecards() -> list[list[str]]:
        return pipeline.plan_scorecards(runtime.monthly_period(get_current_context()))

    @task(max_active_tis_per_dagrun=8)
    def render_scorecards(units: list[str], cut_off: str, staging: str) -> int:
        ctx = get_current_context()
        return pipeline.render_scorecards(runtime.monthly_period(ctx), runtime.parse_cut_off(cut_off), staging, units)

    @task
    def finish_month_folder(cut_off: str, staging: str) -> dict:
        ctx = get_current_context()
        return pipeline.finish_month_folder(runtime.monthly_period(ctx), runtime.parse_cut_off(cut_off), staging)

    @task
    def deliver() -> dict:
        ctx = get_current_context()
        return pipeline.deliver(runtime.monthly_period(ctx), send=runtime.should_send(ctx),
                                resend=ctx["params"]["resend"])

    cut_off = record_cut_off()
    extracted = [extract_source(cut_off), extract_national(cut_off)]
    computed = compute_indicators(cut_off)
    extracted >> quality_gate(cut_off) >> computed
    staging = start_month_folder(cut_off)
    batches = plan_scorecards()
    computed >> [staging, batches]
    # One mapped task per batch of units: the executor spreads the rendering over its workers.
    rendered = render_scorecards.partial(cut_off=cut_off, staging=staging).expand(units=batches)
    rendered >> finish_month_folder(cut_off, staging) >> deliver()


tthc_monthly_scorecards()
