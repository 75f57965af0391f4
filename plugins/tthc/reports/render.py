"""Render the monthly documents: scorecard PDFs, the ranking PDF and XLSX, page previews.

Only our own templates are rendered (include/templates), with a URL fetcher that reads
files under that folder and refuses everything else, so a value in the data can never make
the renderer reach the network or the disk. All text is NFC-normalised before layout.
Each render is independent and single-threaded: callers parallelise with processes.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import threading
import zipfile
from collections import defaultdict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

import openpyxl
import pypdfium2
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter
from weasyprint import CSS, HTML, Document
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from tthc.insights.score_change import apportioned
from tthc.memory import frozen_heap
from tthc.paths import TEMPLATE_DIR
from tthc.reports import formatting as fmt
from tthc.reports.model import TIER_TITLES, FailureList, RankingContext, ScorecardContext, ScoreChangeSection
from tthc.reports.svg import trend_svg
from tthc.reports.templating import html_environment

# WeasyPrint reports every layout step of every page at INFO: twenty lines a scorecard in
# the task logs, where the engineers look for what went wrong.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
ROMAN = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII")
SHOWN_DECIMALS = 2  # points on the documents
TREND_HEIGHT = 150  # px: the chart shares page 1 with the figures, the groups and the priorities
SHOWN_INDICATORS = 8  # "Vì sao điểm thay đổi": the indicators that moved the total most, then the rest in one line


class TemplateOnlyFetcher(URLFetcher):
    """Serves files under the template folder; anything else (http, data:, other paths) stops
    the render instead of being skipped silently."""

    def __init__(self, root: Path = TEMPLATE_DIR) -> None:
        super().__init__(allowed_protocols={"file"}, fail_on_errors=True)
        self._root = root.resolve()

    def fetch(self, url, headers=None):
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise ValueError(f"refused to fetch {url!r}: documents use local templates only")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self._root):
            raise ValueError(f"refused to fetch {url!r}: outside {self._root}")
        return super().fetch(url, headers)


def _number_line(document_number: str, symbol: str) -> str:
    # A blank number is left for the clerk who registers the document (văn thư) to write in.
    return document_number or f"\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0/{symbol}"


def change_view(section: ScoreChangeSection | None) -> dict | None:
    """"Vì sao điểm thay đổi" as shown: contributions at 2 decimals that add up to the change shown,
    the groups' to the total's and each group's indicators' to the group's (tthc.insights.score_change.apportioned);
    the indicators that moved the total most, then one line for the others (score_changes.csv has all)."""
    if section is None:
        return None
    view = {"section": section, "groups": [], "indicators": [], "others": 0, "others_share": 0.0,
            "total_change": None}
    if not section.compared:
        return view
    groups = apportioned([Fraction(g.contribution) for g in section.groups], SHOWN_DECIMALS)
    shares: dict[str, Fraction] = {}
    for group, group_share in zip(section.groups, groups, strict=True):
        # within a group, the indicators share the group's rounded part: both tables agree
        mine = [i for i in section.indicators if i.group == group.group]
        parts = apportioned([Fraction(i.contribution) for i in mine], SHOWN_DECIMALS, group_share)
        shares |= {i.code: part for i, part in zip(mine, parts, strict=True)}
    applying = [i for i in section.indicators if i.previous is not None or i.current is not None]
    ranked = sorted((i for i in applying if shares[i.code] != 0), key=lambda i: -abs(shares[i.code]))
    shown = ranked[:SHOWN_INDICATORS]
    others = [i for i in applying if i not in shown]
    view.update(groups=[(g, float(x)) for g, x in zip(section.groups, groups, strict=True)],
                indicators=[(i, float(shares[i.code])) for i in shown], others=len(others),
                others_share=float(sum((shares[i.code] for i in others), Fraction(0))),
                total_change=float(sum(groups, Fraction(0))))
    return view


def annex_view(ctx: ScorecardContext) -> list[dict]:
    """The annex's blocks, one per group of the index (the letter's annex items follow the same six
    groups): the group's indicators, then its other duties; each failure list with its items
    gathered under their reasons (reasons in the order of their costliest item)."""
    def entry(failures: FailureList) -> dict:
        by_reason: dict[str, list[str]] = {}
        for item in failures.items:
            by_reason.setdefault(item.reason, []).append(item.item_id)
        return {"list": failures, "reasons": list(by_reason.items())}

    def group_of(failures: FailureList) -> int:
        return failures.group if failures.group is not None else int(failures.duty_label.split(".")[0])

    blocks = []
    for g in ctx.groups:
        mine = [f for f in ctx.annex if group_of(f) == g.number]
        mine.sort(key=lambda f: f.group is None)  # the index's indicators first, in catalogue order
        if mine:
            blocks.append({"title": f"Nhóm {g.number}. {g.name}", "entries": [entry(f) for f in mine]})
    return blocks


def scorecard_view(ctx: ScorecardContext) -> dict:
    """What the scorecard template reads, with the derived values computed once, here."""
    by_group: dict[int, list] = defaultdict(list)
    for indicator in ctx.indicators:
        by_group[indicator.group].append(indicator)
    change = None
    if ctx.total is not None and ctx.previous_total is not None:
        change = ctx.total - ctx.previous_total
    tier_title = TIER_TITLES.get(ctx.unit.tier, ctx.unit.tier)
    return {
        "ctx": ctx,
        "province": ctx.province,
        "unit": ctx.unit,
        "period": ctx.period,
        "issued_on": ctx.issued_on,
        "tier_title": tier_title,
        "doc_title": f"Phiếu đánh giá Chỉ số phục vụ người dân, doanh nghiệp "
        f"{fmt.format_month(ctx.period)} – {ctx.unit.name}",
        "heading": "Phiếu đánh giá Chỉ số phục vụ người dân, doanh nghiệp",
        "subject": f"{fmt.format_month(ctx.period).capitalize()} – {ctx.unit.name}",
        "number_line": _number_line(ctx.document_number, ctx.province.document_symbol),
        "recipients": ctx.recipients or (ctx.unit.name, "Lưu: VT, KSTT"),
        "change": change,
        "indicators_by_group": by_group,
        "has_estimate": any(i.is_estimate for i in ctx.indicators),
        "chart": trend_svg(ctx.trend, height=TREND_HEIGHT, thresholds=ctx.band_thresholds),
        "scored_months": sum(1 for p in ctx.trend if p.total is not None),
        "why": change_view(ctx.score_change),
        "annex_blocks": annex_view(ctx),
        "roman": ROMAN,
    }


def ranking_view(ctx: RankingContext) -> dict:
    return {
        "ctx": ctx,
        "province": ctx.province,
        "summary": ctx.province_summary,
        "issued_on": ctx.issued_on,
        "roman": ROMAN,
        "doc_title": f"Bảng xếp hạng Chỉ số phục vụ người dân, doanh nghiệp {fmt.format_month(ctx.period)}",
        "heading": "Bảng xếp hạng Chỉ số phục vụ người dân, doanh nghiệp",
        "subject": f"{fmt.format_month(ctx.period).capitalize()}",
        "number_line": _number_line(ctx.document_number, ctx.province.document_symbol),
        "recipients": ("Các cơ quan, đơn vị, địa phương", "Lưu: VT, KSTT"),
    }


def render_html(template: str, view: dict) -> str:
    """The document's HTML, NFC-normalised (data and templates may mix Unicode forms)."""
    return fmt.nfc(html_environment().get_template(template).render(**view))


