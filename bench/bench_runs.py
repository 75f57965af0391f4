"""Benchmark: whole DAG runs through Airflow (dag.test) on the embedded layout (issue 7).

    .venv/bin/python bench/bench_runs.py province [--dossiers-per-year 1200000] [--workdir DIR] [--reuse]
    .venv/bin/python bench/bench_runs.py initial-load [--workdir DIR]     # (1) and (0) alone
    .venv/bin/python bench/bench_runs.py nightly [--workdir DIR]          # (2) alone, after `province`
    .venv/bin/python bench/bench_runs.py month [--period 2025-12] [--workdir DIR]   # (3) alone, after it
    .venv/bin/python bench/bench_runs.py national [--provinces 34] [--parallel 2]
        [--dossiers-per-year 1200000] [--workdir DIR]

`province`, one province on SQLite (TTHC_HOME = workdir):
  (1) generates December 2024 to December 2025 (tthc.sim.generator);
  (0) loads it with one tthc_nightly run (the night of 2025-12-31): the initial load of a new
      installation, which reads everything the sources hold;
  (4) backfills 2025-01 .. 2025-12 with tthc_monthly_scorecards, `send: true`, to a real SMTP
      server (aiosmtpd) on loopback — the data engineers' backfill on a loaded installation;
      each month is
  (3) one monthly run end to end: refresh extraction, quality gate, indicators, month folder
      with every PDF, delivery;
  (2) then changes one night's worth of the sources (bench_extract.one_nights_changes: about
      1/365 of the dossiers, one new event and one new sync version each) and runs tthc_nightly.
  Prints each run's wall time and its tasks' durations from Airflow's metadata.

Every figure is printed beside the generator's time for a province-year in the same run — the
yardstick of the machine that day (a shared 2-core VM is not equally fast every hour): `province`
uses its own (1); the other commands generate a province-year first, into a scratch folder.

`national`: the month 2025-12 for `--provinces` provinces of `--dossiers-per-year` each, every
  province in its own installation (warehouse, output folder, Airflow metadata DB), as each
  province runs its own. One province is generated and loaded by its nightly run, then copied
  (the pipeline's cost depends on volumes and units, not on the values); the figure is the wall
  time of all the provinces' monthly runs end to end, `--parallel` at a time (one per core).
Benchmarks assert nothing about time; they print what they measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from bench_early_warning import CountingInbox  # noqa: E402
from bench_extract import one_nights_changes  # noqa: E402

from tthc.orchestration import embedded  # noqa: E402
from tthc.orchestration.runtime import TIMEZONE  # noqa: E402
from tthc.periods import Period  # noqa: E402
from tthc.warehouse.schema import delivery_ledger  # noqa: E402

SEED = 11821
MONTHLY, NIGHTLY = "tthc_monthly_scorecards", "tthc_nightly"


def use_home(root: Path) -> embedded.EmbeddedHome:
    """Point this process at an embedded installation under `root`."""
    os.environ["TTHC_HOME"] = str(root)
    home = embedded.default_home()
    os.environ.update(embedded.airflow_environment(home))
    return home


def dag_run(dag_id: str, interval_end: dt.datetime, conf: dict | None = None) -> tuple[float, dict[str, float]]:
    """One DAG run through dag.test(): its wall seconds and each task's (mapped tasks summed)."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tthc.orchestration.airflow_runner import DagRunFailed, load_dag

    dag = load_dag(dag_id)
    started = time.perf_counter()
    run = dag.test(logical_date=interval_end.replace(tzinfo=ZoneInfo(TIMEZONE)), run_conf=conf or {})
    seconds = time.perf_counter() - started
    if str(run.state) != "success":
        raise DagRunFailed(f"{dag_id} {interval_end}: {run.state}")
    tasks: dict[str, float] = {}
    with create_session() as session:
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                                             TaskInstance.run_id == run.run_id)):
            tasks[ti.task_id] = tasks.get(ti.task_id, 0.0) + (ti.duration or 0.0)
    return seconds, tasks


