"""The multi-host deployment test (issue 16; docs/runbook.md "The multi-host layout").

Four hosts, each a network namespace of its own with its own hostname (UTS namespace),
/etc/hosts and temporary folders, joined by a bridge on a test network (198.18.16.0/24,
the RFC 2544 range set aside for test networks: it can be no real LAN):

    svc  198.18.16.10  PostgreSQL (metadata, warehouse, replica, national store), Redis (the
                       Celery broker), an SMTP server (aiosmtpd, into a maildir), the national
                       mock, an S3 HTTP API (moto's server)
    ctl  198.18.16.11  api-server, scheduler, dag-processor, triggerer (CeleryExecutor)
    w1   198.18.16.21  a Celery worker
    w2   198.18.16.22  a Celery worker
    this script, the operator, at 198.18.16.1 in the root namespace

Every host runs the same repository checkout (the DAG files and plugins), but nothing of a
month goes through a shared disk: each render task renders into its own host's temporary
folder and puts the PDFs into the S3 staging prefix; the month is published in the store.
The PostgreSQL and Redis of the test network are private instances started here on the svc
host, so the machine's own servers (on 127.0.0.1) are neither used nor changed.

Two monthly runs, each with `send: true` through the REST API, as the scheduler runs them:
  1. 2025-09: the month in the store, which worker rendered which batch, mails counted.
  2. 2025-08: one worker host crashes (SIGKILL to every process in its namespace) while it
     renders; the scheduler fails its task after the heartbeat timeout and retries it on the
     other one.
Each run is checked: the run succeeded, every active unit's scorecard is in the store's
manifest and every listed file matches its hash, no staging prefix is left, and the SMTP
server received exactly one office mail for the month.

Run as root (it creates namespaces), from the repository:
    /work/main/.venv/bin/python scripts/multihost_test.py [--keep]
It prints timings and the findings; exit 0 when every check held. Takes ~15 min on 2 cores
(the killed task's retry waits for the DAG's retry delay: 5-10 min for a first retry). Everything it starts
is stopped, and the namespaces removed, at the end (--keep leaves the logs folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import hashlib
import json
import mailbox
import os
import secrets
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO / "tests")]

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from s3_server import ACCESS_KEY, REGION, SECRET_KEY, aws_connection  # noqa: E402

PREFIX = "tthcmh"  # names of the namespaces and links this script creates (and removes)
NET, OPERATOR = "198.18.16", "198.18.16.1"
HOSTS = {"svc": f"{NET}.10", "ctl": f"{NET}.11", "w1": f"{NET}.21", "w2": f"{NET}.22"}
SVC = HOSTS["svc"]
PG = f"postgresql+psycopg2://postgres@{SVC}:5432"
TOKEN = secrets.token_urlsafe(16)
BUCKET = "tthc-scorecards"
MONTHLY = "tthc_monthly_scorecards"
ICT = dt.timezone(dt.timedelta(hours=7))
OFFICE = "vanphong@ubnd.hue.example.vn"  # config/recipients.yaml office_to
PYTHON = sys.executable


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


# --- the test network -----------------------------------------------------------------------

def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def remove_network() -> None:
    """Every namespace, link and /etc/netns folder of this script (also a crashed run's)."""
    for host in HOSTS:
        sh("ip", "netns", "del", ns(host), check=False)
        shutil.rmtree(f"/etc/netns/{ns(host)}", ignore_errors=True)
    sh("ip", "link", "del", f"{PREFIX}-op", check=False)


def create_network() -> None:
    remove_network()
    hosts_file = "127.0.0.1 localhost\n" + "".join(f"{ip} tthc-{h}\n" for h, ip in HOSTS.items())
    for host in HOSTS:
        sh("ip", "netns", "add", ns(host))
        etc = Path(f"/etc/netns/{ns(host)}")  # `ip netns exec` mounts these over /etc
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(hosts_file)
        sh("ip", "-n", ns(host), "link", "set", "lo", "up")
    svc = ns("svc")
    sh("ip", "-n", svc, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", svc, "addr", "add", f"{SVC}/24", "dev", "br0")
    sh("ip", "-n", svc, "link", "set", "br0", "up")
    for host in [h for h in HOSTS if h != "svc"]:
        sh("ip", "link", "add", f"{PREFIX}-{host}0", "type", "veth", "peer", "name", "eth0", "netns", ns(host))
        sh("ip", "link", "set", f"{PREFIX}-{host}0", "netns", svc)
        sh("ip", "-n", svc, "link", "set", f"{PREFIX}-{host}0", "master", "br0", "up")
        sh("ip", "-n", ns(host), "addr", "add", f"{HOSTS[host]}/24", "dev", "eth0")
        sh("ip", "-n", ns(host), "link", "set", "eth0", "up")
    # the operator's own link into the bridge (root namespace side keeps the address)
    sh("ip", "link", "add", f"{PREFIX}-op", "type", "veth", "peer", "name", "op0", "netns", svc)
    sh("ip", "-n", svc, "link", "set", "op0", "master", "br0", "up")
    sh("ip", "addr", "add", f"{OPERATOR}/24", "dev", f"{PREFIX}-op")
    sh("ip", "link", "set", f"{PREFIX}-op", "up")


# --- processes on the hosts -----------------------------------------------------------------

@dataclass
class Host:
    name: str
    root: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def ip(self) -> str:
        return HOSTS[self.name]

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def start(self, name: str, argv: list[str], env: dict[str, str], user: str | None = None) -> subprocess.Popen:
        """`argv` on this host: its namespace, its hostname, its temporary folder; output in logs/NAME.log."""
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        run_as = ["runuser", "-u", user, "--"] if user else []
        wrapped = ["ip", "netns", "exec", ns(self.name), "unshare", "--uts", "--", "sh", "-c",
                   f'hostname tthc-{self.name} && exec "$@"', "sh", *run_as, *argv]
        out = open(self.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[name] = subprocess.Popen(wrapped, env={**env, "TMPDIR": str(self.tmp)}, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        out.close()
        return self.procs[name]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.procs[name].pid, sig)
        except ProcessLookupError:
            pass

    def crash(self) -> list[int]:
        """The host dies: SIGKILL every process in its network namespace (a worker's task processes
        run in process groups of their own, so killing the worker's group would leave them running)."""
        pids = [int(p) for p in sh("ip", "netns", "pids", ns(self.name)).stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self.kill(name, signal.SIGKILL)
            proc.wait()
            del self.procs[name]

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_for(what: str, check, timeout: float = 120, hosts: list[Host] = ()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for h in hosts:
            for name, proc in h.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{h.name}/{name} exited with {proc.returncode}:\n{h.tail(name)}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


# --- the services host ----------------------------------------------------------------------

def pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return str(versions[-1] / name) if versions else shutil.which(name)


def start_services(svc: Host, env: dict[str, str]) -> None:
    data = svc.root / "pgdata"
    data.mkdir(parents=True)
    shutil.chown(data, "postgres", "postgres")
    sh("runuser", "-u", "postgres", "--", pg_bin("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
       "--encoding=UTF8", "--locale=C.UTF-8")
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {NET}.0/24 trust\n")
    # fsync off: a throwaway test cluster, not a store of record
    svc.start("postgres", [pg_bin("postgres"), "-D", str(data), "-c", f"listen_addresses={SVC}",
                           "-c", f"unix_socket_directories={data}", "-c", "max_connections=300",
                           "-c", "fsync=off", "-c", "synchronous_commit=off"], env, user="postgres")
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    wait_for("PostgreSQL on svc", lambda: admin.connect().close() is None, hosts=[svc])
    with admin.connect() as conn:
        for db in ("airflow", "warehouse", "tthc_source", "tthc_national"):
            conn.exec_driver_sql(f'CREATE DATABASE "{db}"')
    admin.dispose()
    svc.start("redis", ["redis-server", "--bind", SVC, "--port", "6379", "--protected-mode", "no", "--save", "",
                        "--appendonly", "no", "--dir", str(svc.tmp)], env)
    maildir = svc.root / "maildir"
    svc.start("smtp", [PYTHON, "-m", "aiosmtpd", "-n", "-l", f"{SVC}:1025", "-c", "aiosmtpd.handlers.Mailbox",
                       str(maildir)], env)
    svc.start("s3", [PYTHON, "-m", "moto.server", "-H", SVC, "-p", "5000"], env)
    wait_for("S3 on svc", lambda: requests.get(f"http://{SVC}:5000", timeout=2).ok, hosts=[svc])
    wait_for("SMTP on svc", lambda: smtplib.SMTP(SVC, 1025, timeout=2).quit(), hosts=[svc])
    import boto3

    boto3.client("s3", endpoint_url=f"http://{SVC}:5000", aws_access_key_id=ACCESS_KEY,
                 aws_secret_access_key=SECRET_KEY, region_name=REGION).create_bucket(Bucket=BUCKET)


def seed_province(svc: Host, env: dict[str, str]) -> None:
    """A small generated province (August and September 2025) into the replica and the national store."""
    from tthc.sim.generator import generate

    t0 = time.monotonic()
    generate(f"{PG}/tthc_source", f"{PG}/tthc_national", dt.date(2025, 8, 1), dt.date(2025, 10, 1), seed=7,
             dossiers_per_year=24_000)
    log(f"province generated into PostgreSQL on svc in {time.monotonic() - t0:.0f} s")
    svc.start("national-mock", [PYTHON, "-m", "tthc.sim.national_mock", "--db", f"{PG}/tthc_national",
                                "--host", SVC, "--port", "8765"], {**env, "TTHC_NATIONAL_TOKEN": TOKEN})
    wait_for("national mock on svc", lambda: requests.get(
        f"http://{SVC}:8765/_admin/faults", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2).ok, hosts=[svc])


# --- Airflow --------------------------------------------------------------------------------

def deployment_config(base: Path) -> Path:
    """The shipped config with smaller rendering batches (more tasks to spread) and one process per task."""
    folder = base / "config"
    shutil.copytree(REPO / "config", folder)
    thresholds = yaml.safe_load((folder / "thresholds.yaml").read_text(encoding="utf-8"))
    thresholds |= {"scorecards_per_render_task": 8, "render_processes_per_task": 1}
    (folder / "thresholds.yaml").write_text(yaml.safe_dump(thresholds), encoding="utf-8")
    return folder


def airflow_env(base: Path, config_dir: Path) -> dict[str, str]:
    """What every Airflow component gets: one metadata DB, one broker, one JWT secret, the connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    return env | {
        "PYTHONPATH": str(REPO / "plugins"),
        "PYTHONUNBUFFERED": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "TTHC_CONFIG_DIR": str(config_dir),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOSTS['ctl']}:8080/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{PG}/airflow",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{SVC}:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@{SVC}:5432/airflow",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # runs come from the REST API only: the DAGs' catchup would queue every month since 2025-01
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # a dead worker's task is failed (then retried elsewhere) after 60 s without a heartbeat
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "AIRFLOW_CONN_TTHC_SOURCE": f"postgresql://postgres@{SVC}:5432/tthc_source",
        "AIRFLOW_CONN_WAREHOUSE": f"postgresql://postgres@{SVC}:5432/warehouse",
        "AIRFLOW_CONN_NATIONAL_PORTAL": f"http://:{TOKEN}@{SVC}:8765",
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://{SVC}:1025",
        "AIRFLOW_CONN_TTHC_S3": aws_connection(f"http://{SVC}:5000"),
        "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR": f"s3://tthc_s3@{BUCKET}/months",
    }


def start_airflow(hosts: dict[str, Host], env: dict[str, str]) -> sa.Engine:
    ctl = hosts["ctl"]
    for host in hosts.values():
        (host.root / "airflow").mkdir(parents=True, exist_ok=True)
    homes = {name: {**env, "AIRFLOW_HOME": str(h.root / "airflow")} for name, h in hosts.items()}
    t0 = time.monotonic()
    sh(PYTHON, "-m", "airflow", "db", "migrate", env=homes["ctl"], timeout=900)
    log(f"metadata database migrated in {time.monotonic() - t0:.0f} s")
    airflow = [PYTHON, "-m", "airflow"]
    ctl.start("api-server", [*airflow, "api-server", "--host", "0.0.0.0", "--port", "8080", "--workers", "1"],
              homes["ctl"])
    for component in ("scheduler", "dag-processor", "triggerer"):
        ctl.start(component, [*airflow, component], homes["ctl"])
    for w in ("w1", "w2"):
        hosts[w].start("worker", [*airflow, "celery", "worker", "--concurrency", "1", "--without-gossip",
                                  "--without-mingle"], homes[w])
    meta = sa.create_engine(f"{PG}/airflow", poolclass=sa.NullPool)
    everyone = list(hosts.values())
    wait_for("api-server on ctl", lambda: requests.get(f"http://{ctl.ip}:8080/api/v2/monitor/health",
                                                       timeout=2).ok, timeout=180, hosts=everyone)

    def parsed() -> bool:
        with meta.connect() as conn:
            return MONTHLY in set(conn.execute(sa.text("SELECT dag_id FROM serialized_dag")).scalars())

    wait_for("the monthly DAG parsed by the dag-processor", parsed, timeout=240, hosts=everyone)
    for w in ("w1", "w2"):
        wait_for(f"worker on {w}", lambda w=w: "ready" in hosts[w].tail("worker", 20000), timeout=180,
                 hosts=everyone)
    api(ctl, "PATCH", f"/dags/{MONTHLY}", json={"is_paused": False})
    log(f"Airflow up: api-server, scheduler, dag-processor, triggerer on ctl; workers on w1, w2 "
        f"({time.monotonic() - t0:.0f} s)")
    return meta


def api(ctl: Host, method: str, path: str, **kw) -> dict:
    r = requests.request(method, f"http://{ctl.ip}:8080/api/v2{path}", timeout=30, **kw)
    if not r.ok:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
    return r.json()


# --- one monthly run ------------------------------------------------------------------------

def trigger_month(ctl: Host, period: str) -> str:
    """A manual run whose data interval is the month (it ends at the logical date), with send: true."""
    year, month = map(int, period.split("-"))
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=ICT)
    return api(ctl, "POST", f"/dags/{MONTHLY}/dagRuns",
               json={"logical_date": end.isoformat(), "conf": {"send": True}})["dag_run_id"]


def task_rows(meta: sa.Engine, run_id: str) -> list:
    """Every try of every task of the run: current tries and those kept in task_instance_history."""
    query = ("SELECT task_id, map_index, try_number, state, hostname, start_date, end_date FROM {table} "
             "WHERE dag_id = :dag AND run_id = :run")
    with meta.connect() as conn:
        rows = [*conn.execute(sa.text(query.format(table="task_instance")), {"dag": MONTHLY, "run": run_id}),
                *conn.execute(sa.text(query.format(table="task_instance_history")), {"dag": MONTHLY, "run": run_id})]
    return sorted(rows, key=lambda r: (r.start_date or dt.datetime.max.replace(tzinfo=dt.UTC), r.task_id,
                                       r.map_index, r.try_number))


def run_state(meta: sa.Engine, run_id: str) -> str:
    with meta.connect() as conn:
        return conn.execute(sa.text("SELECT state FROM dag_run WHERE dag_id = :dag AND run_id = :run"),
                            {"dag": MONTHLY, "run": run_id}).scalar_one()


def xcom(meta: sa.Engine, run_id: str, task_id: str) -> dict[int, object]:
    with meta.connect() as conn:
        rows = conn.execute(sa.text("SELECT map_index, value FROM xcom WHERE dag_id = :dag AND run_id = :run "
                                    "AND task_id = :task AND key = 'return_value'"),
                            {"dag": MONTHLY, "run": run_id, "task": task_id}).all()
    return {i: json.loads(v) if isinstance(v, str) else v for i, v in rows}


def wait_for_run(meta: sa.Engine, run_id: str, hosts: list[Host], timeout: float = 1500, on_poll=None) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run_state(meta, run_id)
        if state in ("success", "failed"):
            return state
        if on_poll:
            on_poll()
        for h in hosts:
            for name, proc in h.procs.items():
                if proc.poll() is not None and name != "worker-killed":
                    raise RuntimeError(f"{h.name}/{name} exited with {proc.returncode}:\n{h.tail(name)}")
        time.sleep(1)
    raise TimeoutError(f"run {run_id} not finished after {timeout:.0f} s")


def office_mails(maildir: Path, period: str) -> list[str]:
    from tthc.reports.formatting import format_month

    if not maildir.exists():
        return []
    box = mailbox.Maildir(maildir, create=False)
    mails = [email.message_from_bytes(box.get_bytes(key), policy=email.policy.default) for key in box.keys()]
    # X-RcptTo: the envelope's recipients, as the SMTP server (aiosmtpd) received them
    return sorted(m["Subject"] for m in mails if OFFICE in m["X-RcptTo"] and format_month(period) in m["Subject"])


def check_store(period: str, units: list[str]) -> list[str]:
    """What is wrong with the month in the store (empty when nothing): read with boto3, not the pipeline."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://{SVC}:5000", aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, region_name=REGION)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="months/")
            for o in page.get("Contents", [])]
    problems = [f"left in the store: {k}" for k in keys if k.split("/")[1].startswith(".")]
    month = f"months/{period}/"
    try:
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=month + "manifest.json")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return [*problems, f"{period}: no manifest in the store"]
    listed = {f["path"]: f for f in manifest["files"]}
    for path, entry in listed.items():
        data = s3.get_object(Bucket=BUCKET, Key=month + path)["Body"].read()
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            problems.append(f"{period}/{path} does not match the manifest")
    missing = [u for u in units if f"scorecards/{u}.pdf" not in listed]
    problems += [f"{period}: no scorecard for {u}" for u in missing]
    unlisted = {k.removeprefix(month) for k in keys if k.startswith(month)} - set(listed) - {"manifest.json"}
    problems += [f"{period}/{p} is not in the manifest" for p in sorted(unlisted)]
    if manifest["delivery"].get("status") != "sent":
        problems.append(f"{period}: delivery status {manifest['delivery']}")
    return problems


def scorecard_puts(s3_log: Path, period: str) -> dict[str, int]:
    """PUTs of scorecards into the month's staging prefixes, by client address (moto's request log)."""
    counts: dict[str, int] = {}
    for line in s3_log.read_text(errors="replace").splitlines():
        if f'"PUT /{BUCKET}/months/.{period}.build-' in line and "/scorecards/" in line:
            client = line.split(" ", 1)[0]
            counts[client] = counts.get(client, 0) + 1
    return counts


def report_run(meta: sa.Engine, run_id: str, period: str, started: float, maildir: Path) -> list[str]:
    """Prints the run's timings and who rendered what (successful tries); returns the problems found."""
    rows = task_rows(meta, run_id)
    state = run_state(meta, run_id)
    log(f"run {run_id} ({period}): {state} in {time.monotonic() - started:.0f} s")
    print(f"  {'task':<24} {'map':>3} {'try':>3} {'state':<15} {'host':<10} {'seconds':>7}")
    for r in rows:
        secs = (r.end_date - r.start_date).total_seconds() if r.start_date and r.end_date else float("nan")
        print(f"  {r.task_id:<24} {r.map_index:>3} {r.try_number:>3} {str(r.state):<15} {str(r.hostname):<10} "
              f"{secs:>7.1f}")
    batches = xcom(meta, run_id, "plan_scorecards").get(-1, [])
    rendered = xcom(meta, run_id, "render_scorecards")
    by_host: dict[str, list[int]] = {}
    for r in rows:
        if r.task_id == "render_scorecards" and r.state == "success":
            by_host.setdefault(r.hostname, []).append(r.map_index)
    for host, indexes in sorted(by_host.items()):
        count = sum(rendered.get(i, 0) for i in indexes)
        print(f"  {host} rendered batches {sorted(indexes)}: {count} scorecards "
              f"({', '.join(f'{i}: {batches[i][0]}..{batches[i][-1]}' for i in sorted(indexes))})")
    units = [u for batch in batches for u in batch]
    puts = scorecard_puts(maildir.parent / "logs" / "s3.log", period)
    names = {ip: f"tthc-{h}" for h, ip in HOSTS.items()}
    print("  scorecards put into the S3 staging prefix, as the store logged them: "
          + ", ".join(f"{names.get(ip, ip)} ({ip}) {n}" for ip, n in sorted(puts.items())))
    mails = office_mails(maildir, period)
    print(f"  office mails for {period} at the SMTP server: {len(mails)} {mails}")
    problems = [] if state == "success" else [f"run {run_id} ended {state}"]
    problems += check_store(period, units)
    if len(by_host) < 2:
        problems.append(f"{period}: scorecards rendered on {sorted(by_host)} only, not on both workers")
    if any(r.task_id == "render_scorecards" and r.state == "success" and r.try_number > 1 for r in rows):
        print("  (a batch with try > 1 was rendered again after its first try failed)")
    if len(mails) != 1:
        problems.append(f"{period}: {len(mails)} office mails, expected exactly 1")
    if sum(rendered.values()) != len(units) or not units:
        problems.append(f"{period}: {sum(rendered.values())} scorecards rendered for {len(units)} units")
    print(f"  store: {len(units)} scorecards listed in months/{period}/manifest.json, every file matching its "
          f"hash" if not problems else f"  problems: {problems}")
    return problems


def kill_a_worker_mid_render(meta: sa.Engine, run_id: str, hosts: dict[str, Host], killed: dict):
    """Returns a poll function that SIGKILLs a worker host in the middle of rendering: once two
    batches are done, the first worker found running a render task for 3 s or more."""

    def poll() -> None:
        if killed:
            return
        now = dt.datetime.now(dt.UTC)
        rows = task_rows(meta, run_id)
        if sum(r.task_id == "render_scorecards" and r.state == "success" for r in rows) < 2:
            return
        for r in rows:
            if (r.task_id == "render_scorecards" and r.state == "running" and r.start_date
                    and (now - r.start_date).total_seconds() >= 3 and r.hostname in ("tthc-w1", "tthc-w2")):
                victim = hosts[r.hostname.removeprefix("tthc-")]
                pids = victim.crash()
                victim.procs["worker-killed"] = victim.procs.pop("worker")
                time.sleep(1)
                left = sh("ip", "netns", "pids", ns(victim.name)).stdout.split()
                killed.update(host=r.hostname, map_index=r.map_index, at=time.monotonic(), left=left)
                log(f"crashed {r.hostname} while it rendered batch {r.map_index}: SIGKILL to all {len(pids)} "
                    f"processes of the host; {len(left)} left")
                return

    return poll


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the hosts' folders (logs) afterwards")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("multihost_test: run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="tthc-multihost-"))
    base.chmod(0o755)  # the PostgreSQL server runs as user postgres
    hosts = {name: Host(name, base / name) for name in HOSTS}
    for h in hosts.values():
        h.root.mkdir(mode=0o755)
    t_all = time.monotonic()
    problems: list[str] = []
    with ExitStack() as stack:
        stack.callback(lambda: None if args.keep else shutil.rmtree(base, ignore_errors=True))
        stack.callback(remove_network)
        stack.callback(lambda: [h.stop_all() for h in reversed(hosts.values())])
        create_network()
        log(f"test network {NET}.0/24: " + ", ".join(f"tthc-{h} {ip}" for h, ip in HOSTS.items())
            + f"; hosts' folders under {base}")
        env = airflow_env(base, deployment_config(base))
        start_services(hosts["svc"], env)
        seed_province(hosts["svc"], env)
        meta = start_airflow(hosts, env)
        maildir = hosts["svc"].root / "maildir"

        t0 = time.monotonic()
        run_id = trigger_month(hosts["ctl"], "2025-09")
        wait_for_run(meta, run_id, list(hosts.values()))
        problems += report_run(meta, run_id, "2025-09", t0, maildir)

        t0 = time.monotonic()
        killed: dict = {}
        run_id = trigger_month(hosts["ctl"], "2025-08")
        wait_for_run(meta, run_id, list(hosts.values()), on_poll=kill_a_worker_mid_render(meta, run_id, hosts, killed))
        problems += report_run(meta, run_id, "2025-08", t0, maildir)
        if not killed:
            problems.append("2025-08: no worker was killed (no render task ran long enough)")
        elif killed["left"]:
            problems.append(f"{killed['host']}: processes {killed['left']} survived the crash")
        else:
            tries = [r for r in task_rows(meta, run_id)
                     if r.task_id == "render_scorecards" and r.map_index == killed["map_index"]]
            print(f"  batch {killed['map_index']}: " + "; ".join(
                f"try {r.try_number} on {r.hostname}: {r.state}" for r in tries))
            survivor = {"tthc-w1", "tthc-w2"} - {killed["host"]}
            if not any(r.state == "success" and r.hostname in survivor for r in tries):
                problems.append(f"batch {killed['map_index']} was not finished on the other worker")
        mails = office_mails(maildir, "2025-09")
        print(f"  office mails for 2025-09 after both runs: {len(mails)} (nothing sent twice)")
        if len(mails) != 1:
            problems.append(f"2025-09: {len(mails)} office mails after the second run")
        log(f"total {time.monotonic() - t_all:.0f} s; " + ("every check held" if not problems else
                                                            f"{len(problems)} problem(s): {problems}"))
        if args.keep:
            log(f"logs kept under {base}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
