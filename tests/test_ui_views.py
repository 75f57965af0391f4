"""What the UI's pages show (tthc.ui.views) and which files it serves (tthc.ui.files), without a
server: two months computed by the real engine, their folders, the real delivery ledger.

The pages behind a real api-server and a real browser: tests/test_ui_browser.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import uuid

import pytest
import sqlalchemy as sa
from airflow.sdk import ObjectStoragePath
from ui_months import ACTIVE, AUGUST, SEPTEMBER, build_months, unit_scores

from tthc.ui import files, views
from tthc.ui.views import delivery_status


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    db, out = build_months(tmp_path_factory.mktemp("ui"))
    engine = sa.create_engine(f"sqlite:///{db}")
    yield engine, out
    engine.dispose()


def file_root(out) -> ObjectStoragePath:
    return ObjectStoragePath(f"file://{out}")


# --- the delivery status, from the ledger's rows ----------------------------------------------
def row(recipient: str, status: str, at: str | None = "2025-10-01T08:00:00") -> dict:
    return {"recipient": recipient, "status": status, "at": at}


def test_a_month_is_sent_when_every_part_of_one_split_is_sent():
    ledger = [
        row("office/1of1", "failed", "2025-10-01T08:00:00"),  # the first try, one message
        row("office/1of2", "sent", "2025-10-01T09:00:00"),
        row("office/2of2", "sent", "2025-10-01T09:01:00"),
    ]
    assert delivery_status(ledger, "ok") == views.Delivery(
        "sent", "Đã gửi Văn phòng UBND", dt.datetime(2025, 10, 1, 9, 1)
    )
    assert delivery_status(ledger[:2], "ok").state == "failed"  # one part of two is not the month


def test_a_send_cut_short_is_not_guessed_and_a_critical_month_is_blocked():
    assert delivery_status([row("office/1of1", "sending")], "ok").state == "uncertain"
    assert delivery_status([], "critical") == views.Delivery("blocked", "Không gửi: dữ liệu lỗi nghiêm trọng")
    # the units' own mail is not the office's
    assert delivery_status([row("unit/000.00.10.H57", "sent")], "ok").state == "not_sent"


# --- the pages' contents ----------------------------------------------------------------------
def test_the_months_with_their_quality_delivery_and_build_time(built):
    engine, out = built
    months = views.months(engine, file_root(out))
    assert [m.period for m in months] == [SEPTEMBER, AUGUST]
    september, august = months
    assert (september.quality, september.quality_label) == ("ok", "Đạt")  # the gate ran for September
    assert september.built_at == dt.datetime(2025, 10, 1, 2, 0) and september.units_scored == len(ACTIVE)
    assert september.delivery.state == "not_sent"
    # August went to the office through the real SMTP server: the ledger says when
    assert august.delivery.state == "sent" and august.delivery.at is not None
    assert august.built_at == dt.datetime(2025, 9, 1, 2, 0)


def test_the_ranking_is_unit_scores_csv(built):
    engine, out = built
    month = views.month(engine, file_root(out), SEPTEMBER)
    shown = [(t.tier, u.rank, u.unit_code, u.total, u.band, u.groups) for t in month.tiers for u in t.units]
    written = [
        (
            r["tier"],
            int(r["rank"]),
            r["unit_code"],
            float(r["total"]),
            r["band"],
            tuple(float(r[f"g{g}"]) if r[f"g{g}"] else None for g in range(1, 7)),
        )
        for r in unit_scores(out, SEPTEMBER)
        if r["unit_code"] != "H57"
    ]
    written.sort(key=lambda r: (["department", "district", "commune"].index(r[0]), r[1]))
    assert [
        (t, rank, code, round(total, 6), band, tuple(None if g is None else round(g, 6) for g in groups))
        for t, rank, code, total, band, groups in shown
    ] == written
    assert len({r[3] for r in written}) == len(written)  # the totals differ: the order is a real ranking
    commune = next(t for t in month.tiers if t.tier == "commune")
    assert commune.title == "UBND cấp xã"
    assert all(
        u.scorecard == f"scorecards/{u.unit_code}.pdf" and u.violations == f"violations/{u.unit_code}.csv"
        for t in month.tiers
        for u in t.units
    )
    assert [name for name, _ in month.documents] == [
        "ranking.pdf",
        "ranking.xlsx",
        "unit_scores.csv",
        "indicators.csv",
        "score_changes.csv",
        "quality.json",
    ]
    assert [r.run_key for r in month.quality_runs] == [f"tthc_monthly_scorecards/{SEPTEMBER}"]
    assert month.quality_runs[0].checks > 10 and month.quality_runs[0].failed == ()
    assert month.province["unit_name"] == "Thành phố Huế"
    assert views.month(engine, file_root(out), "2025-07") is None


def test_a_unit_over_twelve_months_and_its_violations_by_duty(built):
    engine, out = built
    code = ACTIVE[1]
    unit = views.unit(engine, file_root(out), SEPTEMBER, code)
    assert unit.months[0] == "2024-10" and unit.months[-1] == SEPTEMBER and len(unit.months) == 12
    by_month = {p: {r["unit_code"]: r for r in unit_scores(out, p)}[code] for p in (AUGUST, SEPTEMBER)}
    assert [round(t, 6) if t is not None else None for t in unit.totals] == [None] * 10 + [
        float(by_month[AUGUST]["total"]),
        float(by_month[SEPTEMBER]["total"]),
    ]
    assert unit.totals[-2] != unit.totals[-1]
    group2 = unit.groups[1]
    assert (group2.name, group2.max_points) == ("Tiến độ giải quyết", 20)
    assert group2.points[-1] == pytest.approx(float(by_month[SEPTEMBER]["g2"]))
    assert ">9/2025</text>" in unit.total_chart and ">5</text>" in group2.chart  # a 0–20 axis: ticks of 5
    assert unit.groups[2].chart is None and unit.groups[2].points == (None,) * 12  # no group 3 for a commune here
    rows = list(csv.DictReader(io.StringIO((out / SEPTEMBER / "violations" / f"{code}.csv").read_text("utf-8"))))
    per_code: dict[str, int] = {}
    for r in rows:
        per_code[r["indicator_code"]] = per_code.get(r["indicator_code"], 0) + 1
    assert {v.code: v.count for v in unit.violations} == per_code and per_code
    duty = next(v for v in unit.violations if v.code == "D5_1_INPUTS_DIGITIZED")
    assert duty.title.startswith("Nhiệm vụ 5.1 – ")
    assert {i["item_id"] for i in duty.items} == {r["item_id"] for r in rows if r["indicator_code"] == duty.code}
    # each item's reason as the CSV words it, in Vietnamese (never the stored reason code)
    detail = {(r["indicator_code"], r["item_id"]): r["detail"] for r in rows}
    assert all(i["detail"] == detail[(v.code, i["item_id"])] for v in unit.violations for i in v.items)
    assert detail[(duty.code, duty.items[0]["item_id"])] == "Chưa số hóa thành phần hồ sơ khi tiếp nhận"
    assert views.unit(engine, file_root(out), SEPTEMBER, "H57") is None  # the province has no unit page
    assert views.unit(engine, file_root(out), SEPTEMBER, "000.99.99.H57") is None


# --- the files it serves ----------------------------------------------------------------------
def test_only_files_the_manifest_lists_are_served(built, tmp_path):
    _engine, out = built
    root = file_root(out)
    pdf = files.month_file(root, SEPTEMBER, f"scorecards/{ACTIVE[0]}.pdf")
    assert pdf.media_type == "application/pdf"
    assert pdf.path.read_bytes() == (out / SEPTEMBER / "scorecards" / f"{ACTIVE[0]}.pdf").read_bytes()
    stray = out / SEPTEMBER / "not-listed.txt"
    stray.write_text("not a published file")  # on the disk, in the month's folder, but not in its manifest
    try:
        for name in (
            "not-listed.txt",
            "manifest.json",
            "../warehouse.db",
            f"scorecards/../../{SEPTEMBER}/ranking.pdf",
            "/etc/passwd",
            "scorecards",
            "",
        ):
            assert files.month_file(root, SEPTEMBER, name) is None, name
    finally:
        stray.unlink()
    for period in ("../out", "2025-13", "..", f"{SEPTEMBER}/..", ".2025-09.build-x"):
        assert files.month_file(root, period, "ranking.pdf") is None, period
    assert files.month_folders(root) == [AUGUST, SEPTEMBER]
    (out / f".{SEPTEMBER}.build-1234").mkdir()  # a build in progress is not a month
    try:
        assert files.month_folders(root) == [AUGUST, SEPTEMBER]
    finally:
        (out / f".{SEPTEMBER}.build-1234").rmdir()


def test_any_fsspec_location_reads_the_same(built):
    """The month folders in an in-memory object store (as s3:// would be) give the same pages and bytes."""
    engine, out = built
    remote = ObjectStoragePath(f"memory://tthc-ui-{uuid.uuid4().hex[:8]}/output")
    for path in out.rglob("*"):
        if path.is_file():
            target = remote / path.relative_to(out).as_posix()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert views.month(engine, remote, SEPTEMBER) == views.month(engine, file_root(out), SEPTEMBER)
    built_at = [m.built_at for m in views.months(engine, file_root(out))]
    assert [m.built_at for m in views.months(engine, remote)] == built_at
    found = files.month_file(remote, SEPTEMBER, "ranking.xlsx")
    assert found.path.read_bytes() == (out / SEPTEMBER / "ranking.xlsx").read_bytes()


def test_the_output_location_comes_from_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_OUTPUT_DIR", str(tmp_path))
    assert files.output_root() == tmp_path  # a local folder, as the pipeline writes it
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_OUTPUT_DIR", "s3://aws_default@bucket/output")
    store = files.output_root()
    assert store.protocol == "s3" and store.conn_id == "aws_default" and store.path == "bucket/output"
    shutil.rmtree(tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_OUTPUT_DIR", str(tmp_path))
    assert files.month_folders(files.output_root()) == []  # not there yet: no months, no error


# --- the plugin's registration -----------------------------------------------------------------
def test_the_plugin_registers_the_app_and_both_ui_entries_and_stays_light_to_load():
    """Every task process loads the plugins folder: importing the plugin must not import the app."""
    import subprocess
    import sys

    from tthc.paths import REPO_ROOT

    probe = (
        "import sys, tthc_scorecards_ui as p; "
        "assert 'tthc.ui.app' not in sys.modules and 'fastapi' not in sys.modules; "
        "apps = p.ScorecardsPlugin().fastapi_apps; print('APP', type(apps[0]['app']).__name__, apps[0]['url_prefix'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line.split() for line in done.stdout.splitlines() if line.startswith("APP ")] == [
        ["APP", "FastAPI", "/tthc-scorecards"]
    ]
    from tthc_scorecards_ui import ScorecardsPlugin

    views_by_place = {v["destination"]: v for v in ScorecardsPlugin.external_views}
    assert views_by_place["nav"]["href"] == "tthc-scorecards/"  # relative to the UI's <base href>
    assert views_by_place["dag_run"]["href"] == "tthc-scorecards/runs/{DAG_ID}/{RUN_ID}"
    assert {v["name"] for v in views_by_place.values()} == {"Chỉ số phục vụ"}
