"""A deterministic sample month for the documents: tests, docs previews and the benchmark.

The counts are made up (seeded by unit code and month); everything else is the production
code's: the catalogue's names and reasons, the scoring rules, the decomposition of the change,
the priorities and the builders of tthc.reports.month_folder, so a sample card shows what a
real month shows. Unit names are Huế's (after 2025-07-01: the city's departments and its 40
communes), so the layout is tried on real-length names.

    python -m tthc.reports.samples --docs docs/     # regenerate docs/*-page1.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import random
import tempfile
import zlib
from fractions import Fraction
from pathlib import Path

from tthc import config
from tthc.indicators.catalogue import load_catalogue
from tthc.indicators.scoring import UnitScore, ranks, score_unit
from tthc.insights.score_change import CostlyItem, decompose, item_costs
from tthc.periods import Period
from tthc.reports.model import (
    TIER_TITLES,
    FailingItem,
    FailureList,
    ProvinceInfo,
    ProvinceSummary,
    RankingContext,
    RankingRow,
    ScorecardContext,
    TierSection,
    TrendPoint,
    UnitInfo,
)
from tthc.reports.month_folder import change_section, duty_lines, group_lines, indicator_lines, priorities

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

PROCEDURE_CODES = ("1.001757", "1.000894", "2.000908", "1.004227", "2.001035", "1.012453", "1.003583",
                   "1.002747", "1.003992", "2.002184", "1.008610", "1.009458")
NOT_SCORED_UNIT = "000.15.31.H57"  # UBND xã A Lưới 1: a quiet month, no dossier: listed, not scored
BUSY_UNIT = "000.05.31.H57"  # UBND xã Phú Vang: a commune with many failed items
# Announcements and national publications belong to departments (their owner units).
DEPARTMENT_ITEMS = {"announcement", "announcement_procedure", "publication"}

Counts = dict[str, tuple[int, int]]


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


@functools.cache
def _counts(unit: UnitInfo, period: str) -> Counts:
    """(numerator, denominator) of every indicator the unit's tier has, as ind_results holds them."""
    rng = _rng(unit.code, period)
    # One level per unit, drifting a little from month to month, so that units differ visibly
    # and a unit's trend looks like one.
    level = 0.45 if unit.code == BUSY_UNIT else _rng(unit.code).uniform(0.55, 0.98)
    quality = min(1.0, level + rng.uniform(-0.05, 0.05))
    big = unit.tier in ("department", "province")
    out: Counts = {}
    for ind in load_catalogue().indicators:
        if not ind.applies_to_tier(unit.tier):
            continue
        if ind.code == "ELECTRONIC_CERTIFIED_COPY":  # one item per commune
            out[ind.code] = (int(rng.random() < quality and unit.code != NOT_SCORED_UNIT), 1)
            continue
        if unit.code == NOT_SCORED_UNIT or (ind.item_type in DEPARTMENT_ITEMS and not big):
            out[ind.code] = (0, 0)
            continue
        if ind.item_type in ("procedure", "announcement", "announcement_procedure", "publication"):
            denominator = rng.randint(2, 30 if big else 12)
        elif ind.item_type == "feedback":
            denominator = rng.randint(0, 12 if big else 4)
        else:
            denominator = rng.randint(20, 2500) if big else rng.randint(3, 400)
        numerator = min(denominator, max(0, round(denominator * min(1.0, rng.gauss(quality, 0.08)))))
        out[ind.code] = (numerator, denominator)
    return out


def _result_rows(counts: Counts, score: UnitScore) -> dict[str, dict]:
    """ind_results' rows of one unit."""
    return {code: {"numerator": n, "denominator": d, "value": n / d if d else None,
                   "points": None if score.indicator_points.get(code) is None else float(score.indicator_points[code])}
            for code, (n, d) in counts.items()}


@functools.cache
def _total(unit: UnitInfo, period: str) -> float | None:
    total = score_unit(load_catalogue(), _counts(unit, period)).total
    return None if total is None else float(total)


def _band(total: float | None) -> str | None:
    if total is None:
        return None
    return next(name for name, minimum in BANDS if round(total, 9) >= minimum)


@functools.cache
def _ranked(units: tuple[UnitInfo, ...], period: str) -> dict[str, int]:
    """Rank within tier by total desc, then g2 desc, then unit code (indicators.md)."""
    cat = load_catalogue()
    out: dict[str, int] = {}
    for tier in TIER_TITLES:
        scores = {u.code: score_unit(cat, _counts(u, period)) for u in units if u.tier == tier}
        out |= ranks((code, s.total, s.groups[2]) for code, s in scores.items() if s.total is not None)
    return out


def _item_ids(unit: UnitInfo, item_type: str, rng: random.Random, n: int) -> list[str]:
    """`n` distinct made-up ids of the type outputs.md names (never a person's data)."""
    ids: dict[str, None] = {}
    while len(ids) < n:
        procedure = rng.choice(PROCEDURE_CODES)
        ids[{
            "dossier": f"{unit.code}-251{rng.randint(201, 231)}-{rng.randint(1, 9999):04d}",
            "procedure": procedure,
            "announcement_procedure": f"{rng.randint(100, 999)}/{procedure}",
            "announcement": str(rng.randint(100, 999)),
            "publication": f"{rng.randint(10, 99)}/QĐ-UBND/{procedure}",
            "payment": f"TT-{rng.randint(100000, 999999)}",
            "feedback": f"PAKN-2025-{rng.randint(1000, 9999)}",
            "unit": unit.code,
        }[item_type]] = None
        if item_type == "procedure" and len(ids) == len(PROCEDURE_CODES) or item_type == "unit":
            break
    return list(ids)


