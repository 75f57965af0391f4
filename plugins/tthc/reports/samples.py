"""A deterministic sample month for the documents: tests, docs previews and the benchmark.

The figures are made up (seeded by unit code) and scored linearly for illustration only;
the real numbers come from the warehouse. Unit names are Huế's (after 2025-07-01: the
city's departments and its 40 communes), so the layout is tried on real-length names.

    python -m tthc.reports.samples --docs docs/     # regenerate docs/*-page1.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import zlib
from pathlib import Path

from tthc.reports.model import (
    INDEX_GROUPS,
    TIER_TITLES,
    ChangeLine,
    CostlyItem,
    DutyLine,
    FailingItem,
    GroupScore,
    IndicatorLine,
    ProvinceInfo,
    ProvinceSummary,
    RankingContext,
    RankingRow,
    ScorecardContext,
    ScoreChangeSection,
    TierSection,
    TrendPoint,
    UnitInfo,
)

PERIOD = "2025-12"
ISSUED_ON = dt.date(2026, 1, 5)
BANDS = (("Tốt", 80.0), ("Khá", 70.0), ("Trung bình", 50.0), ("Yếu", 0.0))

PROVINCE = ProvinceInfo(
    code="H57",
    name="Thành phố Huế",
    place="Huế",
    issuer=("ỦY BAN NHÂN DÂN", "THÀNH PHỐ HUẾ"),
    document_symbol="UBND-KSTT",
    signer_title=("TL. CHỦ TỊCH", "CHÁNH VĂN PHÒNG"),
    signer_name="",
)

DEPARTMENTS = (
    "Sở Tư pháp", "Sở Tài chính", "Sở Nội vụ", "Sở Xây dựng", "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường", "Sở Khoa học và Công nghệ", "Sở Giáo dục và Đào tạo",
    "Sở Y tế", "Sở Văn hóa và Thể thao", "Sở Du lịch", "Sở Ngoại vụ", "Sở Dân tộc và Tôn giáo",
    "Ban Quản lý Khu kinh tế, công nghiệp", "Văn phòng UBND thành phố",
)
WARDS = (
    "Phú Xuân", "Kim Long", "Vỹ Dạ", "Thuận Hóa", "An Cựu", "Thủy Xuân", "Thuận An", "Hóa Châu",
    "Mỹ Thượng", "Dương Nỗ", "Phong Điền", "Phong Thái", "Phong Dinh", "Phong Phú", "Phong Quảng",
    "Hương Trà", "Kim Trà", "Hương An", "Hương Thủy", "Thanh Thủy", "Phú Bài",
)
COMMUNES = (
    "Đan Điền", "Quảng Điền", "Phú Vinh", "Phú Hồ", "Phú Vang", "Vinh Lộc", "Hưng Lộc", "Lộc An",
    "Phú Lộc", "Chân Mây - Lăng Cô", "Long Quảng", "Nam Đông", "Khe Tre", "Bình Điền",
    "A Lưới 1", "A Lưới 2", "A Lưới 3", "A Lưới 4", "A Lưới 5",
)
# Before 2025-07-01 (for the benchmark): the nine districts and about 80 communes.
DISTRICTS = (
    "UBND thành phố Huế", "UBND thị xã Hương Thủy", "UBND thị xã Hương Trà", "UBND huyện Phong Điền",
    "UBND huyện Quảng Điền", "UBND huyện Phú Vang", "UBND huyện Phú Lộc", "UBND huyện Nam Đông",
    "UBND huyện A Lưới",
)

# code, name, group, duty label, max points, estimate (indicators.md §1)
INDICATORS = (
    ("PUBLISH_ON_TIME", "Công bố danh mục TTHC đúng hạn", 1, None, 6.0, False),
    ("PUBLIC_UPDATE_ON_TIME", "Công khai TTHC trên CSDL quốc gia đúng hạn", 1, "1.3", 4.0, False),
    ("PUBLIC_CONTENT_FULL", "Công khai đầy đủ nội dung TTHC", 1, None, 2.0, False),
    ("DOSSIER_SYNC", "Đồng bộ trạng thái hồ sơ lên Cổng DVCQG", 1, None, 6.0, False),
    ("ON_TIME", "Hồ sơ giải quyết đúng hạn", 2, "2.1", 20.0, False),
    ("ONLINE_FULL_PROCESS", "Hồ sơ trực tuyến toàn trình", 3, None, 12.0, True),
    ("ONLINE_PAYMENT_DOSSIERS", "Hồ sơ có thanh toán trực tuyến", 4, None, 6.0, False),
    ("ONLINE_PAYMENT_PROCEDURES", "Thủ tục có phát sinh thanh toán trực tuyến", 4, "4.1", 2.0, False),
    ("FEE_DATA_DECLARED", "Thủ tục đã khai báo phí, lệ phí", 4, None, 2.0, False),
    ("ORIGINAL_RESULT_AVAILABLE", "Kết quả giải quyết bản điện tử", 5, None, 6.0, False),
    ("SO_HOA_GIAY_TO_GIAI_QUYET", "Số hóa hồ sơ và kết quả giải quyết", 5, None, 4.0, False),
    ("ELECTRONIC_CERTIFIED_COPY", "Chứng thực bản sao điện tử", 5, None, 2.0, False),
    ("REUSED_DIGITIZED_DATA", "Tái sử dụng dữ liệu đã số hóa", 5, "5.2", 2.0, False),
    ("SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "Đồng bộ kho quản lý dữ liệu cá nhân", 5, None, 4.0, False),
    ("CITIZEN_DATA_CONNECTED_DOSSIER", "Hồ sơ khai thác dữ liệu dân cư", 5, None, 2.0, False),
    ("CITIZEN_DATA_CONNECTED_FORMALITY", "Thủ tục khai thác dữ liệu dân cư", 5, None, 2.0, False),
    ("PETITION_PROCESSING_ON_TIME", "Xử lý phản ánh, kiến nghị đúng hạn", 6, "6.1", 6.0, False),
    ("PETITION_HANDLING_SATISFACTION", "Mức độ hài lòng về xử lý phản ánh, kiến nghị", 6, "6.2", 6.0, False),
    ("DOSSIER_RECEIVING_SATISFACTION", "Mức độ hài lòng trong tiếp nhận, giải quyết hồ sơ", 6, None, 6.0,
     False),
)

# code, annex, description, item type of its failures, departments only
DUTIES = (
    ("D1_2_ANNOUNCEMENT_SUBMITTED_5D", "1.2", "Trình công bố danh mục TTHC trong 05 ngày", "announcement",
     True),
    ("D1_4_SPECIALIZED_SYNC", "1.4", "Đồng bộ hồ sơ từ phần mềm chuyên ngành", "dossier", False),
    ("D1_5_PROVINCIAL_SYNC", "1.5", "Đồng bộ hồ sơ từ Hệ thống thông tin giải quyết TTHC", "dossier", False),
    ("D2_2_ONLINE_RECEIPT_8WH", "2.2", "Tiếp nhận hồ sơ trực tuyến trong 8 giờ làm việc", "dossier", False),
    ("D2_3_SINGLE_SUPPLEMENT", "2.3", "Yêu cầu bổ sung hồ sơ chỉ 01 lần, trong hạn", "dossier", False),
    ("D2_4_DURATION_CONFIG_MATCH", "2.4", "Thời hạn trên quy trình điện tử khớp thời hạn công bố",
     "procedure", False),
    ("D2_6_OVERDUE_RECONCILED", "2.6", "Đối chiếu hồ sơ quá hạn với Cổng DVCQG", "dossier", False),
    ("D3_1_FULLY_ONLINE", "3.1", "Giải quyết hoàn toàn trực tuyến hồ sơ nộp trực tuyến", "dossier", False),
    ("D3_2_ONLINE_UPTAKE", "3.2", "TTHC có DVC trực tuyến phát sinh hồ sơ trực tuyến", "procedure", False),
    ("D3_3_ONLINE_SERVICE_OFFERED", "3.3", "TTHC phát sinh hồ sơ được cung cấp DVC trực tuyến",
     "procedure", False),
    ("D4_2_ONLINE_PAYMENT_SHARE", "4.2", "Giao dịch thanh toán phí, lệ phí trực tuyến", "payment", False),
    ("D4_3_PROVINCIAL_GATEWAY", "4.3", "Thanh toán qua chức năng của Cổng DVC thành phố", "payment", False),
    ("D5_1_INPUTS_DIGITIZED", "5.1", "Số hóa thành phần hồ sơ đầu vào", "dossier", False),
    ("D5_1_RESULT_DIGITIZED", "5.1", "Số hóa kết quả giải quyết", "dossier", False),
    ("D5_4_EFORM_COVERAGE", "5.4", "Biểu mẫu điện tử cho TTHC có DVC trực tuyến", "procedure", True),
    ("D6_3_APOLOGY_BEFORE_DUE", "6.3", "Xin lỗi, hẹn lại trước hạn đối với hồ sơ quá hạn", "dossier", False),
)

PROCEDURE_CODES = ("1.001757", "1.000894", "2.000908", "1.004227", "2.001035", "1.012453", "1.003583")


def post_reform_units() -> list[UnitInfo]:
    """The 15 departments and 40 communes (21 wards, 19 communes) of Huế from 2025-07-01."""
    units = [UnitInfo(f"000.{i:02d}.00.H57", name, "department") for i, name in enumerate(DEPARTMENTS, 1)]
    units += [UnitInfo(f"000.{i:02d}.30.H57", f"UBND phường {n}", "commune") for i, n in enumerate(WARDS, 1)]
    units += [UnitInfo(f"000.{i:02d}.31.H57", f"UBND xã {n}", "commune") for i, n in enumerate(COMMUNES, 1)]
    return units


def pre_reform_units(communes: int = 80) -> list[UnitInfo]:
    """Departments, 9 districts and `communes` synthetic communes: the larger pre-reform month."""
    units = [u for u in post_reform_units() if u.tier == "department"]
    units += [UnitInfo(f"000.00.{i:02d}.H57", n, "district") for i, n in enumerate(DISTRICTS, 1)]
    units += [UnitInfo(f"{i:03d}.10.40.H57", f"UBND xã Mẫu số {i}", "commune")
              for i in range(1, communes + 1)]
    return units


def _rng(*keys: str) -> random.Random:
    return random.Random(zlib.crc32("|".join(keys).encode()))


def _band(total: float | None) -> str | None:
    if total is None:
        return None
    return next(name for name, minimum in BANDS if round(total, 9) >= minimum)


def _indicators(unit: UnitInfo, period: str) -> list[IndicatorLine]:
    rng = _rng(unit.code, period)
    # One level per unit, drifting a little from month to month, so that units differ visibly
    # and a unit's trend looks like one.
    quality = min(1.0, _rng(unit.code).uniform(0.55, 0.98) + rng.uniform(-0.05, 0.05))
    lines = []
    for code, name, group, duty, max_points, estimate in INDICATORS:
        if code == "ELECTRONIC_CERTIFIED_COPY":
            if unit.tier != "commune":
                continue
            denominator = 1
            numerator = int(rng.random() < quality)
        elif group == 1 and unit.tier != "department" and code != "DOSSIER_SYNC":
            denominator = numerator = 0  # announcements belong to departments
        else:
            denominator = rng.randint(3, 400) if unit.tier != "department" else rng.randint(20, 2500)
            numerator = min(denominator, round(denominator * min(1.0, rng.gauss(quality, 0.08))))
        value = numerator / denominator if denominator else None
        applies = denominator > 0 or group == 6
        points = max_points * (value if value is not None else 1.0) if applies else None
        lines.append(IndicatorLine(code, name, group, duty, numerator, denominator, value, points,
                                   max_points, estimate))
    return lines


def _groups(indicators: list[IndicatorLine]) -> list[GroupScore]:
    groups = []
    for number, name, max_points in INDEX_GROUPS:
        points = [i.points for i in indicators if i.group == number and i.points is not None]
        groups.append(GroupScore(number, name, round(sum(points), 6) if points else None, max_points))
    return groups


def _total(indicators: list[IndicatorLine]) -> float | None:
    applicable = [i for i in indicators if i.points is not None]
    earned, possible = sum(i.points for i in applicable), sum(i.max_points for i in applicable)
    return round(100 * earned / possible, 6) if possible else None


def _previous_period(period: str, months_back: int) -> str:
    year, month = int(period[:4]), int(period[5:])
    index = year * 12 + month - 1 - months_back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _scored_total(unit: UnitInfo, period: str) -> float | None:
    """A unit with no dossiers in the month is listed but not scored (indicators.md)."""
    if unit.code == NOT_SCORED_UNIT:
        return None
    return _total(_indicators(unit, period))


NOT_SCORED_UNIT = "000.15.31.H57"  # UBND xã A Lưới 1: a quiet month, to show the unscored row


def _shares(indicators: list[IndicatorLine]) -> dict[str, float]:
    """Each indicator's part of the total (100 × points / Σ max over the applicable ones)."""
    possible = sum(i.max_points for i in indicators if i.points is not None)
    return {i.code: 100 * (i.points or 0.0) / possible if possible else 0.0 for i in indicators}


