"""The quality gate (issue 4): every kind of dirty data the generator plants is caught by a
Great Expectations check with its severity, quarantined, and — for the population-removing
checks — excluded; the data engineers get one alert per check and period over real SMTP."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest
import sqlalchemy as sa
from national_server import running_national_mock

from tthc import config
from tthc.delivery.alerts import alert_quality, alerted_checks, pending_alerts, send_pending_alerts
from tthc.extract.national import NationalClient, feeds, load_feed
from tthc.extract.provincial import extract_all
from tthc.periods import to_local_naive
from tthc.quality import gate, pending
from tthc.quality.checks import load_checks
from tthc.quality.gate import month_status, run_gate
from tthc.sim.generator import UNKNOWN_PROCEDURE, UNKNOWN_UNIT, generate
from tthc.sim.settings import DIRTY_KINDS, load_generator_config
from tthc.warehouse import schema as wh
from tthc.warehouse.db import engine_for_url

TOKEN = "gate-token"
DAG, PERIOD = "tthc_nightly", "2025-03-10"
RUN_START = dt.datetime(2025, 3, 11, 1, 0)
MALFORMED = ("2025-13-45", "20251399999999", "not available", "04/03/2025 09:15")
# Each kind of dirty data and the check that catches it. The two valid time styles are not
# errors: they are normalised (tested below, and in test_extract_national.py).
CAUGHT_BY = {
    "out_of_order_timestamps": "dossier_received_before_submitted",
    "due_before_received": "dossier_due_before_received",
    "unknown_unit_code": "dossier_unknown_unit",
    "unknown_procedure_code": "dossier_unknown_procedure",
    "null_required": "dossier_status_null",
    "future_timestamp": "dossier_future_time",
    "duplicate_event": "event_duplicate",
    "malformed_feed_time": "national_time_unreadable",
    "empty_feed_key": "national_item_unreadable",
}
NORMALISED = {"utc_z_time", "local_time_without_offset"}
SEVERITY = {c.name: c.severity for c in load_checks()} | {
    "national_time_unreadable": "warning", "national_item_unreadable": "warning"}


@pytest.fixture(scope="module")
def dirty_province(tmp_path_factory):
    """Ten days of a small province with every dirty-data rate raised to a few percent."""
    assert set(CAUGHT_BY) | NORMALISED == set(DIRTY_KINDS)
    rates = load_generator_config()
    rates = rates.model_copy(update={"dirty": {k: (v if k in NORMALISED else 0.03) for k, v in rates.dirty.items()}})
    folder = tmp_path_factory.mktemp("dirty")
    summary = generate(f"sqlite:///{folder / 'replica.db'}", f"sqlite:///{folder / 'national.db'}",
                       dt.date(2025, 3, 1), dt.date(2025, 3, 10), seed=21, dossiers_per_year=20_000, rates=rates)
    assert all(summary.dirty[k] > 0 for k in CAUGHT_BY), summary.dirty
    return folder, summary


@pytest.fixture
def province(dirty_province, tmp_path):
    folder, summary = dirty_province
    for name in ("replica.db", "national.db"):
        shutil.copy(folder / name, tmp_path / name)
    return tmp_path / "replica.db", tmp_path / "national.db", summary


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_database")


def night(replica, store, warehouse_url: str, period: str = PERIOD, run_start: dt.datetime = RUN_START):
    """Extraction of both sources, then the gate, as the nightly DAG chains them."""
    warehouse = engine_for_url(warehouse_url)
    run_key = f"{DAG}/{period}"
    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, run_key, run_start.replace(hour=0),
                dt.timedelta(minutes=60))
    with running_national_mock(f"sqlite:///{store}", TOKEN) as base_url:
        client = NationalClient(base_url, TOKEN, backoff_seconds=0.02)
        started = to_local_naive(dt.datetime.now(dt.UTC))
        for feed in feeds("H57"):
            load_feed(client, warehouse, feed, run_key, started, dt.timedelta(minutes=10))
    return warehouse, run_gate(warehouse, warehouse_url, DAG, period, run_start)


def replica_keys(replica, where: str) -> set[str]:
    with sqlite3.connect(replica) as conn:
        return {r[0] for r in conn.execute(f"SELECT dossier_code FROM dossiers WHERE {where}")}


def quarantine(warehouse) -> dict[str, dict[str, str]]:
    """check -> item key (without the run prefix) -> severity."""
    q, out = wh.quality_quarantine, {}
    with warehouse.connect() as conn:
        for check, key, severity in conn.execute(sa.select(q.c.check_name, q.c.item_key, q.c.severity)):
            out.setdefault(check, {})[key.removeprefix(f"{DAG}/{PERIOD}#")] = severity
    return out


def test_each_dirty_kind_is_caught_with_its_severity_quarantined_and_excluded(province, warehouse_url):
    replica, store, summary = province
    warehouse, result = night(replica, store, warehouse_url)
    caught = quarantine(warehouse)
    outcomes = {o.name: o for o in result.outcomes}
    with sqlite3.connect(store) as conn:
        malformed_keys = {r[0] for r in conn.execute(
            f"SELECT MaHoSo FROM national_synced_dossiers WHERE MaHoSo != '' AND (NgayTiepNhan IN {MALFORMED} "
            f"OR NgayHenTra IN {MALFORMED})")}
        empty_keys = conn.execute("SELECT COUNT(*) FROM national_synced_dossiers WHERE MaHoSo = ''").fetchone()[0]
    planted = {  # the planted rows, found in the sources independently of the checks' SQL
        "out_of_order_timestamps": replica_keys(replica, "received_at < submitted_at"),
        "due_before_received": replica_keys(replica, "due_at < received_at"),
        "unknown_unit_code": replica_keys(replica, f"unit_code = '{UNKNOWN_UNIT}'"),
        "unknown_procedure_code": replica_keys(replica, f"procedure_code = '{UNKNOWN_PROCEDURE}'"),
        "null_required": replica_keys(replica, "status IS NULL"),
        "future_timestamp": replica_keys(replica, f"updated_at > '{RUN_START}'"),
        "malformed_feed_time": {f"national.synced_dossiers:{k}" for k in malformed_keys},
    }
    for kind, check in CAUGHT_BY.items():
        outcome = outcomes[check]
        assert not outcome.success and outcome.severity == SEVERITY[check], kind
        assert set(caught[check].values()) == {SEVERITY[check]}, kind
        assert outcome.unexpected_count == len(caught[check]) > 0, kind
        if kind in planted and kind != "malformed_feed_time":
            assert set(caught[check]) == planted[kind], kind
    assert {f"national.synced_dossiers:{k}" for k in caught["national_time_unreadable"]} == \
        planted["malformed_feed_time"]
    assert len(caught["event_duplicate"]) == summary.dirty["duplicate_event"]
    assert len(caught["national_item_unreadable"]) == empty_keys == summary.dirty["empty_feed_key"]

    # Population-removing checks fill quality_excluded_dossiers, and only they do.
    with warehouse.connect() as conn:
        excluded = conn.execute(sa.select(wh.quality_excluded_dossiers.c.dossier_code,
                                          wh.quality_excluded_dossiers.c.check_name)).all()
    removing = {c.name for c in load_checks() if c.excludes_dossier}
    assert {check for _, check in excluded} <= removing
    assert {code for code, _ in excluded} == set().union(*(caught.get(c, {}) for c in removing))
    for kind in ("out_of_order_timestamps", "due_before_received", "unknown_unit_code", "unknown_procedure_code",
                 "null_required", "future_timestamp"):
        assert planted[kind] <= {code for code, _ in excluded}, kind
    assert result.excluded_dossiers == len({code for code, _ in excluded})

    # The valid time styles are normalised: updated_at and DongBoLuc are the same instant.
    with warehouse.connect() as conn:
        s = wh.stg_synced_dossiers
        assert conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.updated_at != s.c.dong_bo_luc)
                            ).scalar_one() == 0
    assert result.status == "warning" and month_status(warehouse, "2025-03") == ("warning", [])


def test_engineers_get_one_alert_per_check_and_period_without_personal_data(province, warehouse_url,
                                                                            smtp_server, monkeypatch):
    replica, store, _ = province
    host, port, inbox = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://{host}:{port}")
    warehouse, result = night(replica, store, warehouse_url)
    alerted = alerted_checks(alert_quality(warehouse, result))
    failed = [o for o in result.failed if o.severity != "info"]
    assert sorted(alerted) == sorted(o.name for o in failed) and len(inbox.messages) == 1
    message = inbox.messages[0]
    engineers = config.recipients().data_engineers
    assert message["To"] == ", ".join(engineers) and message["X-Envelope-To"] == ", ".join(engineers)
    assert PERIOD in message["Subject"] and "WARNING" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()  # the run's readable report
    assert f"Quality gate {DAG}/{PERIOD}" in html and all(o.name in html for o in result.outcomes)
    with warehouse.connect() as conn:
        stored = conn.execute(sa.select(wh.quality_reports.c.html)
                              .where(wh.quality_reports.c.run_key == f"{DAG}/{PERIOD}")).scalar_one()
    assert stored.strip() == html.replace("\r\n", "\n").strip()  # SMTP carries CRLF line ends
    for o in failed:
        assert f"{o.name} on {o.table}: {o.unexpected_count} row(s)" in body
        assert all(sample in body for sample in o.sample_ids)
    assert "event_duplicate" not in body  # info: reported in the gate's result, never mailed
    with sqlite3.connect(replica) as conn:
        personal = {v for row in conn.execute("SELECT applicant_name, applicant_id_number, applicant_phone "
                                              "FROM dossiers") for v in row if v}
    assert personal and not [v for v in personal if v in body or v in html]

    # A rerun of the same period (extraction and gate again) sends nothing more.
    warehouse, rerun = night(replica, store, warehouse_url)
    assert [o.name for o in rerun.failed] == [o.name for o in result.failed]
    assert alert_quality(warehouse, rerun) is None and len(inbox.messages) == 1

    # A new failure in the same period is alerted on its own: a unit with a tier off the list
    # (staged and noted for the gate as a load does).
    with warehouse.begin() as conn:
        unit = {"unit_code": "000.00.00.H57", "name": "Tỉnh", "tier": "province", "valid_from": dt.date(2020, 1, 1)}
        conn.execute(sa.insert(wh.stg_units).values(**unit))
        pending.note_rows(conn, wh.stg_units, [unit])
    critical = run_gate(warehouse, warehouse_url, DAG, PERIOD, RUN_START)
    assert critical.status == "critical"
    assert alerted_checks(alert_quality(warehouse, critical)) == ["unit_invalid"] and len(inbox.messages) == 2
    assert "CRITICAL" in inbox.messages[1]["Subject"]
    assert "000.00.00.H57" in inbox.messages[1].get_body(preferencelist=("plain",)).get_content()
    assert month_status(warehouse, "2025-03") == ("critical", ["unit_invalid"])


@pytest.mark.parametrize("channel", ["no smtp_default", "mail server refusing"])
def test_an_alert_no_channel_carries_is_kept_pending_and_sent_once_by_the_next_run(
        channel, province, warehouse_url, smtp_server, monkeypatch, unused_port):
    replica, store, _ = province
    host, port, inbox = smtp_server
    if channel == "no smtp_default":
        monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{unused_port}")  # nothing listens
    warehouse, result = night(replica, store, warehouse_url)
    outcome = alert_quality(warehouse, result)
    assert outcome.pending and outcome.channels == [] and "smtp_default" in outcome.problems[0]
    assert alerted_checks(outcome) == [] and inbox.messages == []
    [held] = pending_alerts(warehouse)
    assert held["attempts"] == 1 and "smtp_default" in held["not_sent_because"] and PERIOD in held["subject"]
    # The same failures found again while the channel is still down: still one pending alert.
    warehouse, rerun = night(replica, store, warehouse_url)
    assert alert_quality(warehouse, rerun) is None and len(pending_alerts(warehouse)) == 1

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://{host}:{port}")
    assert send_pending_alerts(warehouse) == {"sent": 1, "still_pending": 0}
    assert len(inbox.messages) == 1 and PERIOD in inbox.messages[0]["Subject"]
    assert pending_alerts(warehouse) == [] and send_pending_alerts(warehouse) == {"sent": 0, "still_pending": 0}
    warehouse, again = night(replica, store, warehouse_url)
    assert alert_quality(warehouse, again) is None and len(inbox.messages) == 1


def test_a_gate_judges_the_loaded_rows_and_finds_what_judging_every_row_finds(province, warehouse_url):
    """The second night judges only what its loads noted and the rows failing at the first, yet
    finds exactly what a gate judging every row finds: rows that start failing through another
    row (an earlier twin event), rows that stop failing through another row (their dossier
    arrives) or through the clock, a row corrected and a row broken in the source."""
    replica, store, _ = province
    late_code, twin_id = "HS-ARRIVES-LATE", None
    with sqlite3.connect(replica) as conn:
        event_columns = [r[1] for r in conn.execute("PRAGMA table_info(dossier_events)")]
        first = dict(zip(event_columns, conn.execute("SELECT * FROM dossier_events ORDER BY event_id LIMIT 1"
                                                     ).fetchone(), strict=True))
        new_id = conn.execute("SELECT MAX(event_id) + 1 FROM dossier_events").fetchone()[0]
        orphan = first | {"event_id": new_id, "dossier_code": late_code, "recorded_at": "2025-03-10 20:00:00"}
        conn.execute(f"INSERT INTO dossier_events VALUES ({','.join('?' * len(orphan))})", list(orphan.values()))
        # a dossier stamped during the first night: in the future for that night's gate only
        clock = conn.execute("SELECT dossier_code FROM dossiers WHERE updated_at < '2025-03-10' AND "
                             "received_at >= submitted_at AND due_at >= received_at ORDER BY dossier_code LIMIT 1"
                             ).fetchone()[0]
        conn.execute("UPDATE dossiers SET updated_at = '2025-03-11 18:00:00' WHERE dossier_code = ?", (clock,))
    warehouse, first_night = night(replica, store, warehouse_url)
    assert set(first_night.judged.values()) == {None}  # a first load: every row
    failing_first = {o.name: o for o in first_night.outcomes}
    assert failing_first["event_unknown_dossier_or_type"].unexpected_count >= 1
    assert not failing_first["dossier_future_time"].success

    with sqlite3.connect(replica) as conn:
        dossier_columns = [r[1] for r in conn.execute("PRAGMA table_info(dossiers)")]
        good = conn.execute("SELECT dossier_code FROM dossiers WHERE updated_at < '2025-03-10' AND "
                            "received_at >= submitted_at AND due_at >= received_at AND dossier_code != ? "
                            "ORDER BY dossier_code LIMIT 2", (clock,)).fetchall()
        template = dict(zip(dossier_columns, conn.execute("SELECT * FROM dossiers WHERE dossier_code = ?",
                                                          good[0]).fetchone(), strict=True))
        arriving = template | {"dossier_code": late_code, "updated_at": "2025-03-11 12:00:00"}
        conn.execute(f"INSERT INTO dossiers VALUES ({','.join('?' * len(arriving))})", list(arriving.values()))
        fixed = conn.execute("SELECT dossier_code FROM dossiers WHERE received_at < submitted_at "
                             "ORDER BY dossier_code LIMIT 1").fetchone()[0]
        conn.execute("UPDATE dossiers SET received_at = submitted_at, updated_at = '2025-03-11 12:00:00' "
                     "WHERE dossier_code = ?", (fixed,))
        broken = good[1][0]
        conn.execute("UPDATE dossiers SET due_at = datetime(received_at, '-1 day'), "
                     "updated_at = '2025-03-11 12:00:00' WHERE dossier_code = ?", (broken,))
        # appended with a smaller id than an existing event of the same dossier, type and time:
        # the existing one becomes the repeat, though no load touched it
        twin_of = dict(zip(event_columns, conn.execute(
            "SELECT * FROM dossier_events e WHERE recorded_at < '2025-03-10' AND NOT EXISTS (SELECT 1 FROM "
            "dossier_events o WHERE o.dossier_code = e.dossier_code AND o.event_type = e.event_type "
            "AND o.occurred_at = e.occurred_at AND o.event_id != e.event_id) ORDER BY event_id DESC LIMIT 1"
        ).fetchone(), strict=True))
        twin_id = twin_of["event_id"]
        earlier = twin_of | {"event_id": -1, "recorded_at": "2025-03-11 12:00:00"}
        conn.execute(f"INSERT INTO dossier_events VALUES ({','.join('?' * len(earlier))})", list(earlier.values()))

    second_start = dt.datetime(2025, 3, 12, 1, 0)
    warehouse, second = night(replica, store, warehouse_url, "2025-03-11", second_start)
    with warehouse.connect() as conn:
        sizes = {t: conn.execute(sa.select(sa.func.count()).select_from(wh.metadata.tables[t])).scalar_one()
                 for t in second.judged}
        failing = set(conn.execute(sa.select(wh.quality_failing.c.check_name, wh.quality_failing.c.item_key)).all())
        excluded = set(conn.execute(sa.select(wh.quality_excluded_dossiers)).all())
    assert all(n is not None and n < sizes[t] / 4 for t, n in second.judged.items()), (second.judged, sizes)
    assert second.judged["stg_dossiers"] >= 3 and second.judged["stg_dossier_events"] >= 1
    with warehouse.connect() as conn:
        html = conn.execute(sa.select(wh.quality_reports.c.html)
                            .where(wh.quality_reports.c.run_key == f"{DAG}/2025-03-11")).scalar_one()
    assert f"stg_dossiers\n{second.judged['stg_dossiers']} row(s) loaded since the last gate" in html

    outcomes = {o.name: o for o in second.outcomes}
    assert ("event_duplicate", str(twin_id)) in failing
    assert ("event_duplicate", "-1") not in failing
    assert not any(check == "event_unknown_dossier_or_type" and key == str(new_id) for check, key in failing)
    assert ("dossier_received_before_submitted", fixed) not in failing
    assert ("dossier_due_before_received", broken) in failing and (broken, "dossier_due_before_received") in excluded
    assert ("dossier_future_time", clock) not in failing

    # The same warehouse judged whole (as after a catalogue change) finds exactly the same.
    with warehouse.begin() as conn:
        conn.execute(sa.delete(wh.quality_gate_state))
    whole = run_gate(warehouse, warehouse_url, DAG, "2025-03-11", second_start)
    assert set(whole.judged.values()) == {None}
    with warehouse.connect() as conn:
        assert set(conn.execute(sa.select(wh.quality_failing.c.check_name, wh.quality_failing.c.item_key)).all()
                   ) == failing
        assert set(conn.execute(sa.select(wh.quality_excluded_dossiers)).all()) == excluded
    for o in whole.outcomes:
        assert (o.success, o.unexpected_count, o.sample_ids) == \
            (outcomes[o.name].success, outcomes[o.name].unexpected_count, outcomes[o.name].sample_ids), o.name


def test_a_gate_gives_way_to_one_that_started_after_it(province, warehouse_url, monkeypatch):
    """Two gates overlapping (a retry beside a late run): the later one claims every note and
    records its judgement; the earlier one then fails rather than overwrite it, and its retry
    finds nothing left to judge."""
    replica, store, _ = province
    warehouse, first = night(replica, store, warehouse_url)
    with sqlite3.connect(replica) as conn:
        conn.execute("UPDATE dossiers SET due_at = datetime(received_at, '-1 day'), updated_at = "
                     "'2025-03-11 12:00:00' WHERE dossier_code = (SELECT MIN(dossier_code) FROM dossiers "
                     "WHERE due_at >= received_at)")
    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, f"{DAG}/2025-03-11",
                dt.datetime(2025, 3, 12), dt.timedelta(minutes=60))
    run_start = dt.datetime(2025, 3, 12, 1, 0)
    validate, later = gate._gx_outcomes, []

    def validate_while_a_later_gate_runs(*args):
        monkeypatch.setattr(gate, "_gx_outcomes", validate)  # the later gate validates as usual
        later.append(run_gate(warehouse, warehouse_url, DAG, "2025-03-11", run_start))
        return validate(*args)

    monkeypatch.setattr(gate, "_gx_outcomes", validate_while_a_later_gate_runs)
    with pytest.raises(RuntimeError, match="gives way"):
        run_gate(warehouse, warehouse_url, DAG, "2025-03-11", run_start)
    noted = later[0].judged["stg_dossiers"]
    assert noted is not None and noted >= 1  # the earlier gate's claim, taken over
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.quality_pending)).scalar_one() == 0
        report = conn.execute(sa.select(wh.quality_runs.c.report_json)
                              .where(wh.quality_runs.c.run_key == f"{DAG}/2025-03-11")).scalar_one()
    assert f'"stg_dossiers": {noted}' in report  # the later gate's judgement stands

    retry = run_gate(warehouse, warehouse_url, DAG, "2025-03-11", run_start)
    assert set(retry.judged.values()) == {0}

    def due_before_received(result) -> int:
        return next(o.unexpected_count for o in result.outcomes if o.name == "dossier_due_before_received")

    assert due_before_received(retry) == due_before_received(later[0]) > due_before_received(first)
