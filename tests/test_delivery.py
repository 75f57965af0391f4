"""Exactly-once delivery of the month's documents (issue 6, delivery), against a real SMTP server.

The office gets one e-mail (or numbered parts) with the ranked lists and the zipped
scorecards; the delivery ledger makes reruns send nothing new; SMTP failures raise and are
recorded; a crash between 'sending' and 'sent' alerts the engineers instead of guessing; a
month whose quality gate failed critically never reaches the office.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import socket
import threading
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from test_monthly_folder import ACTIVE, CLOSED, COMMUNES, PERIOD, build_month, copy_month

from tthc.delivery.office import DeliveryFailed, deliver_month, office_messages
from tthc.orchestration.connections import SmtpEndpoint
from tthc.paths import REPO_ROOT
from tthc.quality.gate import CheckOutcome, GateResult
from tthc.reports.month_folder import read_manifest
from tthc.warehouse import schema as wh
from tthc.warehouse.db import engine_for_url

OFFICE_TO = ["vanphong@ubnd.hue.example.vn", "chanhvanphong@ubnd.hue.example.vn"]
OFFICE_CC = ["kstt@ubnd.hue.example.vn"]
ENGINEERS = ["data-engineers@hue.example.vn"]
UNIT_ADDRESS = "phuhoi@hue.example.vn"
SUBJECT = "Kết quả Chỉ số phục vụ người dân, doanh nghiệp tháng 9 năm 2025"
SCORECARDS = {f"scorecards/{u}.pdf" for u in ACTIVE}


def use_config(tmp_path: Path, monkeypatch, send_to_units: bool = False, max_mb: float | None = None) -> None:
    """A copy of the shipped config with the test's recipients (and attachment limit)."""
    folder = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", folder)
    recipients = {"office_to": OFFICE_TO, "office_cc": OFFICE_CC, "sender": "tthc-scorecards@hue.example.vn",
                  "data_engineers": ENGINEERS, "send_to_units": send_to_units,
                  "units": {COMMUNES[0]: UNIT_ADDRESS, CLOSED: "xacu@hue.example.vn"}}
    (folder / "recipients.yaml").write_text(yaml.safe_dump(recipients, allow_unicode=True), encoding="utf-8")
    if max_mb is not None:
        thresholds = yaml.safe_load((folder / "thresholds.yaml").read_text(encoding="utf-8"))
        (folder / "thresholds.yaml").write_text(yaml.safe_dump({**thresholds, "mail_max_attachment_mb": max_mb}),
                                                encoding="utf-8")
    monkeypatch.setenv("TTHC_CONFIG_DIR", str(folder))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return build_month(tmp_path_factory.mktemp("month"))


@pytest.fixture
def month(built, tmp_path, monkeypatch):
    use_config(tmp_path, monkeypatch)
    engine, out = copy_month(built, tmp_path / "run")
    yield engine, out / PERIOD
    engine.dispose()


@pytest.fixture
def smtp(smtp_server, monkeypatch):
    host, port, inbox = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://{host}:{port}")  # the engineers' alerts
    return SmtpEndpoint(host, port, None, None, False), inbox


def envelope(msg: EmailMessage) -> set[str]:
    return {a.strip() for a in msg["X-Envelope-To"].split(",")}


def attachments(msg: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in msg.iter_attachments()}


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def ledger(engine: sa.Engine) -> list[tuple[str, str]]:
    d = wh.delivery_ledger.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(d.recipient, d.status).where(d.period == PERIOD)
                                               .order_by(d.recipient))]


def to_office(inbox) -> list[EmailMessage]:
    return [m for m in inbox.messages if OFFICE_TO[0] in envelope(m)]


def to_engineers(inbox) -> list[EmailMessage]:
    return [m for m in inbox.messages if envelope(m) == set(ENGINEERS)]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mark_critical(engine: sa.Engine) -> None:
    """The monthly gate's stored outcome for a month whose units table failed a critical check."""
    outcomes = [CheckOutcome("unit_invalid", "stg_units", "critical", "tier outside the code list", False, 1,
                             [CLOSED]),
                CheckOutcome("dossier_duplicate", "stg_dossiers", "warning", "duplicate dossier", True, 0)]
    result = GateResult(f"tthc_monthly_scorecards/{PERIOD}", "tthc_monthly_scorecards", PERIOD,
                        "2025-10-01T02:00:00", "critical", outcomes, 0)
    with engine.begin() as conn:
        conn.execute(sa.insert(wh.quality_runs).values(
            run_key=result.run_key, period=PERIOD, dag_id=result.dag_id, run_started_at=dt.datetime(2025, 10, 1, 2),
            status="critical", report_json=result.to_json()))