def _annex(unit: UnitInfo, period: str, counts: Counts, costs: dict[str, Fraction]
           ) -> tuple[tuple[FailureList, ...], list[CostlyItem]]:
    """The failed items the annex lists (the costliest first), and the costly items of the index's."""
    cat = load_catalogue()
    top_n = config.thresholds().top_failing_items
    lists, costly = [], []
    for ind in cat.indicators:
        num, den = counts.get(ind.code, (0, 0))
        if den == num:
            continue
        rng = _rng(unit.code, period, ind.code)
        reasons = list(cat.reasons_of(ind.code).values())
        ids = _item_ids(unit, ind.item_type, rng, min(den - num, top_n))
        items = tuple(FailingItem(ind.item_type, i, rng.choice(reasons)) for i in ids)
        lists.append(FailureList(ind.code, ind.name_vi, ind.group, ind.duty, ind.item_type, den - num, items))
        if costs.get(ind.code):
            costly += [CostlyItem(unit.code, i.item_type, i.item_id, (ind.code,), costs[ind.code]) for i in items]
    costly.sort(key=lambda c: (-c.points_lost, c.item_id))
    return tuple(lists), costly[: config.thresholds().top_costly_items]


def sample_scorecard(unit: UnitInfo | None = None, period: str = PERIOD,
                     units: list[UnitInfo] | None = None) -> ScorecardContext:
    """The scorecard of `unit` (default: Sở Tư pháp) in the sample month."""
    cat = load_catalogue()
    units = units or post_reform_units()
    unit = unit or units[0]
    previous = Period(period).previous().code
    counts = _counts(unit, period)
    score = score_unit(cat, counts)
    total = None if score.total is None else float(score.total)
    groups = {f"g{g}": None if p is None else float(p) for g, p in score.groups.items()}
    rows = _result_rows(counts, score)
    ranks_now, ranks_before = _ranked(tuple(units), period), _ranked(tuple(units), previous)
    annex, costly = _annex(unit, period, counts, item_costs(cat, counts))
    change = decompose(unit.code, _counts(unit, previous), counts, cat)
    return ScorecardContext(
        period=period,
        issued_on=ISSUED_ON,
        document_number="",
        province=PROVINCE,
        unit=unit,
        total=total,
        band=_band(total),
        rank=ranks_now.get(unit.code),
        rank_count=sum(1 for u in units if u.tier == unit.tier and u.code in ranks_now),
        previous_total=_total(unit, previous),
        previous_rank=ranks_before.get(unit.code),
        groups=group_lines(cat, counts, groups),
        indicators=indicator_lines(cat, rows, groups),
        duties=duty_lines(cat, rows),
        trend=tuple(TrendPoint(p.code, _total(unit, p.code)) for p in Period(period).back(12)),
        quality_note="Ngày 14/12/2025 nguồn đồng bộ hồ sơ của Cổng Dịch vụ công quốc gia không phản hồi "
        "trong 6 giờ; số liệu đã được bổ sung ở lần chạy sau.",
        quarantined_rows=3,
        score_change=change_section(cat, period, change, costly),
        priorities=priorities(cat, counts),
        annex=annex,
    )


def sample_ranking(period: str = PERIOD, units: list[UnitInfo] | None = None) -> RankingContext:
    """The ranked lists of the sample month: one section per tier present."""
    cat = load_catalogue()
    units = units or post_reform_units()
    ranks_now, ranks_before = _ranked(tuple(units), period), _ranked(tuple(units), Period(period).previous().code)
    sections = []
    for tier, title in TIER_TITLES.items():
        rows = []
        for unit in (u for u in units if u.tier == tier):
            score = score_unit(cat, _counts(unit, period))
            total = None if score.total is None else float(score.total)
            rank, before = ranks_now.get(unit.code), ranks_before.get(unit.code)
            rows.append(RankingRow(rank, unit.code, unit.name, total, _band(total),
                                   tuple(None if p is None else float(p) for p in score.groups.values()),
                                   before - rank if rank and before else None))
        if rows:
            rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.unit_code))
            sections.append(TierSection(tier, title, tuple(rows)))
    all_rows = [r for s in sections for r in s.rows]
    by_band = tuple((name, sum(1 for r in all_rows if r.band == name)) for name, _ in BANDS)
    province = score_unit(cat, _counts(UnitInfo(PROVINCE.code, PROVINCE.name, "province"), period))
    province_total = None if province.total is None else float(province.total)
    return RankingContext(
        period=period,
        issued_on=ISSUED_ON,
        province=PROVINCE,
        province_summary=ProvinceSummary(
            total=province_total,
            band=_band(province_total),
            groups=tuple(None if p is None else float(p) for p in province.groups.values()),
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
