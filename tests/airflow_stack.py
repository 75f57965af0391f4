"""A real Airflow 3 installation run as subprocesses, for tests of what the scheduler drives.

One `AirflowStack` is one AIRFLOW_HOME with its own PostgreSQL metadata database and an
api-server on a free loopback port (the Execution API the task runners call), plus whatever
components a test starts (scheduler, dag-processor, Celery worker). Every component runs in
its own process group with a fully specified environment — never the test session's
isolated SQLite home — and `stop()` ends every group it started, so nothing outlives a test.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379"
AIRFLOW = [sys.executable, "-m", "airflow"]
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database(prefix: str):
    """A fresh, uniquely named PostgreSQL database; yields its SQLAlchemy URL, drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


CELERY_GENERIC_KEYS = ("_kombu.", "unacked")  # bindings and bookkeeping any Celery app writes


@contextmanager
def redis_broker():
    """A Redis database that is empty now, and a queue name of our own, for Celery; yields (url, queue).

    Redis on 6379 is shared with other test runs on this machine: an empty logical database
    and a unique queue keep our tasks apart from theirs. Afterwards our keys are deleted, and
    the database is emptied when nothing but ours and Celery's generic keys is left in it.
    """
    import redis

    for db in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_URL}/{db}")
        if client.dbsize() == 0:
            break
    else:
        raise RuntimeError("no empty Redis database (1-15) for the Celery broker")
    queue = f"tthc-test-{uuid.uuid4().hex[:8]}"
    try:
        yield f"{REDIS_URL}/{db}", queue
    finally:
        keys = {k.decode() for k in client.scan_iter()}
        ours = {k for k in keys if queue in k}
        if all(k in ours or k.startswith(CELERY_GENERIC_KEYS) for k in keys):
            client.flushdb()
        elif ours:
            client.delete(*ours)
        client.close()


def _base_environment() -> dict[str, str]:
    """The caller's environment without any Airflow setting (the test session sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}


class AirflowStack:
    """One Airflow installation: AIRFLOW_HOME, metadata DB, settings; components as process groups."""

    def __init__(self, home: Path, metadata_url: str, settings: dict[str, str]) -> None:
        self.home = home
        self.metadata_url = metadata_url
        self.api_port = free_port()
        self.logs = home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = _base_environment() | {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",  # two cores on this machine
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            # every component signs and checks the task tokens with the same secret
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # no log-serving ports: several engineers' stacks share this machine
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
        } | settings
        self.processes: dict[str, subprocess.Popen] = {}
        self._log_files: list = []

    def airflow(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        """Run one `airflow` CLI command against this installation."""
        proc = subprocess.run([*AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Start a long-running component in its own process group, its output in component-logs/NAME.log."""
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._log_files.append(log)
        proc = subprocess.Popen([*AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes[name] = proc
        return proc

    def start_api_server(self, timeout: float = 120) -> None:
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                if requests.get(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(1)
        raise TimeoutError(f"api-server did not answer within {timeout:.0f} s\n{self.tail('api-server')}")

    def assert_running(self) -> None:
        """Fail with the component's log when one of them has died."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, name: str | None = None, grace: float = 30) -> None:
        """SIGTERM the component's process group (all of them when `name` is None), SIGKILL after `grace`."""
        names = [name] if name else list(self.processes)
        for n in names:
            _signal_group(self.processes[n], signal.SIGTERM)
        deadline = time.monotonic() + grace
        for n in names:
            proc = self.processes.pop(n)
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # children of a component that exited (task runners)
            proc.wait()
        if not self.processes:
            for log in self._log_files:
                log.close()
            self._log_files.clear()

    def metadata(self) -> sa.Engine:
        return sa.create_engine(self.metadata_url, poolclass=sa.NullPool)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
