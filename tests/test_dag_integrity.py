"""DAG policy: the files import cleanly and every DAG is scheduled, tagged and alerting as agreed."""

import datetime as dt

import pytest
from airflow.sdk import CronDataIntervalTimetable

from tthc.delivery.failure_notifier import EngineerFailureNotifier
from tthc.periods import Period

EXPECTED = {"tthc_nightly", "tthc_monthly_scorecards"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(__import__("conftest").REPO / "dags"))


def test_no_import_errors_and_expected_ids(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_schedule_timezone_catchup_tags_callbacks(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert str(dag.timetable.timezone) == "Asia/Ho_Chi_Minh"
    assert dag.catchup is True
    assert {"tthc"} < set(dag.tags)
    callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    assert any(isinstance(c, EngineerFailureNotifier) for c in callbacks)
    for task in dag.tasks:
        task_callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) \
            else [task.on_failure_callback]
        assert any(isinstance(c, EngineerFailureNotifier) for c in task_callbacks), task.task_id
        # the preflight fails the run at once (a wrong setting does not heal by waiting); work retries
        assert task.retries == 0 if task.task_id == "preflight" else task.retries >= 1, task.task_id


def _interval_after(dag, when_local: dt.datetime):
    """The first data interval the scheduler would create from `when_local` (core timetable)."""
    from zoneinfo import ZoneInfo

    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    from tthc.orchestration.runtime import TIMEZONE

    core = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=when_local.replace(tzinfo=ZoneInfo(TIMEZONE)), latest=None, catchup=True)
    return core.next_dagrun_info(last_automated_data_interval=None, restriction=restriction).data_interval


def test_nightly_interval_is_one_local_day(dagbag):
    from tthc.periods import day_from_interval

    interval = _interval_after(dagbag.dags["tthc_nightly"], dt.datetime(2025, 9, 14))
    assert day_from_interval(interval.start, interval.end) == dt.date(2025, 9, 14)
    assert interval.end - interval.start == dt.timedelta(days=1)


def test_monthly_interval_is_the_local_month(dagbag):
    from tthc.periods import period_from_interval

    interval = _interval_after(dagbag.dags["tthc_monthly_scorecards"], dt.datetime(2025, 9, 1))
    assert period_from_interval(interval.start, interval.end) == Period("2025-09")


def test_monthly_dag_delivers_last_and_only_scheduled_runs_send_by_default(dagbag):
    dag = dagbag.dags["tthc_monthly_scorecards"]
    assert dag.params["send"] is None and dag.params["resend"] is False  # None: only scheduled runs send
    deliver = dag.get_task("deliver")
    assert deliver.downstream_list == []
    assert "finish_month_folder" in deliver.upstream_task_ids
    # rendering is spread over dynamically mapped tasks, one per batch of units
    assert dag.task_dict["render_scorecards"].is_mapped


def test_nightly_warns_after_the_quality_gate_and_only_scheduled_runs_mail(dagbag):
    dag = dagbag.dags["tthc_nightly"]
    assert dag.params["send"] is None  # None: only scheduled runs send (runtime.should_send)
    warn = dag.get_task("early_warning")
    assert warn.upstream_task_ids == {"quality_gate", "preflight"} and warn.downstream_list == []
