"""Nightly early warning: selection, one mail per unit with something new, de-duplication."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import socket
import threading

import pytest
import sqlalchemy as sa
import yaml
from warehouse_builder import Warehouse, at, sqlite_engine

from tthc import config
from tthc.calendar import load_calendar
from tthc.config import Recipients
from tthc.insights import early_warning as ew
from tthc.orchestration import pipeline
from tthc.orchestration.connections import SmtpEndpoint
from tthc.paths import REPO_ROOT
from tthc.warehouse import schema

NOW = at(2025, 3, 11)  # Tuesday 00:00: the run for Monday 10 March
TUESDAY_RULES = ew.WarningRules(office_weekday=6)  # no weekly summary on these nights
UNITS = {"U1": "u1@hue.example.vn", "U2": "u2@hue.example.vn", "U3": "u3@hue.example.vn"}


def recipients(send_to_units: bool = True) -> Recipients:
    return Recipients(office_to=["vanphong@hue.example.vn"], sender="tthc@hue.example.vn",
                      data_engineers=["de@hue.example.vn"], units=UNITS, send_to_units=send_to_units)


def endpoint(smtp_server) -> SmtpEndpoint:
    host, port, _ = smtp_server
    return SmtpEndpoint(host, port, None, None, False)


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    for unit in UNITS:
        w.unit(unit)
    w.procedure("P1")
    return w


def plant_due_tomorrow(wh: Warehouse) -> None:
    """U1's dossier due tomorrow, open, no apology; and the near misses that must stay silent."""
    received = at(2025, 3, 3, 9)
    wh.dossier("U1-DUE-TOMORROW", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17))
    wh.dossier("U1-DONE-LATER", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17),
               completed_at=at(2025, 3, 11, 10), status=9)  # completed after the cut-off: open then
    wh.dossier("U1-COMPLETED", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17),
               completed_at=at(2025, 3, 10, 10), status=9)
    wh.dossier("U1-APOLOGISED", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17))
    wh.apology("U1-APOLOGISED", issued_at=at(2025, 3, 10, 9), new_due_at=at(2025, 3, 19, 17))
    wh.dossier("U1-DUE-NEXT-WEEK", "U1", "P1", received_at=received, due_at=at(2025, 3, 18, 17))
    wh.dossier("U1-ALREADY-LATE", "U1", "P1", received_at=received, due_at=at(2025, 3, 10, 17))
    wh.dossier("U1-WITHDRAWN", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17), status=7)
    wh.event("U1-WITHDRAWN", "withdrawn", at(2025, 3, 7, 9))
    wh.dossier("U1-QUARANTINED", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17))
    wh.exclude("U1-QUARANTINED")
    wh.dossier("U1-NOT-RECEIVED", "U1", "P1", received_at=received, due_at=at(2025, 3, 12, 17), status=3)
    # U2 has something else to act on: a feedback item whose 15-day deadline is 12 March
    wh.feedback("FB-U2-NEAR", "U2", forwarded_at=at(2025, 2, 25, 10))


def test_dossier_due_tomorrow_is_selected_for_its_unit_only(wh):
    plant_due_tomorrow(wh)
    items = ew.select_warnings(wh.engine, NOW, rules=TUESDAY_RULES)
    dossiers = {(i.unit_code, i.item_id) for i in items if i.item_type == ew.DOSSIER_DUE}
    assert dossiers == {("U1", "U1-DUE-TOMORROW"), ("U1", "U1-DONE-LATER")}
    assert {(i.unit_code, i.item_id) for i in items if i.item_type == ew.FEEDBACK_DUE} == {("U2", "FB-U2-NEAR")}


