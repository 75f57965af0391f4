"""The DAGs under Airflow's own scheduler: a CeleryExecutor run, and backfills with LocalExecutor.

Each test starts a real Airflow 3 installation as subprocesses (tests/airflow_stack.py):
a fresh PostgreSQL metadata database, `airflow db migrate`, the api-server (Execution API)
on a free loopback port, the dag-processor on this repository's dags/, the scheduler, and
for Celery a worker on the machine's Redis. The province is generated (SQLite replica and
national store), the national services are the real HTTP mock on loopback, the warehouse
is PostgreSQL and the mail server is a real SMTP server; every component gets the same
AIRFLOW_CONN_* connections.

The scheduler's own cron schedule is switched off (`[scheduler] use_job_schedule`): the
DAGs have catchup from 2025-01, which would otherwise queue every month since then as soon
as they are unpaused. Runs here come from the REST API and from `airflow backfill create`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from airflow_stack import AirflowStack, postgres_database, redis_broker
from national_server import running_national_mock
from test_e2e_dag_runs import _duplicate_keys, _table_counts, generate_small_province

from tthc.orchestration.embedded import DEMO_TOKEN
from tthc.periods import Period

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MONTH = Period("2025-09")  # the backfilled month; the province also has the month before
ICT = dt.timezone(dt.timedelta(hours=7))
RUN_TIMEOUT = 420  # seconds for a batch of runs on two shared cores
OFFICE = "vanphong@ubnd.hue.example.vn"  # config/recipients.yaml office_to


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """A small generated province, August and September 2025, served by the national mock."""
    source, national = generate_small_province(tmp_path_factory.mktemp("province"))
    with running_national_mock(f"sqlite:///{national}", DEMO_TOKEN) as base_url:
        yield source, base_url.rsplit(":", 1)[1]


def _connections(province, warehouse_url: str, smtp_port: int, output: Path) -> dict[str, str]:
    """outputs.md's connections and output Variable, as every component's environment."""
    source, national_port = province
    return {
        "AIRFLOW_CONN_TTHC_SOURCE": f"sqlite:///{source}",
        "AIRFLOW_CONN_NATIONAL_PORTAL": f"http://:{DEMO_TOKEN}@127.0.0.1:{national_port}",
        "AIRFLOW_CONN_WAREHOUSE": warehouse_url.replace("postgresql+psycopg2://", "postgresql://"),
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp_port}",
        "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR": str(output),
    }


@contextlib.contextmanager
def airflow_stack(home: Path, settings: dict[str, str]):
    """A migrated installation with its api-server and dag-processor running; stops everything after."""
    with postgres_database("tthc_test_airflow") as metadata_url:
        stack = AirflowStack(home, metadata_url, {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"} | settings)
        try:
            stack.airflow("db", "migrate", timeout=600)
            stack.start_api_server()
            stack.start("dag-processor", "dag-processor")
            _wait_for_dags(stack, {"tthc_nightly", "tthc_monthly_scorecards"})
            yield stack
        finally:
            stack.stop()
            stack.metadata().dispose()


def _wait_for_dags(stack: AirflowStack, dag_ids: set[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    with stack.metadata().connect() as conn:
        while time.monotonic() < deadline:
            stack.assert_running()
            parsed = set(conn.execute(sa.text("SELECT DISTINCT dag_id FROM serialized_dag")).scalars())
            conn.rollback()
            if dag_ids <= parsed:
                return
            time.sleep(2)
    raise TimeoutError(f"the dag-processor did not serialise {dag_ids}:\n{stack.tail('dag-processor')}")


def _trigger(stack: AirflowStack, dag_id: str, logical_date: dt.datetime, conf: dict) -> str:
    """A manual run through the REST API; its data interval is the one that ends at `logical_date`.

    (`airflow dags trigger --logical-date` is no substitute: Airflow 3.3 infers a manual
    run's data interval there from the moment of triggering, not from the logical date.)
    """
    response = requests.post(f"http://127.0.0.1:{stack.api_port}/api/v2/dags/{dag_id}/dagRuns",
                             json={"logical_date": logical_date.isoformat(), "conf": conf}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def _task_log(stack: AirflowStack, dag_id: str, run_id: str, task_id: str) -> str:
    task_dir = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    logs = sorted(task_dir.rglob("*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(errors="replace")[-3000:] if logs else "(no task log)"


def _wait_for_runs(stack: AirflowStack, dag_id: str, run_ids_sql: str, params: dict, expected: int,
                   timeout: float = RUN_TIMEOUT) -> list[str]:
    """Wait until `expected` runs picked by `run_ids_sql` succeeded; fail at the first failed try.

    A retry counts as a failure: the DAGs retry after 5 minutes, and a task that needs a second
    try on a fresh, healthy stack shows a defect (a race, a bad connection), not bad luck.
    """
    deadline = time.monotonic() + timeout
    with stack.metadata().connect() as conn:
        while True:
            stack.assert_running()
            runs = conn.execute(sa.text(f"SELECT run_id, state FROM dag_run WHERE dag_id = :dag AND run_id IN "
                                        f"({run_ids_sql})"), {"dag": dag_id, **params}).all()
            bad = conn.execute(sa.text(
                "SELECT run_id, task_id, state FROM task_instance WHERE dag_id = :dag AND state IN "
                f"('failed', 'up_for_retry', 'upstream_failed') AND run_id IN ({run_ids_sql})"),
                {"dag": dag_id, **params}).all()
            conn.rollback()
            if bad:
                run_id, task_id, state = bad[0]
                raise AssertionError(f"{dag_id} {run_id}: task {task_id} is {state}\n"
                                     f"{_task_log(stack, dag_id, run_id, task_id)}")
            if len(runs) == expected and all(state == "success" for _, state in runs):
                return sorted(r for r, _ in runs)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} runs {runs} not all successful after {timeout:.0f} s\n"
                                   f"{stack.tail('scheduler')}")
            time.sleep(3)


def _assert_celery_executor_loads() -> None:
    """The installed Celery provider and Celery must fit together, or no component can start the executor."""
    try:
        import airflow.providers.celery.executors.celery_executor  # noqa: F401
    except ImportError as exc:
        from importlib.metadata import version

        pytest.fail(f"CeleryExecutor cannot be imported with celery {version('celery')} and "
                    f"apache-airflow-providers-celery {version('apache-airflow-providers-celery')}: {exc}")


def _celery_results(stack: AirflowStack, run_id: str, timeout: float = 30) -> list:
    """The run's task instances with the state Celery's result backend holds for each.

    The worker records a task's result just after the task itself reported success to
    Airflow, so this waits (briefly) until every result is in.
    """
    deadline = time.monotonic() + timeout
    with stack.metadata().connect() as conn:
        while True:
            tasks = conn.execute(sa.text(
                "SELECT ti.task_id, ti.queue, ti.external_executor_id, m.status FROM task_instance ti "
                "LEFT JOIN celery_taskmeta m ON m.task_id = ti.external_executor_id "
                "WHERE ti.dag_id = 'tthc_nightly' AND ti.run_id = :run_id ORDER BY ti.task_id"),
                {"run_id": run_id}).all()
            conn.rollback()
            if all(t.status == "SUCCESS" for t in tasks) or time.monotonic() > deadline:
                return tasks
            time.sleep(1)


def test_the_nightly_dag_runs_on_celery_workers(province, smtp_server, tmp_path):
    """CeleryExecutor with Redis as broker: the scheduler queues, a separate worker process runs every task."""
    _assert_celery_executor_loads()
    with (redis_broker() as (broker_url, queue), postgres_database("tthc_test_wh") as warehouse_url):
        settings = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            **_connections(province, warehouse_url, smtp_server[1], tmp_path / "output"),
        }
        with airflow_stack(tmp_path / "airflow", settings) as stack:
            stack.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + stack.metadata_url.replace("+psycopg2", "")
            stack.start("scheduler", "scheduler", "--skip-serve-logs")
            stack.start("worker", "celery", "worker", "--concurrency", "2", "--queues", queue,
                        "--celery-hostname", f"{queue}@%h", "--skip-serve-logs", "--without-gossip",
                        "--without-mingle")
            stack.airflow("dags", "unpause", "tthc_nightly")
            run_id = _trigger(stack, "tthc_nightly", dt.datetime(2025, 10, 1, tzinfo=ICT), {})
            _wait_for_runs(stack, "tthc_nightly", ":run_id", {"run_id": run_id}, expected=1)

            tasks = _celery_results(stack, run_id)
        assert [t.task_id for t in tasks] == ["early_warning", "extract_national", "extract_source", "preflight",
                                              "quality_gate"]
        # every task went through our queue to the worker: Celery's result backend has its task id
        assert all(t.queue == queue and t.external_executor_id and t.status == "SUCCESS" for t in tasks), tasks
        worker_log = (tmp_path / "airflow" / "component-logs" / "worker.log").read_text(errors="replace")
        assert f"{queue}@" in worker_log and "ready" in worker_log

        warehouse = sa.create_engine(warehouse_url)
        with warehouse.connect() as conn:
            dossiers = conn.execute(sa.text("SELECT COUNT(*) FROM stg_dossiers")).scalar_one()
            gate = conn.execute(sa.text("SELECT run_key, status FROM quality_runs")).all()
        warehouse.dispose()
        assert dossiers > 1000  # the whole replica, read by the worker's tasks
        assert [r.run_key for r in gate] == ["tthc_nightly/2025-09-30"]  # the night that ended at logical date


MONTHLY = "tthc_monthly_scorecards"


def _backfill_args(first: str, last: str, *extra: str) -> list[str]:
    """`airflow backfill create` for the months whose logical dates (each month's start) lie in [first, last]."""
    return ["backfill", "create", "--dag-id", MONTHLY, "--from-date", first, "--to-date", last,
            "--reprocess-behavior", "completed", "--max-active-runs", "1", *extra]


def _dry_run_months(stack: AirflowStack, first: str, last: str) -> list[str]:
    """The months a backfill would run, from `--dry-run`'s table of logical dates."""
    out = stack.airflow(*_backfill_args(first, last, "--dry-run")).stdout
    starts = [dt.datetime.fromisoformat(cell.strip()) for line in out.splitlines() if line.startswith("|")
              for cell in line.strip("|").split("|")[:1] if cell.strip()[:2] == "20"]
    return [s.astimezone(ICT).strftime("%Y-%m") for s in starts]


def _backfill(stack: AirflowStack, conf: dict) -> list[str]:
    """Backfill MONTH (the scheduler runs it); returns the run ids once all succeeded and the backfill closed."""
    month_start = dt.datetime.combine(MONTH.first_day, dt.time(), ICT).isoformat()
    stack.airflow(*_backfill_args(month_start, month_start, "--dag-run-conf", json.dumps(conf)))
    with stack.metadata().connect() as conn:
        backfill_id = conn.execute(sa.text("SELECT MAX(id) FROM backfill WHERE dag_id = :dag"),
                                   {"dag": MONTHLY}).scalar_one()
    runs = _wait_for_runs(stack, MONTHLY, "SELECT dr.run_id FROM backfill_dag_run b JOIN dag_run dr ON "
                          "dr.id = b.dag_run_id WHERE b.backfill_id = :backfill", {"backfill": backfill_id},
                          expected=1)
    _wait_for_backfill_completed(stack, backfill_id)
    return runs


def _wait_for_backfill_completed(stack: AirflowStack, backfill_id: int, timeout: float = 60) -> None:
    """The scheduler closes a backfill shortly after its last run; only then may the next one be created."""
    deadline = time.monotonic() + timeout
    with stack.metadata().connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(sa.text("SELECT completed_at FROM backfill WHERE id = :id"),
                            {"id": backfill_id}).scalar_one() is not None:
                return
            conn.rollback()
            time.sleep(2)
    raise TimeoutError(f"backfill {backfill_id} not marked completed\n{stack.tail('scheduler')}")


def _csv_outputs(folder: Path) -> dict[str, bytes]:
    """The month's CSV files (its PDFs carry their build time; the CSVs must not change)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def _office_mail(inbox) -> list[str]:
    return sorted(m["Subject"] for m in inbox.messages if OFFICE in m["X-Envelope-To"])


def test_a_backfill_rerun_neither_duplicates_rows_nor_resends_mail(province, smtp_server, tmp_path):
    """`airflow backfill create --reprocess-behavior completed`, twice, on LocalExecutor.

    Intended behaviour: a backfill rebuilds the month from the sources as they stand; asked to
    send (`send: true`), it delivers a month never delivered exactly once, and rerunning the
    same backfill never sends it again (only `resend: true` would): the delivery ledger decides.
    """
    from tthc.reports.formatting import format_month

    _, smtp_port, inbox = smtp_server
    out = tmp_path / "output"
    with postgres_database("tthc_test_wh") as warehouse_url:
        settings = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                    **_connections(province, warehouse_url, smtp_port, out)}
        with airflow_stack(tmp_path / "airflow", settings) as stack:
            # A range of months is chosen by logical date, each month's start: with the +07:00 offset
            # (docs/runbook.md) both months; read as UTC, 2025-08-01 00:00 falls after August's start.
            assert _dry_run_months(stack, "2025-08-01T00:00:00+07:00", "2025-09-01T00:00:00+07:00") == \
                ["2025-08", "2025-09"]
            assert _dry_run_months(stack, "2025-08-01", "2025-09-01") == ["2025-09"]

            stack.start("scheduler", "scheduler", "--skip-serve-logs")
            stack.airflow("dags", "unpause", MONTHLY)  # a backfill runs only while its DAG is unpaused
            first_runs = _backfill(stack, {"send": True})
            warehouse = sa.create_engine(warehouse_url)
            folder = out / MONTH.code
            first_csv, first_counts, first_mail = _csv_outputs(folder), _table_counts(warehouse), _office_mail(inbox)
            first_delivery = json.loads((folder / "manifest.json").read_text())["delivery"]

            second_runs = _backfill(stack, {"send": True})  # the same backfill again
            with stack.metadata().connect() as conn:
                run = conn.execute(sa.text(
                    "SELECT run_id, run_type, data_interval_start, data_interval_end FROM dag_run "
                    "WHERE dag_id = :dag"), {"dag": MONTHLY}).one()
                tries = conn.execute(sa.text(
                    "SELECT try_number FROM task_instance WHERE dag_id = :dag AND task_id = 'deliver'"),
                    {"dag": MONTHLY}).scalar_one()

        # one backfill run for the month, reprocessed in place by the second backfill
        assert first_runs == second_runs == [run.run_id] and run.run_type == "backfill"
        assert (run.data_interval_start.astimezone(ICT).date(), run.data_interval_end.astimezone(ICT).date()) == \
            (MONTH.first_day, MONTH.next().first_day)
        assert tries == 2

        # idempotent: no table gains rows but the load log, no natural key twice, the same CSV bytes
        after = _table_counts(warehouse)
        changed = {t: (first_counts[t], after[t]) for t in first_counts if first_counts[t] != after[t]}
        assert set(changed) <= {"etl_loads"}, changed
        assert _duplicate_keys(warehouse) == {}
        with warehouse.connect() as conn:
            gated = conn.execute(sa.text("SELECT run_key FROM quality_runs")).scalars().all()
        warehouse.dispose()
        assert gated == [f"{MONTHLY}/{MONTH.code}"]
        assert "indicators.csv" in first_csv and _csv_outputs(folder) == first_csv

        # the month went to the office once, by the first backfill; the rerun sent nothing
        sent = first_delivery["sent"]
        assert sent and all(key.startswith("office/") for key in sent)
        assert len(first_mail) == len(sent) and all(format_month(MONTH.code) in s for s in first_mail)
        again = json.loads((folder / "manifest.json").read_text())["delivery"]
        assert again["sent"] == [] and again["already_sent"] == sent
        assert _office_mail(inbox) == first_mail
