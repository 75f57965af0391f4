"""The operators' command `tthc-scorecards`, run as operators run it."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from tthc import cli

REPO = __import__("conftest").REPO


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tthc.cli", *args], capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize(("args", "printed"), [
    (("ON_TIME", "45", "50"), "18.000000"),                      # linear(20): 20 × 0.9
    (("REUSED_DIGITIZED_DATA", "7", "10"), "1.750000"),          # target(2, 0.8): 2 × 0.7 / 0.8
    (("REUSED_DIGITIZED_DATA", "9", "10"), "2.000000"),          # capped at max
    (("PETITION_PROCESSING_ON_TIME", "0", "0"), "6.000000"),     # empty_full: max when nothing to judge
    (("PAYMENT", "8", "10", "3", "4", "2", "4"), "7.925000"),    # min(10, 6·0.8 + min(2, 2.5·0.75) + 2.5·0.5)
])
def test_points_prints_only_the_points(args, printed):
    result = _cli("points", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed + "\n"


def test_points_refuses_wrong_arity_and_unknown_codes():
    assert _cli("points", "ON_TIME", "1").returncode == 2
    bad = _cli("points", "NOT_AN_INDICATOR", "1", "2")
    assert bad.returncode == 2 and "NOT_AN_INDICATOR" in bad.stderr


def test_help_documents_every_subcommand():
    text = _cli("--help").stdout
    for command in ("demo", "run", "backfill", "check", "points", "generate", "national-mock"):
        assert command in text
    for command in ("demo", "run", "backfill"):
        assert "--retries N" in _cli(command, "--help").stdout and "--verbose" in _cli(command, "--help").stdout
    assert "--reextract" in _cli("backfill", "--help").stdout
    assert "--dossiers-per-year" in _cli("generate", "--help").stdout


@pytest.mark.slow
def test_backfill_on_the_embedded_default_is_idempotent_and_sends_once(airflow_db, tmp_path, smtp_server):
    host, port, inbox = smtp_server
    saved = dict(os.environ)
    os.environ.update({"TTHC_HOME": str(tmp_path / "home"), "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://{host}:{port}"})
    try:
        argv = ["backfill", "--from", "2025-08", "--to", "2025-09", "--send"]
        assert cli.main(argv) == 0
        out = tmp_path / "home" / "output"
        first = {m: (out / m / "unit_scores.csv").read_bytes() for m in ("2025-08", "2025-09")}
        office = [m for m in inbox.messages if "vanphong@" in m["X-Envelope-To"]]
        assert sorted(m["Subject"] for m in office) == [
            "Kết quả Chỉ số phục vụ người dân, doanh nghiệp tháng 8 năm 2025",
            "Kết quả Chỉ số phục vụ người dân, doanh nghiệp tháng 9 năm 2025"]

        assert cli.main(argv) == 0  # the same backfill again: same numbers, nothing re-sent
        assert {m: (out / m / "unit_scores.csv").read_bytes() for m in first} == first
        assert len([m for m in inbox.messages if "vanphong@" in m["X-Envelope-To"]]) == 2
        rows = list(csv.DictReader(io.StringIO(first["2025-09"].decode())))
        assert rows[-1]["unit_code"] == "H57"
    finally:
        os.environ.clear()
        os.environ.update(saved)