def test_each_unit_gets_one_mail_with_its_own_items_and_silent_units_none(wh, smtp_server):
    plant_due_tomorrow(wh)
    run = ew.send_warnings(wh.engine, NOW, endpoint(smtp_server), recipients(), TUESDAY_RULES)
    inbox = smtp_server[2].messages
    by_to = {m["To"]: m for m in inbox}
    assert sorted(by_to) == ["u1@hue.example.vn", "u2@hue.example.vn"]  # U3: nothing to act on, no mail
    assert run.mailed_units == ["U1", "U2"] and not run.office_summary_sent
    u1, u2 = by_to["u1@hue.example.vn"].get_content(), by_to["u2@hue.example.vn"].get_content()
    assert "U1-DUE-TOMORROW" in u1 and "12:00" not in u1 and "17:00 ngày 12/03/2025" in u1
    assert "Hồ sơ sắp quá hạn" in u1 and "FB-U2-NEAR" not in u1
    assert "U1-DUE-TOMORROW" not in u2 and "FB-U2-NEAR" in u2 and "hết ngày 12/03/2025" in u2
    for silent in ("U1-COMPLETED", "U1-APOLOGISED", "U1-DUE-NEXT-WEEK", "U1-ALREADY-LATE", "U1-WITHDRAWN",
                   "U1-QUARANTINED", "U1-NOT-RECEIVED"):
        assert silent not in u1
    assert "U1" in by_to["u1@hue.example.vn"]["Subject"]


def test_unchanged_item_is_not_announced_again_and_a_new_due_date_is(wh, smtp_server):
    plant_due_tomorrow(wh)
    smtp, rec, inbox = endpoint(smtp_server), recipients(), smtp_server[2].messages
    ew.send_warnings(wh.engine, NOW, smtp, rec, TUESDAY_RULES)
    assert len(inbox) == 2
    # the next night: the same items, unchanged and still due soon -> nothing is sent
    again = ew.send_warnings(wh.engine, NOW + dt.timedelta(hours=1), smtp, rec, TUESDAY_RULES)
    assert again.candidates >= 2 and again.new_items == 0 and len(inbox) == 2
    # the due date moves (still within the window): announced again, alone
    with wh.engine.begin() as conn:
        d = schema.stg_dossiers
        conn.execute(sa.update(d).where(d.c.dossier_code == "U1-DUE-TOMORROW")
                     .values(due_at=at(2025, 3, 13, 9, 30)))
    third = ew.send_warnings(wh.engine, NOW + dt.timedelta(hours=2), smtp, rec, TUESDAY_RULES)
    assert third.new_items == 1 and third.mailed_units == ["U1"] and len(inbox) == 3
    body = inbox[-1].get_content()
    assert "U1-DUE-TOMORROW" in body and "09:30 ngày 13/03/2025" in body and "U1-DONE-LATER" not in body


def dead_endpoint() -> SmtpEndpoint:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return SmtpEndpoint("127.0.0.1", s.getsockname()[1], None, None, False)


def test_a_failed_send_is_reported_not_raised_and_retried_by_the_next_run(wh, smtp_server):
    plant_due_tomorrow(wh)
    run = ew.send_warnings(wh.engine, NOW, dead_endpoint(), recipients(), TUESDAY_RULES)
    assert run.failed_units == ["U1", "U2"] and run.mailed_units == [] and run.undelivered
    assert run.mail_error == "ConnectionRefusedError"
    with wh.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ew.early_warning_ledger)).scalar_one() == 0
    run = ew.send_warnings(wh.engine, NOW, endpoint(smtp_server), recipients(), TUESDAY_RULES)
    assert run.mailed_units == ["U1", "U2"] and len(smtp_server[2].messages) == 2 and not run.undelivered