class Yardstick:
    """The generator's seconds for a province-year, measured in this run."""

    seconds: float | None = None

    @classmethod
    def beside(cls, seconds: float) -> str:
        return f"{seconds / cls.seconds:.2f}x the generator's {cls.seconds:.1f} s"

    @classmethod
    def measure(cls, per_year: int) -> None:
        """For the commands that do not generate a province-year themselves."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench_yardstick_") as scratch:
            home = embedded.EmbeddedHome(Path(scratch))
            cls.seconds = generate_province(home, dt.date(2024, 12, 1), dt.date(2025, 12, 31), per_year)


def cpu_seconds() -> float:
    """CPU seconds of this process (all its threads: the national mock's too) and of its finished
    children. Beside wall seconds on a shared 2-core machine: CPU shows the work, wall what the
    others' load added to it."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                           resource.RUSAGE_CHILDREN)))


def print_run(label: str, seconds: float, tasks: dict[str, float], cpu: float | None = None) -> None:
    detail = ", ".join(f"{k} {v:.1f}" for k, v in sorted(tasks.items(), key=lambda kv: -kv[1]))
    cpu_text = f", CPU {cpu:.1f} s" if cpu is not None else ""
    print(f"  {label:<22} {seconds:7.1f} s ({Yardstick.beside(seconds)}{cpu_text})   tasks (s): {detail}", flush=True)


def generate_province(home: embedded.EmbeddedHome, first: dt.date, last: dt.date, per_year: int) -> float:
    from tthc.sim.generator import generate

    home.root.mkdir(parents=True, exist_ok=True)
    for db in (home.source_db, home.national_db, home.warehouse_db):
        db.unlink(missing_ok=True)
    started, cpu = time.perf_counter(), cpu_seconds()
    summary = generate(f"sqlite:///{home.source_db}", f"sqlite:///{home.national_db}", first, last, seed=SEED,
                       dossiers_per_year=per_year)
    seconds = time.perf_counter() - started
    print(f"(1) generated {first}..{last}: {summary.rows.get('dossiers', 0):,} dossiers in {seconds:.1f} s "
          f"(CPU {cpu_seconds() - cpu:.1f} s; the yardstick)", flush=True)
    return seconds


def serve_national(home: embedded.EmbeddedHome, smtp_port: int):
    """The embedded national mock on a free port; the connections pointed at the home's files
    (replacing any a parent process set) and the mail at the bench's SMTP server."""
    from tthc.sim.national_mock import BackgroundServer, create_app

    server = BackgroundServer(create_app(f"sqlite:///{home.national_db}", embedded.DEMO_TOKEN))
    base_url = server.__enter__()
    os.environ.update(embedded.connection_environment(home, int(base_url.rsplit(":", 1)[1])))
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = f"smtp://127.0.0.1:{smtp_port}"
    return server


def migrate() -> None:
    from tthc.orchestration.airflow_runner import migrate_metadata_db

    migrate_metadata_db()


def cmd_province(args: argparse.Namespace, smtp_port: int, inbox: CountingInbox) -> None:
    home = use_home(args.workdir)
    if args.reuse:  # the loaded installation of an earlier run; its months are delivered afresh
        with sa.create_engine(f"sqlite:///{home.warehouse_db}").begin() as conn:
            conn.execute(sa.delete(delivery_ledger))
        server = serve_national(home, smtp_port)
    else:
        server = initial_load(args, home, smtp_port)
    months, started = [], time.perf_counter()
    print("(4) backfill 2025-01..2025-12, send: true — each month is (3) one monthly run end to end:")
    for month in range(1, 13):
        period = Period(f"2025-{month:02d}")
        seconds, tasks = dag_run(MONTHLY, period.end, {"send": True})
        months.append(seconds)
        print_run(period.code, seconds, tasks)
    total = time.perf_counter() - started
    median = sorted(months)[len(months) // 2]
    print(f"(4) 12-month backfill: {total:.1f} s ({total / 60:.1f} min, {Yardstick.beside(total)}; "
          f"target <= 8 min); mails received {inbox.messages}")
    print(f"(3) monthly run end to end: median {median:.1f} s ({Yardstick.beside(median)}; target <= 45 s "
          f"and <= 1/3 of the generator's), min {min(months):.1f} s, max {max(months):.1f} s")
    one_night()
    server.__exit__(None, None, None)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"warehouse {home.warehouse_db.stat().st_size / 2**20:.0f} MiB")


def initial_load(args: argparse.Namespace, home: embedded.EmbeddedHome, smtp_port: int):
    """(1) then (0); returns the running national mock."""
    shutil.rmtree(home.root, ignore_errors=True)
    Yardstick.seconds = generate_province(home, dt.date(2024, 12, 1), dt.date(2025, 12, 31), args.dossiers_per_year)
    server = serve_national(home, smtp_port)
    migrate()
    cpu = cpu_seconds()
    seconds, tasks = dag_run(NIGHTLY, dt.datetime(2026, 1, 1))
    print("(0) initial load of a new installation (one nightly run), target <= 5 min:")
    print_run("night 2025-12-31", seconds, tasks, cpu_seconds() - cpu)
    return server


def cmd_initial_load(args: argparse.Namespace, smtp_port: int, inbox: CountingInbox) -> None:
    initial_load(args, use_home(args.workdir), smtp_port).__exit__(None, None, None)


def one_night() -> None:
    """(2): one night's changes in the sources, then one tthc_nightly run."""
    home = embedded.default_home()
    # stamped now: a DAG run's cut-off is when it starts, so the loads so far reach the present
    started = time.perf_counter()
    changed = one_nights_changes(home.source_db, home.national_db, 1 / 365,
                                 dt.datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None))
    print(f"(2) one night's changes: {changed:,} dossiers written in {time.perf_counter() - started:.1f} s; "
          "then one nightly run:", flush=True)
    seconds, tasks = dag_run(NIGHTLY, dt.datetime(2026, 1, 2))
    print_run("night 2026-01-01", seconds, tasks)