def _score_change(unit: UnitInfo, period: str) -> ScoreChangeSection:
    """The month against the previous one, decomposed as tthc.insights.score_change does (linear sample scoring)."""
    previous = _previous_period(period, 1)
    before, after = _indicators(unit, previous), _indicators(unit, period)
    old = {i.code: i for i in before}
    prev_total, total = _scored_total(unit, previous), _scored_total(unit, period)
    compared = prev_total is not None and total is not None
    s0, s1 = _shares(before), _shares(after)
    lines = [ChangeLine(i.code, i.name, i.group, old[i.code].points if i.code in old else None, i.points,
                        s1[i.code] - s0.get(i.code, 0.0) if compared else None) for i in after]
    groups = []
    for g0, g1 in zip(_groups(before), _groups(after), strict=True):
        mine = [line.contribution for line in lines if line.group == g1.number]
        groups.append(ChangeLine(f"G{g1.number}", g1.name, g1.number, g0.points, g1.points,
                                 sum(mine) if compared else None))
    costly = []
    if total is not None:
        possible = sum(i.max_points for i in after if i.points is not None)
        rng = _rng(unit.code, period, "costly")
        for code, codes in (("ON_TIME", ("ON_TIME", "DOSSIER_RECEIVING_SATISFACTION")),
                            ("PETITION_PROCESSING_ON_TIME", ("PETITION_PROCESSING_ON_TIME",
                                                             "PETITION_HANDLING_SATISFACTION")),
                            ("ONLINE_PAYMENT_PROCEDURES", ("ONLINE_PAYMENT_PROCEDURES",))):
            line = next(i for i in after if i.code == code)
            if not line.denominator or line.numerator == line.denominator:
                continue
            lost = sum(100 * next(i for i in after if i.code == c).max_points
                       / max(1, next(i for i in after if i.code == c).denominator) / possible for c in codes)
            for _ in range(2 if code == "ON_TIME" else 1):
                if code == "ONLINE_PAYMENT_PROCEDURES":
                    item = ("procedure", rng.choice(PROCEDURE_CODES))
                elif code == "ON_TIME":
                    item = ("dossier", f"{unit.code}-251{rng.randint(201, 231)}-{rng.randint(1, 9999):04d}")
                else:
                    item = ("feedback", f"PAKN-2025-{rng.randint(1000, 9999)}")
                costly.append(CostlyItem(*item, codes, lost))
    costly.sort(key=lambda c: -c.points_lost)
    return ScoreChangeSection(previous, prev_total, total, tuple(groups), tuple(lines), tuple(costly))