def test_a_failing_server_is_tried_once_and_the_office_summary_is_caught_up_next_night(wh, smtp_server):
    """A server that drops every connection: one attempt, not one timeout per unit; the week's
    summary, due that night, goes out the next night instead."""
    plant_due_tomorrow(wh)
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))

    def drop_connections():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=drop_connections, daemon=True).start()
    rules = ew.WarningRules(office_weekday=NOW.weekday())
    try:
        dropping = SmtpEndpoint("127.0.0.1", listener.getsockname()[1], None, None, False)
        run = ew.send_warnings(wh.engine, NOW, dropping, recipients(), rules, forecast=lambda e, c: ([], "–"))
    finally:
        listener.close()
    assert run.failed_units == ["U1", "U2"] and run.office_summary_failed and not run.office_summary_sent
    assert run.mail_error == "SMTPServerDisconnected" and len(accepted) == 1
    next_night = ew.send_warnings(wh.engine, NOW + dt.timedelta(days=1), endpoint(smtp_server), recipients(), rules,
                                  forecast=lambda e, c: ([], "–"))
    assert next_night.office_summary_sent and next_night.mailed_units == ["U1", "U2"]
    assert [m["To"] for m in smtp_server[2].messages].count("vanphong@hue.example.vn") == 1


def test_a_refused_address_does_not_stop_the_other_units(wh, smtp_server):
    plant_due_tomorrow(wh)
    inbox = smtp_server[2]

    async def handle_rcpt(server, session, envelope, address, rcpt_options):
        if address == UNITS["U1"]:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    inbox.handle_RCPT = handle_rcpt
    run = ew.send_warnings(wh.engine, NOW, endpoint(smtp_server), recipients(), TUESDAY_RULES)
    assert run.failed_units == ["U1"] and run.mailed_units == ["U2"] and run.mail_error == "SMTPRecipientsRefused"
    assert [m["To"] for m in inbox.messages] == [UNITS["U2"]]


def test_units_are_not_mailed_when_the_office_has_not_enabled_it(wh, smtp_server):
    plant_due_tomorrow(wh)
    run = ew.send_warnings(wh.engine, NOW, endpoint(smtp_server), recipients(send_to_units=False), TUESDAY_RULES)
    assert run.units_mail_disabled and run.mailed_units == [] and smtp_server[2].messages == []
    assert run.new_items == 3  # still counted, and left unannounced for when mail is enabled


def test_online_dossier_not_received_within_most_of_its_8_working_hours(wh):
    cal = load_calendar()
    # Monday 14:00: 3 working hours used by midnight, deadline Tuesday 14:00 (before the next run)
    wh.dossier("ON-MON-14", "U1", "P1", received_at=None, submitted_at=at(2025, 3, 10, 14), status=1, channel=2)
    wh.dossier("ON-ANSWERED", "U1", "P1", received_at=None, submitted_at=at(2025, 3, 10, 14), status=1,
               channel=2)
    wh.event("ON-ANSWERED", "received", at(2025, 3, 10, 15))
    wh.dossier("ON-PAST-8H", "U1", "P1", received_at=None, submitted_at=at(2025, 3, 6, 9), status=1, channel=2)
    wh.dossier("COUNTER-MON", "U1", "P1", received_at=None, submitted_at=at(2025, 3, 10, 14), status=1,
               channel=1)
    items = ew.online_receipts_due(wh.engine.connect(), cal, NOW)
    assert [(i.item_id, i.deadline) for i in items] == [("ON-MON-14", at(2025, 3, 11, 14))]
    # Friday 16:00 seen at Saturday 00:00: 1 hour used, deadline Monday 16:00, after the next run -> not yet;
    # seen at Monday 00:00 it is due before the next run -> warned
    wh.dossier("ON-FRI-16", "U2", "P1", received_at=None, submitted_at=at(2025, 3, 7, 16), status=1, channel=2)
    with wh.engine.connect() as conn:
        assert ew.online_receipts_due(conn, cal, at(2025, 3, 8)) == []
        monday = ew.online_receipts_due(conn, cal, at(2025, 3, 10))
    assert [(i.item_id, i.deadline) for i in monday] == [("ON-FRI-16", at(2025, 3, 10, 16))]