def test_the_office_gets_one_email_with_the_ranked_lists_and_every_scorecard(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert outcome["status"] == "sent" and outcome["sent"] == ["office/1of1"]
    [msg] = inbox.messages
    assert msg["To"] == ", ".join(OFFICE_TO) and msg["Cc"] == ", ".join(OFFICE_CC)
    assert envelope(msg) == set(OFFICE_TO + OFFICE_CC)
    assert msg["Subject"] == SUBJECT
    assert "tháng 9 năm 2025" in msg.get_body(("plain",)).get_content()
    files = attachments(msg)
    assert list(files) == ["ranking.pdf", "ranking.xlsx", f"phieu-danh-gia-{PERIOD}.zip"]
    assert files["ranking.pdf"] == (folder / "ranking.pdf").read_bytes()
    assert files["ranking.xlsx"] == (folder / "ranking.xlsx").read_bytes()
    assert zip_members(files[f"phieu-danh-gia-{PERIOD}.zip"]) == \
        {name: (folder / name).read_bytes() for name in SCORECARDS}
    assert ledger(engine) == [("office/1of1", "sent")]
    manifest = read_manifest(folder)
    assert manifest["delivery"]["status"] == "sent"
    assert {f["path"] for f in manifest["files"]} >= SCORECARDS  # the manifest still lists the files


def test_a_rerun_sends_nothing_new_and_resend_sends_again(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    again = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert len(inbox.messages) == 1
    assert again["sent"] == [] and again["already_sent"] == ["office/1of1"]
    # a backfill that does not ask for sending leaves the ledger's word in the manifest
    quiet = deliver_month(engine, folder, PERIOD, endpoint, send_mail=False)
    assert quiet["status"] == "not_requested"
    assert [(r["recipient"], r["status"]) for r in read_manifest(folder)["delivery"]["ledger"]] == \
        [("office/1of1", "sent")]
    forced = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True, resend=True)
    assert forced["sent"] == ["office/1of1"]
    assert len(inbox.messages) == 2 and inbox.messages[1]["Subject"] == SUBJECT


def test_large_scorecards_are_split_into_numbered_parts_under_the_limit(month, smtp, tmp_path, monkeypatch):
    engine, folder = month
    endpoint, inbox = smtp
    limit_mb = 0.11
    use_config(tmp_path / "small", monkeypatch, max_mb=limit_mb)
    limit = limit_mb * 1024 * 1024
    attached = sum((folder / name).stat().st_size for name in (*SCORECARDS, "ranking.pdf", "ranking.xlsx"))
    assert attached > limit  # the month cannot go in one message
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    messages = inbox.messages
    total = len(messages)
    assert total >= 2
    assert [m["Subject"] for m in messages] == [f"{SUBJECT} (phần {i}/{total})" for i in range(1, total + 1)]
    delivered: list[str] = []
    rankings: list[str] = []
    for msg in messages:
        files = attachments(msg)
        assert sum(len(b) for b in files.values()) <= limit
        assert envelope(msg) == set(OFFICE_TO + OFFICE_CC)
        rankings += [n for n in files if n.startswith("ranking.")]
        for name, data in files.items():
            if name.endswith(".zip"):
                for member, pdf in zip_members(data).items():
                    assert pdf == (folder / member).read_bytes()
                    delivered.append(member)
    assert sorted(delivered) == sorted(SCORECARDS)  # every scorecard exactly once
    assert sorted(rankings) == ["ranking.pdf", "ranking.xlsx"]
    assert ledger(engine) == [(f"office/{i}of{total}", "sent") for i in range(1, total + 1)]
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert len(inbox.messages) == total


def test_each_unit_gets_only_its_own_scorecard(month, smtp, tmp_path, monkeypatch):
    engine, folder = month
    endpoint, inbox = smtp
    use_config(tmp_path / "units", monkeypatch, send_to_units=True)
    outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert outcome["sent"] == ["office/1of1", f"unit/{COMMUNES[0]}"]  # the closed unit has no scorecard
    [unit_msg] = [m for m in inbox.messages if envelope(m) == {UNIT_ADDRESS}]
    assert unit_msg["To"] == UNIT_ADDRESS and unit_msg["Cc"] is None
    assert "tháng 9 năm 2025" in unit_msg["Subject"]
    assert attachments(unit_msg) == {f"{COMMUNES[0]}.pdf": (folder / f"scorecards/{COMMUNES[0]}.pdf").read_bytes()}
    assert len(to_office(inbox)) == 1 and len(inbox.messages) == 2
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert len(inbox.messages) == 2


def test_smtp_down_raises_records_failure_and_a_later_run_sends_once(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    down = SmtpEndpoint("127.0.0.1", closed_port(), None, None, False)
    with pytest.raises(DeliveryFailed, match=rf"127.0.0.1:{down.port} \(connection 'smtp_default'\): "
                                             "ConnectionRefusedError.*Nothing was marked sent"):
        deliver_month(engine, folder, PERIOD, down, send_mail=True)  # raised, so that Airflow retries the task
    assert ledger(engine) == [("office/1of1", "failed")]
    assert read_manifest(folder)["delivery"]["status"] == "failed"
    assert SCORECARDS <= {f["path"] for f in read_manifest(folder)["files"]}
    assert all((folder / name).is_file() for name in SCORECARDS)
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert len(inbox.messages) == 1 and envelope(inbox.messages[0]) == set(OFFICE_TO + OFFICE_CC)
    assert ledger(engine) == [("office/1of1", "sent")]
    assert read_manifest(folder)["delivery"]["status"] == "sent"


def test_a_crash_between_sending_and_sent_alerts_the_engineers_once(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    [msg] = office_messages(folder, PERIOD)
    with engine.begin() as conn:  # what a worker killed during the SMTP call leaves behind
        conn.execute(sa.insert(wh.delivery_ledger).values(
            period=PERIOD, recipient=msg.recipient_key, content_hash=msg.content_hash, status="sending",
            attempted_at=dt.datetime(2025, 10, 1, 2, 30)))
    for _ in range(2):
        outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
        assert outcome["status"] == "uncertain" and outcome["sent"] == []
    assert to_office(inbox) == []
    [alert] = inbox.messages
    assert envelope(alert) == set(ENGINEERS) and "office/1of1" in alert["Subject"]
    assert read_manifest(folder)["delivery"]["status"] == "uncertain"
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True, resend=True)  # the engineers' call
    assert len(to_office(inbox)) == 1 and ledger(engine) == [("office/1of1", "sent")]


def test_a_critical_month_is_not_sent_and_the_engineers_are_told_why_once(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    mark_critical(engine)
    for _ in range(2):
        outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
        assert outcome["status"] == "blocked" and "unit_invalid" in outcome["reason"]
    assert to_office(inbox) == []
    [alert] = inbox.messages
    assert envelope(alert) == set(ENGINEERS)
    assert PERIOD in alert["Subject"] and "unit_invalid" in alert["Subject"]
    assert "unit_invalid" in alert.get_body(("plain",)).get_content()
    assert "dossier_duplicate" not in alert["Subject"]  # only the critical failure is named
    delivery = read_manifest(folder)["delivery"]
    assert delivery["status"] == "blocked" and "unit_invalid" in delivery["reason"]
    assert ledger(engine) == []
    assert (folder / "scorecards" / f"{ACTIVE[0]}.pdf").is_file()  # outputs stay on disk


def test_concurrent_runs_send_the_office_one_copy(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    results, errors = [], []

    def run():
        try:
            results.append(deliver_month(engine, folder, PERIOD, endpoint, send_mail=True))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(to_office(inbox)) == 1
    assert sorted(len(r["sent"]) for r in results) == [0, 1]


def test_delivery_on_postgresql_is_exactly_once(built, tmp_path, monkeypatch, pg_database, smtp):
    use_config(tmp_path, monkeypatch)
    sqlite_engine, out = copy_month(built, tmp_path / "run")
    sqlite_engine.dispose()
    folder = out / PERIOD
    engine = engine_for_url(pg_database)
    wh.create_all(engine)
    endpoint, inbox = smtp
    threads = [threading.Thread(target=deliver_month, args=(engine, folder, PERIOD, endpoint, True))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    again = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert again["already_sent"] == ["office/1of1"]
    assert len(to_office(inbox)) == 1
    assert ledger(engine) == [("office/1of1", "sent")]
    mark_critical(engine)
    assert deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)["status"] == "blocked"
    assert len(to_office(inbox)) == 1
    assert len([m for m in to_engineers(inbox) if "NOT sent" in m["Subject"]]) == 1


def test_a_rerun_split_differently_does_not_send_the_office_again(month, smtp, tmp_path, monkeypatch):
    engine, folder = month
    endpoint, inbox = smtp
    use_config(tmp_path / "small", monkeypatch, max_mb=0.11)
    deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    parts = len(inbox.messages)
    assert parts >= 2
    use_config(tmp_path / "large", monkeypatch)  # the rerun's month fits in one message
    outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert outcome["already_sent"] == ["office/1of1"] and outcome["sent"] == []
    assert len(inbox.messages) == parts


def test_an_earlier_split_sent_in_part_is_not_guessed_at(month, smtp):
    engine, folder = month
    endpoint, inbox = smtp
    with engine.begin() as conn:  # part 1 of 2 went out, part 2 failed; the month now fits in one
        conn.execute(sa.insert(wh.delivery_ledger), [
            {"period": PERIOD, "recipient": "office/1of2", "content_hash": "a", "status": "sent"},
            {"period": PERIOD, "recipient": "office/2of2", "content_hash": "b", "status": "failed"}])
    outcome = deliver_month(engine, folder, PERIOD, endpoint, send_mail=True)
    assert outcome["status"] == "uncertain" and outcome["uncertain"] == ["office/1of1"]
    assert to_office(inbox) == [] and len(to_engineers(inbox)) == 1