def _failing_items(unit: UnitInfo, code: str, item_type: str, count: int) -> list[FailingItem]:
    rng = _rng(unit.code, code)
    items = []
    for n in range(min(count, 5)):
        if item_type == "procedure":
            items.append(FailingItem("procedure", rng.choice(PROCEDURE_CODES)))
        elif item_type == "payment":
            items.append(FailingItem("payment", f"TT-{rng.randint(100000, 999999)}"))
        elif item_type == "announcement":
            items.append(FailingItem("announcement", f"CB-2025-{rng.randint(10, 99)}", "quá 05 ngày"))
        else:
            dossier = f"{unit.code}-251{rng.randint(201, 231)}-{rng.randint(1, 9999):04d}"
            procedure = PROCEDURE_CODES[n % len(PROCEDURE_CODES)]
            items.append(FailingItem("dossier", dossier, f"thủ tục {procedure}"))
    return items


def _duties(unit: UnitInfo, period: str) -> list[DutyLine]:
    rng = _rng(unit.code, period, "duties")
    duties = []
    for code, annex, description, item_type, departments_only in DUTIES:
        if departments_only and unit.tier != "department":
            continue
        denominator = rng.randint(0, 120)
        numerator = denominator - min(denominator, rng.choice((0, 0, 1, 2, 3, 7, 12)))
        value = numerator / denominator if denominator else None
        failing = _failing_items(unit, code, item_type, denominator - numerator)
        duties.append(DutyLine(code, annex, description, numerator, denominator, value, tuple(failing)))
    return duties