def test_feedback_near_its_15_day_deadline(wh):
    cal = load_calendar()
    wh.feedback("FB-DUE-12", "U1", forwarded_at=at(2025, 2, 25, 10))        # deadline 12/03: warned
    wh.feedback("FB-DUE-16", "U1", forwarded_at=at(2025, 3, 1, 10))         # 16/03: beyond 3 working days
    wh.feedback("FB-ANSWERED", "U1", forwarded_at=at(2025, 2, 25, 10), published_at=at(2025, 3, 5))
    wh.feedback("FB-MISSED", "U1", forwarded_at=at(2025, 2, 20, 10))        # deadline 07/03: already missed
    wh.feedback("FB-NO-UNIT", None, forwarded_at=at(2025, 2, 25, 10))
    with wh.engine.connect() as conn:
        items = ew.feedback_due_soon(conn, cal, NOW)
    assert [(i.item_id, i.deadline) for i in items] == [("FB-DUE-12", at(2025, 3, 13))]


def test_office_gets_the_weekly_summary_with_the_forecast_once(wh, smtp_server):
    plant_due_tomorrow(wh)
    monday = at(2025, 3, 17)
    wh.dossier("U3-DUE-MON", "U3", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 17, 17))
    smtp, inbox = endpoint(smtp_server), smtp_server[2].messages
    run = ew.send_warnings(wh.engine, monday, smtp, recipients(), ew.WarningRules(office_weekday=0))
    office = [m for m in inbox if m["To"] == "vanphong@hue.example.vn"]
    assert run.office_summary_sent and len(office) == 1
    text = office[0].get_content()
    assert "Dự báo Chỉ số cuối tháng" in text and "Phương pháp" in text
    # no closed month back-tested in this warehouse: the default method, and no error claimed
    assert "bình quân gia quyền với điểm tháng trước" in text
    assert "Chưa thể nêu sai số của dự báo" in text and "điểm (thang 100)" not in text
    # units by name, in both tables; U3's only dossier this month came on the 3rd: it has figures
    rows = [line for line in text.splitlines() if line.startswith("Đơn vị ")]
    assert {line.split("  ")[0] for line in rows} == {"Đơn vị U1", "Đơn vị U2", "Đơn vị U3"}
    assert not any(line.startswith(("U1 ", "U2 ", "U3 ")) for line in text.splitlines())
    ew.send_warnings(wh.engine, monday + dt.timedelta(hours=3), smtp, recipients(), ew.WarningRules(office_weekday=0))
    assert len([m for m in inbox if m["To"] == "vanphong@hue.example.vn"]) == 1  # once a week


def test_the_office_table_says_when_a_unit_has_no_dossier_yet(wh, smtp_server):
    wh.dossier("U1-MARCH", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 20, 17))
    smtp, inbox = endpoint(smtp_server), smtp_server[2].messages
    ew.send_warnings(wh.engine, at(2025, 3, 17), smtp, recipients(), ew.WarningRules(office_weekday=0))
    [office] = [m for m in inbox if m["To"] == "vanphong@hue.example.vn"]
    lines = {line.split("  ")[0]: line for line in office.get_content().splitlines() if line.startswith("Đơn vị ")}
    assert "chưa có hồ sơ" not in lines["Đơn vị U1"]
    assert lines["Đơn vị U2"].count("chưa có hồ sơ") == 2 and lines["Đơn vị U3"].count("chưa có hồ sơ") == 2


def test_a_month_without_any_dossier_says_so_above_the_table(wh, smtp_server):
    smtp, inbox = endpoint(smtp_server), smtp_server[2].messages
    ew.send_warnings(wh.engine, at(2025, 3, 17), smtp, recipients(), ew.WarningRules(office_weekday=0))
    [office] = [m for m in inbox if m["To"] == "vanphong@hue.example.vn"]
    text = office.get_content()
    assert "Từ đầu tháng đến nay chưa có hồ sơ nào" in text
    assert text.index("Từ đầu tháng đến nay chưa có hồ sơ nào") < text.index("Cơ quan, đơn vị", text.index("Dự báo"))


