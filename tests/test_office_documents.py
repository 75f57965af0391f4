"""What the office reads, on a generated month (issue 17): every word Vietnamese — every PDF, the
XLSX, the violations CSVs' `detail`, the mail the office and the units get — and no text outside
its cell or the page; page 1 of every scorecard holds the whole summary; the annex lists at most
N failed items per indicator or duty, the costliest first, and says how many more are in the CSV.

The month is the production path end to end without Airflow: a generated province (February
and March 2025), extracted from the replica and from the real national mock, through the
quality gate and the indicator engine, into the month folder; mail goes through a real SMTP
server. The checks themselves are tests/document_checks.py, tried first on text and a layout
they must refuse.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections import Counter
from pathlib import Path

import openpyxl
import pdfplumber
import pytest
import sqlalchemy as sa
import yaml
from document_checks import foreign_words, overflowing_words, pdf_text, table_cells
from national_server import running_national_mock
from weasyprint import HTML

from tthc import config
from tthc.delivery.office import deliver_month
from tthc.extract.national import NationalClient, feeds, load_feed
from tthc.extract.provincial import extract_all
from tthc.indicators.catalogue import load_catalogue
from tthc.indicators.engine import compute_period
from tthc.insights import early_warning
from tthc.insights.score_change import gains, item_losses, period_results
from tthc.orchestration.connections import SmtpEndpoint
from tthc.paths import REPO_ROOT
from tthc.periods import Period
from tthc.quality.gate import run_gate
from tthc.reports import formatting as fmt
from tthc.reports.month_folder import build_contexts, write_month_folder
from tthc.reports.templating import ITEM_TYPE_TITLES
from tthc.sim.generator import generate

PERIOD = Period("2025-03")
BUILT_AT = dt.datetime(2025, 4, 1, 2, 0)
TOKEN = "documents-token"


@pytest.fixture(scope="module")
def codes() -> set[str]:
    return {i.code for i in load_catalogue().indicators}


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[sa.Engine, Path]:
    """February and March 2025 of a generated province, computed; March's folder written."""
    root = tmp_path_factory.mktemp("documents")
    replica, store = root / "replica.db", root / "national.db"
    generate(f"sqlite:///{replica}", f"sqlite:///{store}", PERIOD.previous().first_day, PERIOD.last_day,
             seed=17, dossiers_per_year=20_000)
    url = f"sqlite:///{root / 'warehouse.db'}"
    engine = sa.create_engine(url)
    run_key = f"tthc_nightly/{PERIOD.last_day}"
    extract_all(sa.create_engine(f"sqlite:///{replica}"), engine, run_key, PERIOD.end, dt.timedelta(minutes=60))
    with running_national_mock(f"sqlite:///{store}", TOKEN) as base_url:
        client = NationalClient(base_url, TOKEN)
        for feed in feeds("H57"):
            load_feed(client, engine, feed, run_key, BUILT_AT, dt.timedelta(minutes=10))
    for period in (PERIOD.previous(), PERIOD):
        run_gate(engine, url, "tthc_monthly_scorecards", period.code, BUILT_AT)
        compute_period(engine, period.code, BUILT_AT)
    folder = write_month_folder(engine, PERIOD.code, root / "out", BUILT_AT)
    yield engine, folder
    engine.dispose()


def pdfs(folder: Path) -> list[Path]:
    return [folder / "ranking.pdf", *sorted((folder / "scorecards").glob("*.pdf"))]