def _ranked(units: list[UnitInfo], period: str) -> dict[str, int]:
    """Rank within tier by total desc, then g2 desc, then unit code (indicators.md)."""
    ranks: dict[str, int] = {}
    for tier in TIER_TITLES:
        scored = []
        for unit in units:
            total = _scored_total(unit, period) if unit.tier == tier else None
            if total is not None:
                g2 = _groups(_indicators(unit, period))[1].points or 0.0
                scored.append((-round(total, 9), -g2, unit.code))
        for rank, (_, _, code) in enumerate(sorted(scored), 1):
            ranks[code] = rank
    return ranks


def sample_scorecard(unit: UnitInfo | None = None, period: str = PERIOD,
                     units: list[UnitInfo] | None = None) -> ScorecardContext:
    """The scorecard of `unit` (default: Sở Tư pháp) in the sample month."""
    units = units or post_reform_units()
    unit = unit or units[0]
    indicators = _indicators(unit, period)
    total = _scored_total(unit, period)
    previous = _previous_period(period, 1)
    ranks, previous_ranks = _ranked(units, period), _ranked(units, previous)
    return ScorecardContext(
        period=period,
        issued_on=ISSUED_ON,
        document_number="",
        province=PROVINCE,
        unit=unit,
        total=total,
        band=_band(total),
        rank=ranks.get(unit.code),
        rank_count=sum(1 for u in units if u.tier == unit.tier and u.code in ranks),
        previous_total=_scored_total(unit, previous),
        previous_rank=previous_ranks.get(unit.code),
        groups=tuple(_groups(indicators)),
        indicators=tuple(indicators),
        duties=tuple(_duties(unit, period)),
        trend=tuple(TrendPoint(p, _scored_total(unit, p)) for p in
                    (_previous_period(period, k) for k in range(11, -1, -1))),
        quality_note="Ngày 14/12/2025 nguồn đồng bộ hồ sơ của Cổng Dịch vụ công quốc gia không phản hồi "
        "trong 6 giờ; số liệu đã được bổ sung ở lần chạy sau.",
        quarantined_rows=3,
        score_change=_score_change(unit, period),
    )


