"""`tthc-scorecards run` as an operator meets it when a setting is wrong or the command is stopped.

Each fault: the exit code, the message naming what to fix, how long it took, and what is left
(the month folder whole or absent, no ledger row 'sending'); then a good run finishes the month
and the office gets one mail. Real processes throughout: the command, its dag.test() child, the
national mock and an SMTP server on loopback, SQLite files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from national_server import clear_faults, running_national_mock, set_faults
from test_e2e_dag_runs import PERIOD, generate_small_province

from tthc.orchestration.embedded import DEMO_TOKEN
from tthc.sim.national_mock import Faults
from tthc.warehouse import schema as wh

REPO = __import__("conftest").REPO
FAIL_WITHIN = 30.0  # seconds, the bound for a wrong setting
STOP_WITHIN = 10.0  # seconds from SIGTERM to the command's exit
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    return generate_small_province(tmp_path_factory.mktemp("province"), seed=16, dossiers_per_year=6_000)


@pytest.fixture(scope="module")
def national(province):
    with running_national_mock(f"sqlite:///{province[1]}", DEMO_TOKEN) as base_url:
        yield base_url.rsplit(":", 1)[1]


@pytest.fixture
def operator_env(province, national, airflow_db, tmp_path, smtp_server):
    """The environment of an operator whose every setting is right (smtp_default the test's server)."""
    host, port, inbox = smtp_server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update({
        "TTHC_HOME": str(tmp_path / "home"),
        "AIRFLOW_CONN_TTHC_SOURCE": f"sqlite:///{province[0]}",
        "AIRFLOW_CONN_NATIONAL_PORTAL": f"http://:{DEMO_TOKEN}@127.0.0.1:{national}",
        "AIRFLOW_CONN_WAREHOUSE": f"sqlite:///{tmp_path / 'warehouse.db'}",
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://{host}:{port}",
        "AIRFLOW_VAR_SCORECARD_OUTPUT_DIR": str(tmp_path / "output"),
    })
    return env, inbox


def tthc(env: dict, *args: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tthc.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    return proc, time.monotonic() - t0


def ledger_states(env: dict) -> list[str]:
    path = env["AIRFLOW_CONN_WAREHOUSE"].removeprefix("sqlite:///")
    if not Path(path).exists():
        return []
    with sqlite3.connect(path) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'delivery_ledger'").fetchone():
            return []
        return [s for (s,) in conn.execute("SELECT status FROM delivery_ledger")]


def month_is_whole_or_absent(env: dict) -> bool:
    """The month's folder is absent, or holds exactly what its manifest lists."""
    folder = Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]) / PERIOD.code
    if not folder.exists():
        return True
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    return on_disk == {f["path"] for f in manifest["files"]}


def office_mails(inbox) -> list:
    return [m for m in inbox.messages if "vanphong@" in m["X-Envelope-To"]]


MONTHLY_TASKS = {"preflight", "extract_source", "extract_national", "quality_gate", "compute_indicators",
                 "backtest_forecast", "start_month_folder", "plan_scorecards", "finish_month_folder", "deliver"}


def console_shows_one_line_per_task(proc: subprocess.CompletedProcess) -> None:
    """The console: the log file's path, one line per task, the summary; Airflow's output in the file."""
    lines = proc.stdout.splitlines()
    assert len(lines) <= 40, proc.stdout
    assert lines[0].startswith("Airflow's log: ")
    log_file = Path(lines[0].removeprefix("Airflow's log: "))
    tasks = [line.split()[0] for line in lines if line.startswith("  ")]
    assert set(tasks) - {t for t in tasks if t.startswith("render_scorecards[")} == MONTHLY_TASKS
    assert len(tasks) == len(set(tasks))  # each task once
    assert any(line.endswith("scorecards") and "/" in line for line in lines if "render_scorecards[" in line)
    logged = log_file.read_text(encoding="utf-8", errors="replace")
    assert "[DAG TEST] starting task_id=extract_source" in logged and "Marking run" in logged
    assert "[DAG TEST]" not in proc.stdout + proc.stderr and "Warning" not in proc.stdout + proc.stderr


def good_run_sends_once(env: dict, inbox) -> None:
    """The next good run finishes the month and the office gets one mail; another sends nothing."""
    for attempt in range(2):
        proc, _took = tthc(env, "run", "--period", PERIOD.code, "--send")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"{PERIOD.code}: written to" in proc.stdout
        if attempt == 0:
            console_shows_one_line_per_task(proc)
    assert month_is_whole_or_absent(env) and (Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]) / PERIOD.code).exists()
    assert len(office_mails(inbox)) == 1 and ledger_states(env) == ["sent"]


def _break_recipients(env: dict, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "recipients.yaml").write_text("office_to: [not-an-address]\n", encoding="utf-8")
    env["TTHC_CONFIG_DIR"] = str(config)


