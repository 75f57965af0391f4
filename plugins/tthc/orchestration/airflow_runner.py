"""Running the DAGs through Airflow itself (`dag.test()`), for the CLI and the tests.

`dag.test()` runs every task of one DAG run in this process against the metadata database
of AIRFLOW_HOME (SQLite for the embedded default), with the same task code, XComs,
params and callbacks as under the scheduler.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

from tthc.orchestration.runtime import TIMEZONE
from tthc.paths import REPO_ROOT


class DagRunFailed(RuntimeError):
    pass


def migrate_metadata_db() -> None:
    """`airflow db migrate` (idempotent) for the AIRFLOW_HOME in the environment."""
    proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                          env=os.environ.copy())
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags")))
    if bag.import_errors:
        raise DagRunFailed(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, interval_end_local: dt.datetime, conf: dict | None = None) -> str:
    """Run the DAG run whose data interval ends at `interval_end_local`; returns its state.

    A manual run (which `dag.test()` makes) of a CronDataIntervalTimetable DAG covers the
    interval that ends at its logical date: the month of September runs at 1 October 00:00.
    """
    dag = load_dag(dag_id)
    logical_date = interval_end_local.replace(tzinfo=ZoneInfo(TIMEZONE))
    run = dag.test(logical_date=logical_date, run_conf=conf or {})
    state = str(getattr(run, "state", "unknown"))
    if state != "success":
        raise DagRunFailed(f"{dag_id} run ending {interval_end_local:%Y-%m-%d %H:%M} ended in state {state}")
    return state