def _write_atomically(out_path: Path, write: Callable[[Path], None]) -> Path:
    """Write through a temporary sibling so that a crash never leaves half a file."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


_fonts = threading.local()


def font_config() -> FontConfiguration:
    """One FontConfiguration per process and thread, reused by every document it renders: the
    fonts it has loaded and shaped stay loaded (a fresh one per scorecard cost 15 % of its CPU).
    Pango's font map is neither shared across threads nor carried over a fork."""
    if getattr(_fonts, "pid", None) != os.getpid():
        _fonts.pid, _fonts.config = os.getpid(), FontConfiguration()
    return _fonts.config


class OfficeDocument(HTML):
    """One of our documents, laid out with the user-agent stylesheet of the elements our templates
    use (include/templates/user_agent.css) instead of WeasyPrint's whole HTML5 one: matching every
    element against every form, bidi and attribute rule of the latter was 16 % of a scorecard's
    CPU. WeasyPrint has no public setting for it; `_ua_stylesheets` is where its HTML class
    supplies the sheet (weasyprint==70.0, pinned). Should an upgrade drop that hook, documents
    come out the same and only slower; tests/test_render.py checks the hook is used and that
    every page is the same as with WeasyPrint's own sheet."""

    _user_agent_sheet: CSS | None = None

    def __init__(self, html: str, **kwargs) -> None:
        super().__init__(string=html, base_url=str(TEMPLATE_DIR) + os.sep, url_fetcher=TemplateOnlyFetcher(),
                         **kwargs)

    def _ua_stylesheets(self, forms=False):
        if OfficeDocument._user_agent_sheet is None:
            OfficeDocument._user_agent_sheet = CSS(filename=str(TEMPLATE_DIR / "user_agent.css"))
        return [OfficeDocument._user_agent_sheet]


def office_pdf(html: str, target: Path | None = None) -> Document:
    """Lay out one of our documents and write its PDF to `target` (None: only lay it out and draw
    it), as every document is: our user-agent sheet, the process's FontConfiguration, and the
    process's older objects frozen out of the collector's passes (tthc.memory: WeasyPrint's
    boxes make cycles by the ten thousand; a fifth of a scorecard's CPU went on those passes)."""
    with frozen_heap():
        document = OfficeDocument(html).render(font_config=font_config())
        document.write_pdf(target)
    return document