def cmd_nightly(args: argparse.Namespace, smtp_port: int, inbox: CountingInbox) -> None:
    use_home(args.workdir)
    server = serve_national(embedded.default_home(), smtp_port)
    one_night()
    server.__exit__(None, None, None)


def cmd_month(args: argparse.Namespace, smtp_port: int, inbox: CountingInbox) -> None:
    """(3) alone: one monthly run on the loaded installation, its delivery record cleared first."""
    home = use_home(args.workdir)
    with sa.create_engine(f"sqlite:///{home.warehouse_db}").begin() as conn:
        conn.execute(sa.delete(delivery_ledger).where(delivery_ledger.c.period == args.period))
    server = serve_national(home, smtp_port)
    seconds, tasks = dag_run(MONTHLY, Period(args.period).end, {"send": True})
    server.__exit__(None, None, None)
    print(f"(3) one monthly run end to end; mails received {inbox.messages}:")
    print_run(args.period, seconds, tasks)


def cmd_one_month(args: argparse.Namespace) -> None:
    """A copied province's monthly run, in its own process (called by `national`)."""
    home = use_home(args.workdir)
    server = serve_national(home, args.smtp_port)
    seconds, tasks = dag_run(MONTHLY, Period(args.period).end, {"send": True})
    server.__exit__(None, None, None)
    print(json.dumps({"seconds": seconds, "tasks": tasks}))