def sample_ranking(period: str = PERIOD, units: list[UnitInfo] | None = None) -> RankingContext:
    """The ranked lists of the sample month: one section per tier present."""
    units = units or post_reform_units()
    ranks, previous_ranks = _ranked(units, period), _ranked(units, _previous_period(period, 1))
    sections = []
    for tier, title in TIER_TITLES.items():
        rows = []
        for unit in (u for u in units if u.tier == tier):
            total = _scored_total(unit, period)
            groups = tuple(g.points for g in _groups(_indicators(unit, period)))
            rank, before = ranks.get(unit.code), previous_ranks.get(unit.code)
            change = before - rank if rank and before else None
            rows.append(RankingRow(rank, unit.code, unit.name, total, _band(total), groups, change))
        if rows:
            rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.unit_code))
            sections.append(TierSection(tier, title, tuple(rows)))
    all_rows = [r for s in sections for r in s.rows]
    by_band = tuple((name, sum(1 for r in all_rows if r.band == name)) for name, _ in BANDS)
    # H57 counts every item, announcements included: drawn like a department here.
    province_indicators = _indicators(UnitInfo(PROVINCE.code, PROVINCE.name, "department"), period)
    province_total = _total(province_indicators)
    return RankingContext(
        period=period,
        issued_on=ISSUED_ON,
        province=PROVINCE,
        province_summary=ProvinceSummary(
            total=province_total,
            band=_band(province_total),
            groups=tuple(g.points for g in _groups(province_indicators)),
            units_by_band=by_band,
            units_not_scored=sum(1 for r in all_rows if r.total is None),
        ),
        tiers=tuple(sections),
    )


def write_docs(docs_dir: Path) -> list[Path]:
    """Render the sample scorecard and ranking, and save page 1 of each as a PNG preview."""
    from tthc.reports.render import render_page_png, render_ranking_pdf, render_scorecard

    docs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scorecard = render_scorecard(sample_scorecard(), Path(tmp) / "scorecard.pdf")
        ranking = render_ranking_pdf(sample_ranking(), Path(tmp) / "ranking.pdf")
        return [
            render_page_png(scorecard, docs_dir / "scorecard-page1.png"),
            render_page_png(ranking, docs_dir / "ranking-page1.png"),
        ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tthc.reports.samples",
                                     description="Render the sample documents' previews.")
    parser.add_argument("--docs", type=Path, required=True,
                        help="folder for scorecard-page1.png and ranking-page1.png")
    args = parser.parse_args(argv)
    for path in write_docs(args.docs):
        print(path)


if __name__ == "__main__":
    main()