# --- the checks refuse what they must ---------------------------------------------------------
def test_the_checks_refuse_english_and_text_out_of_its_cell(tmp_path, codes):
    # last month's English violation reasons, and Vietnamese with codes, ids and file names
    assert foreign_words("finished after the due date; status on the national portal differs", codes) == [
        "finished", "after", "due", "date", "status", "national", "portal", "differs"]
    assert foreign_words("Hồ sơ 000.00.01.H57-250904-0001 giải quyết quá hạn (ON_TIME, SYNCED_WITH_DVCQG_"
                         " PERSONAL_STORAGE); xem tệp violations/000.00.01.H57.csv, ranking.xlsx, PDF. Ủy ban "
                         "nhân dân thành phố Huế: Độc lập - Tự do - Hạnh phúc. TTHC, UBND, Cổng DVCQG; a) b) II.",
                         codes) == []
    assert foreign_words("Hồ sơ online, e-form", codes) == ["online", "form"]
    # a code wider than its cell, as last month's cards printed SYNCED_WITH_DVCQG_PERSONAL_STORAGE
    html = ('<html><head><style>@page { size: A4; margin: 20mm 15mm 20mm 30mm }'
            'td { border: 0.5pt solid #000 }</style></head><body><table style="table-layout: fixed; width: 100%; '
            'border-collapse: collapse"><tr><td style="width: 20%">Đồng bộ kho dữ liệu SYNCED_WITH_DVCQG_PERSONAL_'
            'STORAGE_AND_MORE</td><td>ô</td></tr></table></body></html>')
    HTML(string=html).write_pdf(tmp_path / "wide.pdf")
    assert any("runs out of its cell" in w for w in overflowing_words(tmp_path / "wide.pdf"))


# --- every word Vietnamese --------------------------------------------------------------------
def test_every_pdf_and_the_xlsx_read_in_vietnamese(month, codes):
    _, folder = month
    found = {p.relative_to(folder).as_posix(): Counter(foreign_words(pdf_text(p), codes)) for p in pdfs(folder)}
    assert len(found) > 40  # the ranked lists and every active unit's scorecard
    assert {name: words for name, words in found.items() if words} == {}
    workbook = openpyxl.load_workbook(folder / "ranking.xlsx", read_only=True)
    cells = [c for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row
             if isinstance(c, str)]
    assert cells and foreign_words(" ".join([*workbook.sheetnames, *cells]), codes) == []


def test_violations_detail_is_the_catalogues_vietnamese(month, codes):
    _, folder = month
    cat = load_catalogue()
    rows = [row for path in sorted((folder / "violations").glob("*.csv"))
            for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))]
    assert len(rows) > 1000
    assert set(rows[0]) == {"indicator_code", "item_type", "item_id", "detail"}  # outputs.md, nothing added
    details = Counter(row["detail"] for row in rows)
    assert foreign_words(" ".join(details), codes) == []
    assert all(row["detail"] in cat.reasons_of(row["indicator_code"]).values() for row in rows)
    assert len(details) > 20  # the generator's defects reach most reasons


def test_the_mail_the_office_and_the_units_read_is_vietnamese(month, smtp_server, tmp_path, monkeypatch, codes):
    engine, folder = month
    host, port, inbox = smtp_server
    units = [p.stem for p in (folder / "scorecards").glob("*.pdf")]
    conf = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", conf)
    (conf / "recipients.yaml").write_text(yaml.safe_dump({
        "office_to": ["vanphong@hue.example.vn"], "sender": "tthc@hue.example.vn",
        "data_engineers": ["de@hue.example.vn"], "send_to_units": True,
        "units": {u: f"u{i}@hue.example.vn" for i, u in enumerate(units)}}), encoding="utf-8")
    monkeypatch.setenv("TTHC_CONFIG_DIR", str(conf))
    smtp = SmtpEndpoint(host, port, None, None, False)
    copy = tmp_path / PERIOD.code
    shutil.copytree(folder, copy)  # the delivery records itself in the manifest: not in the shared folder
    assert deliver_month(engine, copy, PERIOD.code, smtp, send_mail=True)["status"] == "sent"
    # a Monday of the month: the units' early warnings and the office's weekly summary
    run = early_warning.send_warnings(engine, dt.datetime(2025, 3, 17), smtp, config.recipients())
    assert run.mailed_units and run.office_summary_sent
    assert len(inbox.messages) > len(units)  # the office's, each unit's scorecard, warnings, the summary
    # what a reader reads: the subject (as the mail client decodes it) and the text
    read = {m["To"] + ": " + m["Subject"]: m["Subject"] + "\n" + m.get_body(preferencelist=("plain",)).get_content()
            for m in inbox.messages}
    found = {mail: foreign_words(text, codes) for mail, text in read.items()}
    assert {mail: words for mail, words in found.items() if words} == {}