def cmd_national(args: argparse.Namespace, smtp_port: int, inbox: CountingInbox) -> None:
    period = Period("2025-12")
    template = use_home(args.workdir / "template")
    shutil.rmtree(args.workdir, ignore_errors=True)
    generate_province(template, period.previous().first_day, period.last_day, args.dossiers_per_year)
    server = serve_national(template, smtp_port)
    migrate()
    seconds, tasks = dag_run(NIGHTLY, period.end)  # the month's last night: loads the province
    server.__exit__(None, None, None)
    print_run("template's nightly load", seconds, tasks)
    copies = []
    for n in range(1, args.provinces + 1):
        root = args.workdir / f"province-{n:02d}"
        root.mkdir(parents=True)
        for db in (template.source_db, template.national_db, template.warehouse_db):
            shutil.copy2(db, root / db.name)
        shutil.copytree(template.airflow_home, root / template.airflow_home.name)
        copies.append(root)

    def one(root: Path) -> dict:
        proc = subprocess.run([sys.executable, __file__, "one-month", "--workdir", str(root), "--period",
                               period.code, "--smtp-port", str(smtp_port)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{root.name}: {proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    print(f"(5) national month {period.code}: {args.provinces} provinces, {args.parallel} at a time", flush=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(one, copies))
    total = time.perf_counter() - started
    per = sorted(r["seconds"] for r in results)
    print(f"(5) national month: {total:.1f} s ({total / 60:.1f} min, {Yardstick.beside(total)}) wall; "
          f"per province median {per[len(per) // 2]:.1f} s, max {per[-1]:.1f} s; mails received {inbox.messages}")
    tasks: dict[str, float] = {}
    for r in results:
        for k, v in r["tasks"].items():
            tasks[k] = tasks.get(k, 0.0) + v
    print_run("all provinces' tasks", sum(per), tasks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    province = sub.add_parser("province")
    initial = sub.add_parser("initial-load", help="(1) and (0) alone, into the workdir")
    initial.add_argument("--workdir", type=Path, default=Path("/tmp/bench_runs/province"))
    national = sub.add_parser("national")
    nightly = sub.add_parser("nightly", help="(2) alone, on the workdir's loaded installation")
    nightly.add_argument("--workdir", type=Path, default=Path("/tmp/bench_runs/province"))
    month = sub.add_parser("month", help="(3) alone, on the workdir's loaded installation")
    month.add_argument("--workdir", type=Path, default=Path("/tmp/bench_runs/province"))
    month.add_argument("--period", default="2025-12")
    for p in (province, initial, national, nightly, month):
        # nightly and month: the yardstick's scale (their installation is the workdir's)
        p.add_argument("--dossiers-per-year", type=int, default=1_200_000)
    province.add_argument("--workdir", type=Path, default=Path("/tmp/bench_runs/province"))
    province.add_argument("--reuse", action="store_true",
                          help="skip (1) and (0): use the workdir's loaded installation (its delivery ledger cleared)")
    national.add_argument("--workdir", type=Path, default=Path("/tmp/bench_runs/national"))
    national.add_argument("--provinces", type=int, default=34)
    national.add_argument("--parallel", type=int, default=2)
    one_month = sub.add_parser("one-month")
    one_month.add_argument("--workdir", type=Path, required=True)
    one_month.add_argument("--period", required=True)
    one_month.add_argument("--smtp-port", type=int, required=True)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    if args.command == "one-month":
        cmd_one_month(args)
        return 0
    inbox = CountingInbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        scale = getattr(args, "dossiers_per_year", None)
        per_year = f"; {scale:,} dossiers per province-year" if scale else ""
        print(f"machine: {os.cpu_count()} cores{per_year}", flush=True)
        commands = {"province": cmd_province, "initial-load": cmd_initial_load, "national": cmd_national,
                    "nightly": cmd_nightly, "month": cmd_month}
        if args.command in ("national", "nightly", "month") or getattr(args, "reuse", False):
            Yardstick.measure(args.dossiers_per_year)
        commands[args.command](args, port, inbox)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
