"""docs/schedules.md and docs/runbook.md stay true to the code: the schedule table against the
DAGs' real timetables, the backfill example against the runs Airflow would create, and every
command in the runbook's code blocks against the real argument parsers."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEDULES = REPO / "docs" / "schedules.md"
RUNBOOK = REPO / "docs" / "runbook.md"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.UTC


def schedule_rows() -> list[dict[str, str]]:
    lines = [line for line in SCHEDULES.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in lines[2:]]
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def core_timetable(dag):
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(dag.timetable)


def runs_between(dag, earliest: dt.datetime, latest: dt.datetime | None, limit: int = 50):
    """The runs the scheduler (and a backfill) creates in [earliest, latest], as Airflow iterates them."""
    from airflow.timetables.base import TimeRestriction

    timetable = core_timetable(dag)
    restriction = TimeRestriction(earliest=earliest, latest=latest, catchup=True)
    infos, info = [], None
    while len(infos) < limit:
        info = timetable.next_dagrun_info_v2(last_dagrun_info=info, restriction=restriction)
        if info is None:
            break
        infos.append(info)
    return infos


def _local(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LOCAL)


def test_the_table_lists_exactly_the_dags(dags):
    assert {row["DAG"] for row in schedule_rows()} == set(dags)


@pytest.mark.parametrize("row", schedule_rows(), ids=lambda row: row["DAG"])
def test_schedule_row_matches_the_dag_timetable(dags, row):
    dag = dags[row["DAG"]]
    timetable = core_timetable(dag)
    assert row["cron"] == timetable._expression
    assert row["timezone"] == str(timetable._timezone)

    # The example run: the one Airflow creates for the example's data interval.
    start_text, end_text = (part.strip() for part in row["example: data interval (local)"].split("→"))
    info = runs_between(dag, _local(start_text), None, limit=1)[0]
    assert info.data_interval.start == _local(start_text)
    assert info.data_interval.end == _local(end_text)
    assert info.logical_date == info.data_interval.start
    runs_local = info.run_after.astimezone(LOCAL)
    runs_utc = info.run_after.astimezone(UTC)
    assert runs_local.strftime("%Y-%m-%d %H:%M") == row["example: run starts (local)"]
    assert runs_utc.strftime("%Y-%m-%d %H:%M") == row["example: run starts (UTC)"]

    # The general columns: the clock times, and which day the UTC time falls on.
    assert row["runs at (local, ICT)"].startswith(runs_local.strftime("%H:%M"))
    assert row["runs at (UTC)"].startswith(runs_utc.strftime("%H:%M"))
    day_before = runs_utc.date() < runs_local.date()
    assert day_before == ("before" in row["runs at (UTC)"])

    # The interval covers exactly one local day or one calendar month, as the row says.
    from tthc.periods import day_from_interval, period_from_interval

    start, end = info.data_interval.start, info.data_interval.end
    if "month" in row["data interval"]:
        period = period_from_interval(start, end)
        assert period.code == start.astimezone(LOCAL).strftime("%Y-%m")
        assert runs_local.day == 1 and "1st" in row["runs at (local, ICT)"]
    else:
        assert day_from_interval(start, end) == start.astimezone(LOCAL).date()
        assert end - start == dt.timedelta(days=1) and "every day" in row["runs at (local, ICT)"]


# --- the runbook's commands ------------------------------------------------------------------
def runbook_commands(program: str) -> list[str]:
    """Every line of a code block that runs `program` (a `docker compose exec SERVICE` prefix allowed)."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), re.S)
    commands = []
    for line in (line for block in blocks for line in block.splitlines()):
        line = re.sub(r"^docker compose exec \S+ ", "", line.split("  #")[0].strip())
        if line.startswith(program + " "):
            commands.append(line)
    return commands


@pytest.fixture(scope="module")
def airflow_parser():
    from airflow.cli.cli_parser import get_parser

    return get_parser()


def test_every_airflow_command_in_the_runbook_parses(airflow_parser):
    commands = runbook_commands("airflow")
    assert len(commands) >= 5
    for command in commands:
        args = airflow_parser.parse_args(shlex.split(command)[1:])  # argparse exits on a bad flag
        assert callable(args.func), command


def test_every_tthc_scorecards_command_in_the_runbook_parses():
    from tthc.cli import build_parser

    commands = runbook_commands("tthc-scorecards")
    assert commands
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.command in {"demo", "run", "backfill", "points", "check"}, command


def test_backfill_example_creates_the_months_the_runbook_names(dags, airflow_parser):
    """Parsed with Airflow's default timezone (UTC here, as outside the compose stack)."""
    from tthc.periods import period_from_interval

    command = next(c for c in runbook_commands("airflow") if c.startswith("airflow backfill create")
                   and "--dry-run" not in c)
    args = airflow_parser.parse_args(shlex.split(command)[1:])
    assert args.dag_id == "tthc_monthly_scorecards" and args.reprocess_behavior == "completed"
    infos = runs_between(dags[args.dag_id], args.from_date, args.to_date)
    periods = [period_from_interval(i.data_interval.start, i.data_interval.end).code for i in infos]
    first, last = re.search(r"creates the runs for the months (\d{4}-\d\d) to (\d{4}-\d\d)",
                            RUNBOOK.read_text()).groups()
    assert periods[0] == first and periods[-1] == last and len(periods) == 3


def test_backfill_dates_without_offset_miss_the_first_month_in_utc(dags, airflow_parser):
    """Why the docs insist on +07:00: a naive date read as UTC midnight falls after the month's logical date."""
    from tthc.periods import period_from_interval

    args = airflow_parser.parse_args(["backfill", "create", "--dag-id", "tthc_monthly_scorecards",
                                      "--from-date", "2025-03-01", "--to-date", "2025-05-01"])
    assert args.from_date.utcoffset() == dt.timedelta(0)
    infos = runs_between(dags["tthc_monthly_scorecards"], args.from_date, args.to_date)
    periods = [period_from_interval(i.data_interval.start, i.data_interval.end).code for i in infos]
    assert "2025-03" not in periods