def _write_pdf(html: str, out_path: Path) -> Path:
    return _write_atomically(out_path, lambda tmp: office_pdf(html, tmp))


def render_scorecard(ctx: ScorecardContext, out_path: Path) -> Path:
    """scorecards/<unit_code>.pdf: one unit's scorecard (A4): the summary on page 1, the details,
    the signature, then the annex of failed items."""
    return _write_pdf(render_html("scorecard.html.j2", scorecard_view(ctx)), out_path)


def render_ranking_pdf(ctx: RankingContext, out_path: Path) -> Path:
    """ranking.pdf: the province summary, then one ranked section per tier."""
    return _write_pdf(render_html("ranking.html.j2", ranking_view(ctx)), out_path)


# --- ranking.xlsx ----------------------------------------------------------------------
RANKING_COLUMNS = ("Hạng", "Mã đơn vị", "Tên đơn vị", "Tổng điểm", "Xếp loại",
                   "Nhóm 1", "Nhóm 2", "Nhóm 3", "Nhóm 4", "Nhóm 5", "Nhóm 6", "Thay đổi hạng")
COLUMN_WIDTHS = (7, 16, 44, 11, 12, 9, 9, 9, 9, 9, 9, 13)
POINTS_FORMAT = "0.00"  # Excel shows the reader's own decimal mark (a comma in Vietnamese)


def _sheet_title(title: str) -> str:
    return "".join("-" if c in "[]:*?/\\" else c for c in title)[:31]


def _summary_sheet(ws, ctx: RankingContext) -> None:
    s = ctx.province_summary
    ws.append([f"Bảng xếp hạng Chỉ số phục vụ người dân, doanh nghiệp {fmt.format_month(ctx.period)}"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([f"{ctx.province.name} ({ctx.province.code}), {fmt.format_date_line(ctx.issued_on)}"])
    ws.append([])
    ws.append(["Tổng điểm", "Xếp loại", *(f"Nhóm {n}: {name}" for n, name, _ in ctx.group_titles)])
    ws.append([s.total, s.band, *s.groups])
    ws.append([])
    ws.append(["Xếp loại", "Số đơn vị"])
    for band, count in s.units_by_band:
        ws.append([band, count])
    ws.append(["Chưa chấm điểm", s.units_not_scored])
    for row in (4, 7):
        for cell in ws[row]:
            cell.font = Font(bold=True)
            # the groups' titles are longer than their columns: wrapped, not cut by the next cell
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[5]:
        if isinstance(cell.value, float):
            cell.number_format = POINTS_FORMAT
    ws.column_dimensions["A"].width = 16
    for col in range(2, 9):
        ws.column_dimensions[get_column_letter(col)].width = 14


def _tier_sheet(ws, section) -> None:
    ws.append(list(RANKING_COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in section.rows:
        ws.append([row.rank, row.unit_code, row.unit_name, row.total, row.band, *row.groups, row.rank_change])
    for row_cells in ws.iter_rows(min_row=2, min_col=4, max_col=11):
        for cell in row_cells:
            if isinstance(cell.value, float):
                cell.number_format = POINTS_FORMAT
    for (cell,) in ws.iter_rows(min_row=2, min_col=3, max_col=3):
        cell.alignment = Alignment(wrap_text=True)  # a name longer than its column wraps
    for col, width in enumerate(COLUMN_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "D2"


def _zip_fixed_times(data: bytes, stamp: dt.datetime) -> bytes:
    """Rewrite the archive with one fixed timestamp per entry, so equal content = equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def render_ranking_xlsx(ctx: RankingContext, out_path: Path) -> Path:
    """ranking.xlsx: a summary sheet, then one sheet per tier; deterministic bytes."""
    wb = openpyxl.Workbook()
    _summary_sheet(wb.active, ctx)
    wb.active.title = "Tổng hợp"
    for section in ctx.tiers:
        _tier_sheet(wb.create_sheet(_sheet_title(fmt.nfc(section.title))), section)
    stamp = dt.datetime.combine(ctx.issued_on, dt.time())
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.title = fmt.nfc(f"Bảng xếp hạng {fmt.format_month(ctx.period)}")
    wb.properties.language = "vi"
    wb.properties.creator = "tthc-scorecards"
    buffer = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook stamps "modified" with the current time.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    data = _zip_fixed_times(buffer.getvalue(), stamp)
    return _write_atomically(out_path, lambda tmp: tmp.write_bytes(data))


def render_page_png(pdf_path: Path, png_path: Path, page: int = 0, dpi: float = 96) -> Path:
    """Rasterise one page of a PDF (docs previews, golden-image tests)."""
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        image = pdf[page].render(scale=dpi / 72).to_pil()
    finally:
        pdf.close()
    return _write_atomically(png_path, lambda tmp: image.save(tmp, format="PNG"))