def _replica_without_apologies(env: dict, tmp_path: Path) -> None:
    copy = tmp_path / "replica.db"
    shutil.copy(env["AIRFLOW_CONN_TTHC_SOURCE"].removeprefix("sqlite:///"), copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE apologies")
    env["AIRFLOW_CONN_TTHC_SOURCE"] = f"sqlite:///{copy}"


def _output_under_a_file(env: dict, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")  # even root cannot make a folder inside a file
    env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"] = str(tmp_path / "a-file" / "output")


FAULTS = {
    # fault: (how to make it, --send?, what the message must say)
    "smtp refusing": (lambda env, tmp, port: env.update(AIRFLOW_CONN_SMTP_DEFAULT=f"smtp://127.0.0.1:{port}"), True,
                      "mail server 127.0.0.1:{port} of connection 'smtp_default' does not answer"),
    "wrong token": (lambda env, tmp, port: env.update(AIRFLOW_CONN_NATIONAL_PORTAL=env[
        "AIRFLOW_CONN_NATIONAL_PORTAL"].replace(DEMO_TOKEN, "wrong-token")), False,
        "national_portal refused the token (401)"),
    "missing replica": (lambda env, tmp, port: env.update(AIRFLOW_CONN_TTHC_SOURCE=f"sqlite:///{tmp}/nowhere.db"),
                        False, "connection 'tthc_source': no SQLite database at"),
    "replica without a contract table": (lambda env, tmp, port: _replica_without_apologies(env, tmp), False,
                                         "table 'apologies' is missing (sources.md §1)"),
    "broken config file": (lambda env, tmp, port: _break_recipients(env, tmp), False, "recipients.yaml"),
    "output not writable": (lambda env, tmp, port: _output_under_a_file(env, tmp), False,
                            "is not writable (NotADirectoryError"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_wrong_setting_fails_in_seconds_naming_it_and_changes_nothing(fault, operator_env, tmp_path, unused_port):
    env, inbox = operator_env
    good = dict(env)
    make, send, message = FAULTS[fault]
    make(env, tmp_path, unused_port)
    proc, took = tthc(env, "run", "--period", PERIOD.code, *(["--send"] if send else []), timeout=120)
    print(f"{fault}: exit {proc.returncode} in {took:.1f} s; {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 1 and took < FAIL_WITHIN
    assert message.format(port=unused_port) in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("  - ")  # the problem is the last thing printed
    assert "preflight: 1 problem(s), nothing was run" in proc.stderr
    assert not (Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]) / PERIOD.code).exists()
    assert ledger_states(env) == [] and inbox.messages == []
    if fault == "smtp refusing":  # every fault leaves the same nothing; one good run after it shows the rest
        good_run_sends_once(good, inbox)


def test_no_smtp_default_and_failing_checks_still_publish_and_the_alert_waits(operator_env):
    env, inbox = operator_env
    without_smtp = {k: v for k, v in env.items() if k != "AIRFLOW_CONN_SMTP_DEFAULT"}
    proc, took = tthc(without_smtp, "run", "--period", PERIOD.code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: connection 'smtp_default' is not usable" in proc.stderr
    assert "alert NOT sent (kept pending)" in proc.stdout
    folder = Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]) / PERIOD.code
    quality = json.loads((folder / "quality.json").read_text(encoding="utf-8"))
    assert quality["status"] in ("warning", "critical") and quality["alerts_not_sent"]
    assert "smtp_default" in quality["alerts_not_sent"][0]["not_sent_because"]
    assert month_is_whole_or_absent(env) and len(list((folder / "scorecards").glob("*.pdf"))) > 0
    engine = sa.create_engine(env["AIRFLOW_CONN_WAREHOUSE"])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.pending_alerts)).scalar_one() >= 1
    # The mail server configured again: the next run sends the waiting alert, and the month once.
    good_run_sends_once(env, inbox)
    engineers = [m for m in inbox.messages if "vanphong@" not in m["X-Envelope-To"]]
    assert any("quality check(s) failed" in m["Subject"] for m in engineers)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.pending_alerts)).scalar_one() == 0


def test_sigterm_while_rendering_stops_in_seconds_and_a_rerun_finishes(operator_env):
    env, inbox = operator_env
    proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", "run", "--period", PERIOD.code, "--send"], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:  # the console says when rendering begins
        lines.append(line)
        if "plan_scorecards" in line:
            break
    assert any("plan_scorecards" in line and " ok " in line for line in lines), lines
    time.sleep(1.0)  # inside the first batch
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    print(f"SIGTERM while rendering: exit {proc.returncode} {took:.1f} s after the signal; {err.strip()[-200:]}")
    assert proc.returncode == 130 and took < STOP_WITHIN
    assert "stopped by SIGTERM" in err
    assert "finish_month_folder" not in out + "".join(lines)
    output = Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"])
    assert not (output / PERIOD.code).exists() and month_is_whole_or_absent(env)
    assert ledger_states(env) == [] and office_mails(inbox) == []
    time.sleep(1.0)
    assert not any(p.name.startswith(f"{PERIOD.code}") for p in output.iterdir())  # only hidden staging, if any
    good_run_sends_once(env, inbox)
    assert not [p for p in output.iterdir() if p.name.startswith(f".{PERIOD.code}.build-")]  # swept by the rerun


def test_a_task_failing_after_the_preflight_ends_the_command_with_its_error(operator_env, national):
    env, inbox = operator_env
    base_url = f"http://127.0.0.1:{national}"
    set_faults(base_url, DEMO_TOKEN, Faults(latency=0.5))  # the extraction takes several seconds
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tthc.cli", "run", "--period", PERIOD.code], env=env,
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.strip().startswith("preflight"):
                break
        t0 = time.monotonic()
        set_faults(base_url, DEMO_TOKEN, Faults(token_rotated=True))  # rotated while the run reads the feeds
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - t0
    finally:
        clear_faults(base_url, DEMO_TOKEN)
    print(f"token rotated mid-run: exit {proc.returncode} {took:.1f} s after; {err.strip().splitlines()[-1]}")
    assert proc.returncode == 1 and took < FAIL_WITHIN  # no waiting on the DAG's retries (2 x 5 min)
    assert err.strip().splitlines()[-1].startswith("tthc-scorecards run: task extract_national of "
                                                   "tthc_monthly_scorecards failed: NationalUnavailable: "
                                                   "national_portal refused the token (401)")
    assert "extract_national       FAILED" in out
    assert not (Path(env["AIRFLOW_VAR_SCORECARD_OUTPUT_DIR"]) / PERIOD.code).exists() and ledger_states(env) == []