# --- nothing overflows; page 1 is the summary; the annex is capped ---------------------------
def test_no_text_runs_out_of_its_cell_or_the_page(month):
    _, folder = month
    found = {p.name: overflowing_words(p) for p in pdfs(folder)}
    assert {name: words for name, words in found.items() if words} == {}


def test_page_one_of_every_scorecard_is_the_whole_summary(month):
    engine, folder = month
    cat, results = load_catalogue(), period_results(engine, PERIOD.code)
    cards, _ = build_contexts(engine, PERIOD.code, BUILT_AT.date())
    for ctx in cards:
        with pdfplumber.open(folder / "scorecards" / f"{ctx.unit.code}.pdf") as pdf:
            first, second = (fmt.nfc(p.extract_text()) for p in pdf.pages[:2])
        flat = " ".join(first.split())
        assert "I. KẾT QUẢ CHUNG" in flat and "II. VIỆC CẦN ƯU TIÊN ĐỂ TĂNG ĐIỂM THÁNG SAU" in flat
        assert all(g.name in flat for g in ctx.groups) and "Biểu đồ: tổng điểm 12 tháng gần nhất" in flat
        assert fmt.format_number(ctx.total) in flat
        for p in ctx.priorities:
            assert f"{p.name} (nhóm {p.group})" in flat and f"{fmt.format_number(p.points)} điểm" in flat, ctx.unit
        # the three largest gains, or as many as lose points; none for a unit not scored
        assert len(ctx.priorities) == min(3, len(gains(cat, results[ctx.unit.code])))
        # the details start on page 2, under its page number
        assert second.split("\n")[1].startswith("III. CHI TIẾT CÁC CHỈ TIÊU"), ctx.unit.code


def test_the_annex_lists_the_costliest_items_and_counts_the_rest(month):
    engine, folder = month
    cap = config.thresholds().top_failing_items
    cards, _ = build_contexts(engine, PERIOD.code, BUILT_AT.date())
    busy = max(cards, key=lambda c: sum(f.failed for f in c.annex))
    code = busy.unit.code
    rows = list(csv.DictReader(io.StringIO((folder / "violations" / f"{code}.csv").read_text(encoding="utf-8"))))
    in_csv = Counter(r["indicator_code"] for r in rows)
    assert {f.code: f.failed for f in busy.annex} == dict(in_csv)  # every code with a failure, counted whole
    cost = {(i.item_type, i.item_id): i.points_lost for i in item_losses(engine, PERIOD.code, units={code})[code]}
    cells = table_cells(folder / "scorecards" / f"{code}.pdf")
    for f in busy.annex:
        assert len(f.items) == min(cap, f.failed)
        listed = [cost.get((i.item_type, i.item_id), 0) for i in f.items]
        rest = [cost.get((r["item_type"], r["item_id"]), 0) for r in rows if r["indicator_code"] == f.code]
        assert listed == sorted(rest, reverse=True)[:cap], f.code  # the costliest first
        # its row of the annex: name, how many, the items under their reasons, how many more
        label = f"{f.duty_label}. {f.name}" if f.group is None else f.name
        row = next(i for i, c in enumerate(cells[:-2]) if c.startswith(label)
                   and cells[i + 1] == f"{fmt.format_count(f.failed)} {ITEM_TYPE_TITLES[f.item_type]}")
        assert all(f"{i.reason}:" in cells[row + 2] and i.item_id in cells[row + 2] for i in f.items), f.code
        tail = f"Và {fmt.format_count(f.more)} mục khác, xem tệp violations/{code}.csv."
        assert cells[row + 2].endswith(tail) if f.more else "mục khác" not in cells[row + 2], f.code
    assert any(f.more for f in busy.annex)