def test_selection_agrees_on_postgresql(pg_database):
    w = Warehouse(sa.create_engine(pg_database))
    for unit in UNITS:
        w.unit(unit)
    w.procedure("P1")
    plant_due_tomorrow(w)
    items = ew.select_warnings(w.engine, NOW, rules=TUESDAY_RULES)
    assert [(i.unit_code, i.item_type, i.item_id) for i in items] == [
        ("U1", ew.DOSSIER_DUE, "U1-DONE-LATER"), ("U1", ew.DOSSIER_DUE, "U1-DUE-TOMORROW"),
        ("U2", ew.FEEDBACK_DUE, "FB-U2-NEAR")]
    w.engine.dispose()


# --- the nightly task (tthc.orchestration.pipeline.early_warning): connections, config, the guard --------------
class _Webhook(http.server.BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):  # noqa: N802 - http.server's hook name
        self.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Webhook.posts = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Webhook.posts
    server.shutdown()
    server.server_close()


@pytest.fixture
def task_env(tmp_path, monkeypatch, webhook):
    """The task's connections (warehouse, smtp_default) and a config whose units have addresses."""
    folder = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", folder)
    rec = yaml.safe_load((folder / "recipients.yaml").read_text(encoding="utf-8"))
    rec |= {"units": UNITS, "send_to_units": True, "alert_webhook_url": webhook[0]}
    (folder / "recipients.yaml").write_text(yaml.safe_dump(rec), encoding="utf-8")
    monkeypatch.setenv("TTHC_CONFIG_DIR", str(folder))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", f"sqlite:///{tmp_path / 'warehouse.db'}")

    def use_smtp(smtp: SmtpEndpoint) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://{smtp.host}:{smtp.port}")

    return use_smtp, webhook[1]


def _ledger_count(engine, table) -> int:
    if not sa.inspect(engine).has_table(table.name):
        return 0
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_the_task_only_counts_when_the_run_does_not_send(wh, smtp_server, task_env):
    plant_due_tomorrow(wh)
    use_smtp, _ = task_env
    use_smtp(endpoint(smtp_server))
    out = pipeline.early_warning(NOW, send=False)  # a backfill or manual run
    assert out == {"status": "not_requested", "cut_off": NOW.isoformat(), "candidates": 3}
    assert smtp_server[2].messages == [] and _ledger_count(wh.engine, ew.early_warning_ledger) == 0


def test_the_task_does_not_fail_when_the_mail_server_is_down_and_alerts_once(wh, smtp_server, task_env):
    plant_due_tomorrow(wh)
    use_smtp, posts = task_env
    use_smtp(dead_endpoint())
    out = pipeline.early_warning(NOW, send=True)
    assert out["status"] == "undelivered" and out["failed_units"] == ["U1", "U2"] and out["mailed_units"] == []
    assert out["alert"]["sent_by"] == ["webhook"]  # the mail channel is the dead server itself
    assert "ConnectionRefusedError" in out["alert"]["not_sent_because"][0]
    assert _ledger_count(wh.engine, ew.early_warning_ledger) == 0  # nothing counted as announced
    assert out["office_summary_failed"] and not out["office_summary_sent"]
    assert len(posts) == 1 and "2 unit mail(s) not sent (U1, U2)" in posts[0]["text"]
    assert "weekly summary not sent" in posts[0]["text"]
    assert posts[0]["key"] == "early_warning_undelivered/2025-03-11"
    again = pipeline.early_warning(NOW, send=True)  # a rerun of the same night: no second alert
    assert again["status"] == "undelivered" and again["alert"]["sent_by"] == [] and len(posts) == 1
    # the server is back the next night: everything still due is announced, nothing is lost
    use_smtp(endpoint(smtp_server))
    next_night = pipeline.early_warning(NOW + dt.timedelta(hours=1), send=True)
    assert next_night["status"] == "ok" and next_night["mailed_units"] == ["U1", "U2"]
    assert next_night["office_summary_sent"]  # the week's summary, due since Monday, caught up
    office = config.recipients().office_to
    assert sorted(m["To"] for m in smtp_server[2].messages) == sorted([UNITS["U1"], UNITS["U2"], *office])
