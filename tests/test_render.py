"""The monthly documents: formatting, the trend chart, scorecard and ranking PDFs, the XLSX.

PDFs are rendered once per module (about a second each) and read back with pdfplumber
and pypdf. The golden images of page 1 of three scorecards (a department, a commune with many
failed items, a unit with no dossier) live in tests/golden/; regenerate them after an intended
layout change (and look at them) with:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py -k golden
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pdfplumber
import pypdf
import pytest
from document_checks import overflowing_words, table_cells
from PIL import Image, ImageChops
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from tthc.paths import TEMPLATE_DIR
from tthc.reports import formatting as fmt
from tthc.reports.model import TrendPoint
from tthc.reports.render import (
    OfficeDocument,
    TemplateOnlyFetcher,
    change_view,
    ranking_view,
    render_html,
    render_page_png,
    render_ranking_pdf,
    render_ranking_xlsx,
    render_scorecard,
    scorecard_view,
)
from tthc.reports.samples import BUSY_UNIT, NOT_SCORED_UNIT, post_reform_units, sample_ranking, sample_scorecard
from tthc.reports.svg import trend_svg
from tthc.reports.templating import ITEM_TYPE_TITLES

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN_DPI = 96
# A pixel counts as changed when its grey level moves by more than 64 (anti-aliasing drift
# between library versions stays below); one changed date digit is about 40 such pixels.
GOLDEN_PIXEL_TOLERANCE = 64
GOLDEN_MAX_CHANGED = 0.00001  # about 9 pixels of an A4 page at 96 dpi


# --- helpers -----------------------------------------------------------------------------
def pdf_pages_text(path: Path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [unicodedata.normalize("NFC", page.extract_text() or "") for page in pdf.pages]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


class _VisibleText(HTMLParser):
    """The text a reader sees in a document's HTML (no <title>, <style>, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._upper = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("title", "style", "head")
        self._upper += tag == "h1"

    def handle_endtag(self, tag):
        self._skip -= tag in ("title", "style", "head")
        self._upper -= tag == "h1"

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data.upper() if self._upper else data)  # h1 is upper-cased by CSS


def visible_chars(html: str) -> set[str]:
    parser = _VisibleText()
    parser.feed(html)
    return {c for c in "".join(parser.parts) if not c.isspace()}


def embedded_font_names(path: Path) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(path).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


# --- fixtures: render once ----------------------------------------------------------------
@pytest.fixture(scope="module")
def scorecard_ctx():
    return sample_scorecard()


@pytest.fixture(scope="module")
def scorecard_pdf(scorecard_ctx, tmp_path_factory):
    return render_scorecard(scorecard_ctx, tmp_path_factory.mktemp("sc") / "000.01.00.H57.pdf")


def unit(code: str):
    return next(u for u in post_reform_units() if u.code == code)


@pytest.fixture(scope="module")
def busy_ctx():
    return sample_scorecard(unit(BUSY_UNIT))


@pytest.fixture(scope="module")
def busy_pdf(busy_ctx, tmp_path_factory):
    return render_scorecard(busy_ctx, tmp_path_factory.mktemp("busy") / f"{BUSY_UNIT}.pdf")


@pytest.fixture(scope="module")
def no_data_pdf(tmp_path_factory):
    return render_scorecard(sample_scorecard(unit(NOT_SCORED_UNIT)), tmp_path_factory.mktemp("nd") / "x.pdf")


@pytest.fixture(scope="module")
def ranking_ctx():
    return sample_ranking()


@pytest.fixture(scope="module")
def ranking_pdf(ranking_ctx, tmp_path_factory):
    return render_ranking_pdf(ranking_ctx, tmp_path_factory.mktemp("rk") / "ranking.pdf")


# --- formatting ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(87.525, 2, "87,53"), (87.5312, 2, "87,53"), (0.0, 2, "0,00"), (100, 2, "100,00"),
     (12345.678, 1, "12.345,7"), (1234567, 0, "1.234.567"), (-1.305, 2, "−1,31"), (None, 2, "–")],
)
def test_format_number_uses_vietnamese_marks_and_rounds_half_up(value, decimals, expected):
    assert fmt.format_number(value, decimals) == expected


