"""Running the DAGs through Airflow itself (`dag.test()`), for the CLI and the tests.

`dag.test()` runs every task of one DAG run in one process against the metadata database
of AIRFLOW_HOME (SQLite for the embedded default), with the same task code, XComs,
params and callbacks as under the scheduler.

The operator's command runs each DAG run in a child process (`watch_dag_run`): Airflow's
output goes to a log file, the console gets one line per finished task (tthc.orchestration.
progress), the first task that fails for good ends the command with its error, and SIGINT or
SIGTERM stop it within seconds. Under the scheduler none of this applies: the DAGs keep
their retries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from tthc.orchestration.runtime import TIMEZONE
from tthc.paths import REPO_ROOT

STOP_GRACE_SECONDS = 4.0  # after SIGINT, a task's cleanup (staging removed, ledger marked) takes well under this


class DagRunFailed(RuntimeError):
    pass


class Interrupted(RuntimeError):
    """The operator stopped the command (SIGINT or SIGTERM)."""


def migrate_metadata_db(log_file: Path | None = None) -> None:
    """`airflow db migrate` (idempotent) for the AIRFLOW_HOME in the environment."""
    proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                          env=os.environ.copy())
    if log_file is not None:
        with log_file.open("a", encoding="utf-8") as f:
            f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags")))
    if bag.import_errors:
        raise DagRunFailed(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, interval_end_local: dt.datetime, conf: dict | None = None,
            retries: int | None = None) -> str:
    """Run the DAG run whose data interval ends at `interval_end_local`; returns its state.

    A manual run (which `dag.test()` makes) of a CronDataIntervalTimetable DAG covers the
    interval that ends at its logical date: the month of September runs at 1 October 00:00.
    `retries`, when given, replaces every task's retries for this run (the operator's
    command runs with none unless asked: an error is shown at once, not after 2 × 5 min).
    """
    dag = load_dag(dag_id)
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    logical_date = interval_end_local.replace(tzinfo=ZoneInfo(TIMEZONE))
    run = dag.test(logical_date=logical_date, run_conf=conf or {})
    state = str(getattr(run, "state", "unknown"))
    if state != "success":
        raise DagRunFailed(f"{dag_id} run ending {interval_end_local:%Y-%m-%d %H:%M} ended in state {state}")
    return state


@dataclass
class TaskLine:
    task: str
    state: str
    seconds: float | None
    text: str  # the summary, or the error


@dataclass
class RunOutcome:
    lines: list[TaskLine] = field(default_factory=list)
    failed: TaskLine | None = None


def _read_events(path: Path, offset: int) -> tuple[list[dict], int]:
    if not path.exists():
        return [], offset
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next poll
    return [json.loads(line) for line in complete.splitlines() if line.strip()], offset + len(complete)


class _StopRequest:
    """SIGINT/SIGTERM to the command become a flag the watch loop acts on."""

    def __init__(self):
        self.signal: int | None = None

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, _frame):
        self.signal = signum

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT to the child's process group — a KeyboardInterrupt in the running task, whose
    cleanup runs — then SIGKILL if it has not ended within the grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def watch_dag_run(dag_id: str, interval_end_local: dt.datetime, conf: dict, retries: int, log_file: Path,
                  on_event: Callable[[dict], None], verbose: bool = False) -> None:
    """Run one DAG run in a child process; `on_event` gets each finished task's event.

    Raises DagRunFailed with the failing task's error as soon as a task fails for good, and
    Interrupted when the command is stopped; the child is stopped either way.
    """
    events = log_file.with_suffix(f".{dag_id}.{interval_end_local:%Y%m%d}.events")
    events.unlink(missing_ok=True)
    env = {**os.environ, "TTHC_PROGRESS_FILE": str(events)}
    with log_file.open("ab") as log, _StopRequest() as stop:
        log_offset = log.tell()
        proc = subprocess.Popen([sys.executable, "-m", "tthc.orchestration.airflow_runner", dag_id,
                                 interval_end_local.isoformat(), json.dumps(conf), str(retries)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)  # its own group: a terminal's Ctrl-C reaches us only
        offset, failure = 0, None
        try:
            while True:
                finished = proc.poll() is not None
                new, offset = _read_events(events, offset)
                for event in new:
                    on_event(event)
                    if event["state"] == "failed" and failure is None:
                        failure = event
                if verbose:
                    log_offset = _stream(log_file, log_offset)
                if failure is not None:
                    _stop(proc)
                    raise DagRunFailed(f"task {failure['task']} of {dag_id} failed: {failure['error']}")
                if stop.signal is not None:
                    _stop(proc)
                    raise Interrupted(f"stopped by {signal.Signals(stop.signal).name}")
                if finished:
                    break
                time.sleep(0.2)
        finally:
            _stop(proc)
            events.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise DagRunFailed(f"{dag_id}: the run ended with exit code {proc.returncode} without a task failing; "
                           f"see {log_file}")


def _stream(log_file: Path, offset: int) -> int:
    with log_file.open("rb") as f:
        f.seek(offset)
        data = f.read()
    sys.stderr.write(data.decode("utf-8", errors="replace"))
    sys.stderr.flush()
    return offset + len(data)


def _child_main(argv: list[str]) -> int:
    """The child of `watch_dag_run`: one dag.test() with the progress listener registered."""
    dag_id, end, conf, retries = argv
    path = os.environ.get("TTHC_PROGRESS_FILE")
    if path:
        from airflow.sdk.listener import get_listener_manager

        from tthc.orchestration.progress import ProgressListener

        get_listener_manager().add_listener(ProgressListener(Path(path)))
    try:
        run_dag(dag_id, dt.datetime.fromisoformat(end), json.loads(conf), retries=int(retries))
    except DagRunFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