def test_percent_signed_and_counts():
    assert fmt.format_percent(0.8753) == "87,5%"
    assert fmt.format_percent(None) == "–"
    assert fmt.format_signed(2.154) == "+2,15"
    assert fmt.format_signed(-0.77) == "−0,77"
    assert fmt.format_signed(0.001) == "0,00"
    assert fmt.format_count(2090) == "2.090"


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.date(2026, 1, 5), "ngày 05 tháng 01 năm 2026"),
     (dt.date(2025, 2, 28), "ngày 28 tháng 02 năm 2025"),
     (dt.date(2025, 3, 9), "ngày 09 tháng 3 năm 2025"),
     (dt.date(2024, 11, 4), "ngày 04 tháng 11 năm 2024")],
)
def test_date_line_follows_decree_30(day, expected):
    assert fmt.format_date_line(day) == expected


def test_month_names_and_bad_periods():
    assert fmt.format_month("2025-03") == "tháng 3 năm 2025"
    assert fmt.format_month_short("2025-12") == "12/2025"
    for bad in ("2025-13", "2025-3", "25-03", "2025/03"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            fmt.format_month(bad)


def test_nfc_composes_decomposed_vietnamese():
    decomposed = unicodedata.normalize("NFD", "Thành phố Huế")
    assert decomposed != "Thành phố Huế"
    assert fmt.nfc(decomposed) == "Thành phố Huế"


# --- trend chart ----------------------------------------------------------------------------
def test_trend_svg_breaks_the_line_at_unscored_months_and_labels_with_commas():
    points = [TrendPoint("2025-01", 70.25), TrendPoint("2025-02", 75.0), TrendPoint("2025-03", None),
              TrendPoint("2025-04", 81.5), TrendPoint("2025-05", 82.0)]
    svg = trend_svg(points)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 2  # Jan–Feb and Apr–May, nothing through March
    assert len(root.findall(f"{ns}circle")) == 4
    labels = [t.text for t in root.findall(f"{ns}text")]
    assert "70,3" in labels and "81,5" in labels and "3/2025" in labels
    assert trend_svg(points) == svg  # pure: same input, same bytes


# --- scorecard PDF ------------------------------------------------------------------------
def test_scorecard_metadata_title_and_language(scorecard_pdf, scorecard_ctx):
    reader = pypdf.PdfReader(scorecard_pdf)
    assert reader.metadata.title == (
        "Phiếu đánh giá Chỉ số phục vụ người dân, doanh nghiệp tháng 12 năm 2025 – Sở Tư pháp")
    assert reader.trailer["/Root"]["/Lang"] == "vi"
    assert len(reader.pages) >= 3  # page 1 the summary, then the details and the annex
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points


def test_scorecard_first_page_has_the_official_header(scorecard_pdf, scorecard_ctx):
    page1 = pdf_pages_text(scorecard_pdf)[0]
    for text in ("ỦY BAN NHÂN DÂN", "THÀNH PHỐ HUẾ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 "Độc lập - Tự do - Hạnh phúc", "Huế, ngày 05 tháng 01 năm 2026", "Số: /UBND-KSTT",
                 "PHIẾU ĐÁNH GIÁ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP",
                 "Tháng 12 năm 2025 – Sở Tư pháp", "Mức độ hài lòng"):
        assert text in page1, text
    assert "Trang" not in page1  # Decree 30: no number on the first page
    # the total, with a comma decimal mark, and the rank in the tier
    assert fmt.format_number(scorecard_ctx.total) in page1
    assert re.search(r"\b\d{1,3},\d{2}\b", page1)
    assert f"{scorecard_ctx.rank}/{scorecard_ctx.rank_count}" in page1


def test_page_one_is_a_summary_a_leader_reads_on_its_own(scorecard_pdf, scorecard_ctx):
    pages = [one_line(p) for p in pdf_pages_text(scorecard_pdf)]
    first = pages[0]
    change = scorecard_ctx.total - scorecard_ctx.previous_total
    for text in ("I. KẾT QUẢ CHUNG", fmt.format_number(scorecard_ctx.total), scorecard_ctx.band,
                 f"{scorecard_ctx.rank}/{scorecard_ctx.rank_count}", fmt.format_signed(change),
                 "Biểu đồ: tổng điểm 12 tháng gần nhất", "II. VIỆC CẦN ƯU TIÊN ĐỂ TĂNG ĐIỂM THÁNG SAU"):
        assert text in first, text
    # the six groups, out of the maximum of what applies to the unit
    for g in scorecard_ctx.groups:
        assert f"{g.name} {fmt.format_number(g.points)} {fmt.format_number(g.max_points)}" in first, g.name
    # the three largest gains (tthc.insights.score_change.gains), largest first, in plain words
    assert len(scorecard_ctx.priorities) == 3
    assert [p.points for p in scorecard_ctx.priorities] == sorted((p.points for p in scorecard_ctx.priorities),
                                                                   reverse=True)
    top = scorecard_ctx.priorities[0]
    (name, item_type, failed), = top.failed
    assert (f"1. {top.name} (nhóm {top.group}): {fmt.format_count(failed)} hồ sơ chưa đạt; khắc phục hết thì tổng "
            f"điểm tăng đến {fmt.format_number(top.points)} điểm.") in first
    # the details start on page 2
    assert "CHI TIẾT CÁC CHỈ TIÊU" not in first and pages[1].startswith("Trang 2/") \
        and "III. CHI TIẾT CÁC CHỈ TIÊU" in pages[1][:40]


def test_group_4_is_one_scored_row_with_its_three_ratios_beneath(scorecard_pdf, scorecard_ctx):
    [g4] = [i for i in scorecard_ctx.indicators if i.group == 4]
    assert g4.points == scorecard_ctx.groups[3].points and g4.max_points == 10.0
    assert [r.letter for r in g4.components] == ["A", "B", "C"]
    with pdfplumber.open(scorecard_pdf) as pdf:  # page 2: "Chi tiết các chỉ tiêu"
        rows = [[fmt.nfc(one_line(c or "")).strip() for c in row] for table in pdf.pages[1].extract_tables()
                for row in table]
    g4_row = next(i for i, r in enumerate(rows) if r[0].startswith("Thanh toán trực tuyến: chấm điểm chung"))
    assert rows[g4_row][5:] == [fmt.format_number(g4.points), "10,00"]
    for r, row in zip(g4.components, rows[g4_row + 1:], strict=False):
        # counts and ratio, no points of its own: never "– 0,00" as a zero-point indicator
        assert row[:6] == [f"{r.letter}. {r.name} {r.code}", r.duty_label or "", fmt.format_count(r.numerator),
                           fmt.format_count(r.denominator), fmt.format_percent(r.value), "thành phần"]
    assert rows[g4_row + 4][0].startswith("Điểm nhóm = 6 × A + 2,5 × B (không quá 2) + 2,5 × C, tối đa 10")


def test_a_card_with_many_failed_items_lists_the_first_few_and_points_to_the_csv(busy_pdf, busy_ctx):
    text = one_line(" ".join(pdf_pages_text(busy_pdf)))
    assert text.index("Nơi nhận") < text.index("PHỤ LỤC")  # the annex follows the signature
    cells = table_cells(busy_pdf)
    assert len(busy_ctx.annex) > 20 and sum(f.failed for f in busy_ctx.annex) > 1000
    for f in busy_ctx.annex:
        label = f"{f.duty_label}. {f.name}" if f.group is None else f.name  # a duty of the letter: its item first
        row = next(i for i, c in enumerate(cells[:-2]) if c.startswith(label)
                   and cells[i + 1] == f"{fmt.format_count(f.failed)} {ITEM_TYPE_TITLES[f.item_type]}")
        listed = cells[row + 2]
        assert len(f.items) == min(3, f.failed), f.code  # config/thresholds.yaml top_failing_items
        assert all(i.item_id in listed and f"{i.reason}:" in listed for i in f.items), f.code
        tail = f"Và {fmt.format_count(f.more)} mục khác, xem tệp violations/{BUSY_UNIT}.csv."
        assert listed.endswith(tail) if f.more else "mục khác" not in listed


def test_nothing_runs_out_of_its_cell_or_the_page(scorecard_pdf, busy_pdf, no_data_pdf, ranking_pdf):
    found = {p.name: overflowing_words(p) for p in (scorecard_pdf, busy_pdf, no_data_pdf, ranking_pdf)}
    assert {name: words for name, words in found.items() if words} == {}


def test_scorecard_numbers_pages_from_page_two(scorecard_pdf):
    pages = pdf_pages_text(scorecard_pdf)
    for number, text in enumerate(pages[1:], start=2):
        assert f"Trang {number}/{len(pages)}" in text


def test_scorecard_shows_every_indicator_duty_and_failing_item(scorecard_pdf, scorecard_ctx):
    text = one_line(" ".join(pdf_pages_text(scorecard_pdf)))
    cells = " | ".join(table_cells(scorecard_pdf))
    for indicator in scorecard_ctx.indicators:
        assert indicator.name in cells
        for code in [r.code for r in indicator.components] or [indicator.code]:
            assert code in cells
    idle = [d.annex for d in scorecard_ctx.duties if not d.denominator]  # listed in one sentence
    assert all(d.description in cells for d in scorecard_ctx.duties if d.denominator)
    assert not idle or f"Không phát sinh trong tháng: mục {', '.join(idle)}." in text
    for failures in scorecard_ctx.annex:
        for item in failures.items:
            assert item.item_id in text
    assert "GHI CHÚ VỀ CHẤT LƯỢNG DỮ LIỆU" in text
    assert "Số bản ghi bị loại khỏi việc tính toán do không hợp lệ: 3" in text


def test_scorecard_has_no_missing_glyph(scorecard_pdf, scorecard_ctx):
    """WeasyPrint drops glyphs a font lacks, or takes them from a fallback font: both fail here."""
    liberation = {"Liberation-Serif", "Liberation-Serif-Bold", "Liberation-Serif-Italic",
                  "Liberation-Serif-Bold-Italic"}
    assert embedded_font_names(scorecard_pdf) <= liberation
    source = visible_chars(render_html("scorecard.html.j2", scorecard_view(scorecard_ctx)))
    extracted = set("".join(pdf_pages_text(scorecard_pdf)))
    assert source - extracted == set()
    assert {"ế", "ộ", "ư", "ơ", "ạ", "ự", "đ", "Ế", "Ộ"} <= extracted


def test_scorecard_of_an_unscored_unit_says_so(tmp_path):
    unit = next(u for u in post_reform_units() if u.code == NOT_SCORED_UNIT)
    ctx = sample_scorecard(unit)
    assert ctx.total is None and ctx.rank is None
    text = one_line(" ".join(pdf_pages_text(render_scorecard(ctx, tmp_path / "x.pdf"))))
    assert "chưa được chấm điểm" in text
    assert "UBND xã A Lưới 1" in text


def test_scorecard_explains_why_the_score_moved(scorecard_pdf, scorecard_ctx):
    section = scorecard_ctx.score_change
    view = change_view(section)
    change = view["total_change"]
    # the rounding is shared: groups add up to the change shown, each group's indicators to the group
    assert change == pytest.approx(section.current_total - section.previous_total, abs=0.005)
    assert sum(share for _, share in view["groups"]) == pytest.approx(change, abs=1e-9)
    shown = sum(share for _, share in view["indicators"]) + view["others_share"]
    assert shown == pytest.approx(change, abs=1e-9)
    assert len(view["indicators"]) == 8 and view["others"] == len(section.indicators) - 8
    shares = [abs(share) for _, share in view["indicators"]]
    assert shares == sorted(shares, reverse=True)  # the biggest effect first
    text = one_line(" ".join(pdf_pages_text(scorecard_pdf)))
    assert "IV. VÌ SAO ĐIỂM THAY ĐỔI" in text and "V. THỰC HIỆN NHIỆM VỤ" in text
    assert f"tổng điểm giảm {fmt.format_number(-change)} điểm" in text  # the sample unit went down
    assert f"Tổng điểm (thang 100) {fmt.format_number(section.previous_total)} " \
           f"{fmt.format_number(section.current_total)} {fmt.format_signed(change)}" in text
    assert all(line.name in " | ".join(table_cells(scorecard_pdf)) for line, _ in view["indicators"])
    top, top_share = view["indicators"][0]
    assert f"{fmt.format_number(top.current)} {fmt.format_signed(top_share)}" in text
    assert section.costly_items and all(i.item_id in text for i in section.costly_items)
    assert fmt.format_number(section.costly_items[0].points_lost, 3) in text


def test_without_a_previous_month_the_section_says_so(scorecard_ctx, tmp_path):
    section = replace(scorecard_ctx.score_change, previous_total=None)
    text = one_line(" ".join(pdf_pages_text(render_scorecard(replace(scorecard_ctx, score_change=section),
                                                             tmp_path / "x.pdf"))))
    assert "VÌ SAO ĐIỂM THAY ĐỔI" in text
    assert "Tháng 11 năm 2025 đơn vị chưa được chấm điểm (không có số liệu để so sánh), nên không có so sánh " \
           "với tháng trước." in text
    assert "Ảnh hưởng đến tổng điểm" not in text  # no decomposition to show
    assert section.costly_items[0].item_id in text  # this month's costliest items still are


def test_an_unscored_unit_has_no_comparison_and_no_section_number_gap(tmp_path):
    unit = next(u for u in post_reform_units() if u.code == NOT_SCORED_UNIT)
    ctx = sample_scorecard(unit)
    assert ctx.score_change.current_total is None and not ctx.score_change.costly_items
    text = one_line(" ".join(pdf_pages_text(render_scorecard(ctx, tmp_path / "x.pdf"))))
    assert "Tháng này đơn vị chưa được chấm điểm, nên không có so sánh với tháng trước." in text
    html = render_html("scorecard.html.j2", scorecard_view(replace(ctx, score_change=None)))
    assert "VÌ SAO" not in html and "IV. THỰC HIỆN NHIỆM VỤ" in html


@pytest.mark.parametrize("card", ["department", "commune", "nodata"])
def test_golden_image_of_scorecard_page_1(card, scorecard_pdf, busy_pdf, no_data_pdf, tmp_path):
    """Page 1 of a department (Sở Tư pháp), of a commune with many failed items, of a unit with no dossier."""
    pdf = {"department": scorecard_pdf, "commune": busy_pdf, "nodata": no_data_pdf}[card]
    golden = GOLDEN_DIR / f"scorecard-{card}-page1.png"
    actual = render_page_png(pdf, tmp_path / "actual.png", page=0, dpi=GOLDEN_DPI)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_bytes(actual.read_bytes())
    assert golden.exists(), "no golden image: run with UPDATE_GOLDEN=1 once and review it"
    expected_img, actual_img = Image.open(golden).convert("L"), Image.open(actual).convert("L")
    same_size = expected_img.size == actual_img.size
    changed = 1.0
    if same_size:
        diff = ImageChops.difference(expected_img, actual_img)
        changed = sum(diff.point(lambda v: 255 if v > GOLDEN_PIXEL_TOLERANCE else 0).histogram()[255:]) / (
            diff.width * diff.height)
    if not same_size or changed > GOLDEN_MAX_CHANGED:
        kept = GOLDEN_DIR / f"scorecard-{card}-page1.actual.png"
        kept.write_bytes(actual.read_bytes())
        pytest.fail(f"{card}: page 1 differs from the golden image ({changed:.4%} of pixels); see {kept}")


def page_images(document, dpi: int = 60) -> list[bytes]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(document.write_pdf())
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L").tobytes() for page in pdf]
    finally:
        pdf.close()


@pytest.mark.parametrize("card", ["department", "commune", "nodata", "ranking"])
def test_our_user_agent_sheet_lays_out_every_page_as_weasyprints_own(card, scorecard_ctx, busy_ctx, ranking_ctx):
    """include/templates/user_agent.css is WeasyPrint's HTML5 sheet cut to our elements: every page of
    every kind of document, and the PDF's outline, must come out as with the whole sheet."""
    from unittest import mock

    html = render_html("ranking.html.j2", ranking_view(ranking_ctx)) if card == "ranking" else render_html(
        "scorecard.html.j2", scorecard_view({"department": scorecard_ctx, "commune": busy_ctx,
                                             "nodata": sample_scorecard(unit(NOT_SCORED_UNIT))}[card]))
    theirs = HTML(string=html, base_url=str(TEMPLATE_DIR) + os.sep).render()
    with mock.patch.object(OfficeDocument, "_ua_stylesheets", autospec=True,
                           side_effect=OfficeDocument._ua_stylesheets) as hook:
        ours = OfficeDocument(html).render()
    assert hook.called, "WeasyPrint no longer asks HTML._ua_stylesheets: the cut-down sheet is not used"
    assert len(ours.pages) == len(theirs.pages) > 1
    assert ours.make_bookmark_tree() == theirs.make_bookmark_tree()
    changed = [n + 1 for n, (a, b) in enumerate(zip(page_images(ours), page_images(theirs), strict=True)) if a != b]
    assert not changed, f"{card}: pages {changed} differ from WeasyPrint's own user-agent sheet"


def test_the_collector_leaves_the_process_objects_alone_while_a_document_is_laid_out(scorecard_ctx, tmp_path):
    """tthc.memory.frozen_heap: every collection while WeasyPrint lays out and draws a scorecard finds the
    objects that were there before it frozen (gc.freeze), and they are handed back to the collector afterwards."""
    import gc
    import sys

    frozen_before = gc.get_freeze_count()
    seen: list[int] = []

    def in_weasyprint() -> bool:
        frame = sys._getframe(2)
        while frame is not None and not frame.f_globals.get("__name__", "").startswith("weasyprint"):
            frame = frame.f_back
        return frame is not None

    def on_collection(phase, info):
        if phase == "start" and in_weasyprint():
            seen.append(gc.get_freeze_count())

    gc.callbacks.append(on_collection)
    try:
        render_scorecard(scorecard_ctx, tmp_path / "card.pdf")
    finally:
        gc.callbacks.remove(on_collection)
    assert seen, "a scorecard's layout made no collection: nothing shows the freeze is in its way"
    assert min(seen) > frozen_before, "a collection during the layout walked the process's older objects"
    assert gc.get_freeze_count() == frozen_before, "the older objects were not handed back to the collector"
    assert pypdf.PdfReader(tmp_path / "card.pdf").pages


# --- ranking PDF and XLSX ---------------------------------------------------------------
def ranking_table_rows(path: Path) -> list[list[str]]:
    """Rows of the ranked tables, in reading order, cells with wrapped lines joined."""
    rows = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            for table in page.extract_tables():
                for row in table:
                    cells = [fmt.nfc(one_line(c or "")).strip() for c in row]
                    if cells[0] not in ("Hạng", "Tổng điểm") and len(cells) == 11:
                        rows.append(cells)
    return rows


def test_ranking_lists_every_unit_in_rank_order(ranking_pdf, ranking_ctx):
    rows = ranking_table_rows(ranking_pdf)
    expected = [(str(r.rank) if r.rank else "–", r.unit_name, fmt.format_number(r.total))
                for section in ranking_ctx.tiers for r in section.rows]
    assert [(c[0], c[1], c[2]) for c in rows] == expected
    assert len(rows) == 55


def test_ranking_text_headers_summary_and_pages(ranking_pdf, ranking_ctx):
    pages = pdf_pages_text(ranking_pdf)
    text = one_line(" ".join(pages))
    assert pypdf.PdfReader(ranking_pdf).trailer["/Root"]["/Lang"] == "vi"
    assert "BẢNG XẾP HẠNG CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP" in pages[0]
    assert text.index("KẾT QUẢ CHUNG CỦA THÀNH PHỐ HUẾ") < text.index("II. SỞ, BAN, NGÀNH") < text.index(
        "III. UBND CẤP XÃ")
    assert "Trung bình" in text and "Thành phố Huế" in text
    assert "Huế, ngày 05 tháng 01 năm 2026" in pages[0]
    assert "Trang 2/" in pages[1] and "Trang" not in pages[0]
    assert fmt.format_number(ranking_ctx.province_summary.total) in pages[0]


def test_ranking_xlsx_reads_back_and_is_deterministic(ranking_ctx, tmp_path):
    first = render_ranking_xlsx(ranking_ctx, tmp_path / "a.xlsx")
    second = render_ranking_xlsx(ranking_ctx, tmp_path / "b.xlsx")
    assert first.read_bytes() == second.read_bytes()
    wb = openpyxl.load_workbook(first)
    assert wb.sheetnames == ["Tổng hợp", "Sở, ban, ngành", "UBND cấp xã"]
    communes = list(wb["UBND cấp xã"].iter_rows(values_only=True))
    assert communes[0][:5] == ("Hạng", "Mã đơn vị", "Tên đơn vị", "Tổng điểm", "Xếp loại")
    section = ranking_ctx.tiers[1]
    assert [r[2] for r in communes[1:]] == [r.unit_name for r in section.rows]
    assert communes[1][0] == 1 and communes[1][3] == section.rows[0].total
    assert wb.properties.created == dt.datetime(2026, 1, 5)
    assert all(wb[t.title].freeze_panes == "D2" for t in ranking_ctx.tiers)
    # no text is cut by the cell beside it: it fits its column (about a character per unit of
    # width) or wraps
    cut = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell, beside in zip(row, [*row[1:], None], strict=True):
                width = ws.column_dimensions[cell.column_letter].width or 8.43
                if isinstance(cell.value, str) and len(cell.value) > width and beside is not None \
                        and beside.value is not None and not cell.alignment.wrap_text:
                    cut.append(f"{ws.title}!{cell.coordinate}")
    assert cut == []


# --- safety --------------------------------------------------------------------------------
def test_fetcher_refuses_network_and_files_outside_templates(tmp_path):
    base = str(TEMPLATE_DIR) + os.sep
    for href in ("http://127.0.0.1:9/x.css", "file:///etc/passwd"):
        html = f'<html><head><link rel="stylesheet" href="{href}"></head><body>x</body></html>'
        with pytest.raises(FatalURLFetchingError):
            HTML(string=html, base_url=base, url_fetcher=TemplateOnlyFetcher()).write_pdf(tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_data_is_escaped_not_interpreted(scorecard_ctx):
    from dataclasses import replace

    ctx = replace(scorecard_ctx, unit=replace(scorecard_ctx.unit, name='Sở A & B <img src="http://x">'))
    html = render_html("scorecard.html.j2", scorecard_view(ctx))
    assert "Sở A &amp; B &lt;img" in html and "<img" not in html


def test_an_id_stays_on_one_line_with_or_without_a_box_of_its_own(tmp_path):
    from tthc.reports.templating import whole

    plain = ["000.00.17.H57-250301-0012", "PAKN-2025-7709", "TT-123456", "1.001234", "H57.21-9"]
    boxed = ["12/QĐ-UBND/1.001234", "45/1.002345", "QĐ-UBND", "A-B", "x<y"]
    assert [str(whole(i)) for i in plain] == plain  # no break opportunity inside: plain text
    assert [str(whole(i)) for i in boxed[:4]] == [f'<span class="id">{i}</span>' for i in boxed[:4]]
    assert str(whole("x<y")) == '<span class="id">x&lt;y</span>'  # still escaped
    # a column wider than the longest id, narrower than two: each id whole on one line of the PDF
    ids = plain + boxed[:4]
    cells = "".join(f"<tr><td>{'; '.join(str(whole(i)) for i in ids)}</td></tr>" for _ in range(2))
    html = ('<html><head><link rel="stylesheet" href="report.css"></head><body>'
            f'<table class="data" style="width:5cm">{cells}</table></body></html>')
    HTML(string=html, base_url=str(TEMPLATE_DIR) + os.sep).write_pdf(tmp_path / "ids.pdf")
    with pdfplumber.open(tmp_path / "ids.pdf") as pdf:
        lines = [fmt.nfc(line) for page in pdf.pages for line in page.extract_text().splitlines()]
    assert all(any(i in line for line in lines) for i in ids), lines
    assert len(lines) >= len(ids)  # the column did wrap between ids
