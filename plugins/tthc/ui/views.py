"""What the UI's pages show, read from the warehouse and the month folders (no Airflow here).

- the months: each with its quality status (the gate runs of the month), its delivery status
  (the delivery ledger) and when its folder was built (its manifest);
- a month: the ranking per tier, as ind_unit_scores holds it (the rows unit_scores.csv is
  written from), the month's files, and its quality report (quality.json);
- a unit: its total and group points over the last 12 months, and the month's violations by
  indicator or duty.

The warehouse holds no personal data (sources.md), and nothing here adds any: the ledger's
recipient keys are shown, never addresses.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.delivery.office import ledger_rows
from tthc.indicators.catalogue import PROVINCE_CODE, load_catalogue
from tthc.indicators.tables import ind_unit_scores, ind_violations
from tthc.periods import Period
from tthc.quality.gate import month_status
from tthc.reports.model import TIER_TITLES, TrendPoint
from tthc.reports.month_folder import TREND_MONTHS
from tthc.reports.svg import trend_svg
from tthc.ui import files

QUALITY_LABELS = {"ok": "Đạt", "warning": "Có cảnh báo", "critical": "Lỗi nghiêm trọng"}
SEVERITY_LABELS = {"critical": "nghiêm trọng", "warning": "cảnh báo", "info": "thông tin"}
SHOWN_ITEMS = 50  # violations listed per code on a unit's page; the CSV has them all


@dataclass(frozen=True)
class Delivery:
    state: str  # sent | uncertain | failed | blocked | not_sent
    label: str
    at: dt.datetime | None = None


def delivery_status(ledger: list[dict], quality: str) -> Delivery:
    """The month's delivery to the office, as the ledger tells it.

    The office's mail may be split ("office/1of2", "office/2of2"); the month is sent when every
    part of one split is 'sent'. A 'sending' row left by a crash is not guessed at.
    """
    office = [r for r in ledger if r["recipient"].startswith("office/")]
    sent_parts: dict[str, dict[str, dt.datetime | None]] = defaultdict(dict)
    for r in office:
        if r["status"] == "sent":
            part, total = r["recipient"].removeprefix("office/").split("of")
            sent_parts[total][part] = dt.datetime.fromisoformat(r["at"]) if r["at"] else None
    for total, parts in sent_parts.items():
        if len(parts) == int(total):
            when = max((t for t in parts.values() if t), default=None)
            return Delivery("sent", "Đã gửi Văn phòng UBND", when)
    states = {r["status"] for r in office}
    if "sending" in states:
        return Delivery("uncertain", "Chưa rõ (lần gửi trước bị gián đoạn)")
    if "failed" in states:
        return Delivery("failed", "Gửi lỗi")
    if quality == "critical":
        return Delivery("blocked", "Không gửi: dữ liệu lỗi nghiêm trọng")
    return Delivery("not_sent", "Chưa gửi")


@dataclass(frozen=True)
class MonthSummary:
    period: str
    quality: str
    quality_label: str
    delivery: Delivery
    built_at: dt.datetime | None  # None: the month has scores but no folder (yet)
    units_scored: int


def _periods_scored(engine: Engine) -> dict[str, int]:
    s = ind_unit_scores.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.period, sa.func.count()).where(s.unit_code != PROVINCE_CODE, s.scored).group_by(s.period)
        ).all()
        every = conn.execute(sa.select(s.period).distinct()).scalars().all()
    counts = dict.fromkeys(every, 0)
    counts.update(dict(rows))
    return counts


def _built_at(manifest: dict | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(manifest["built_at"]) if manifest else None


def _summary(engine: Engine, root, period: str, units_scored: int) -> MonthSummary:
    status, _ = month_status(engine, period)
    return MonthSummary(
        period,
        status,
        QUALITY_LABELS[status],
        delivery_status(ledger_rows(engine, period), status),
        _built_at(files.manifest(root, period)),
        units_scored,
    )


def months(engine: Engine, root) -> list[MonthSummary]:
    """Every month the warehouse scored or the output location holds, the latest first."""
    scored = _periods_scored(engine)
    periods = sorted(set(scored) | set(files.month_folders(root)), reverse=True)
    return [_summary(engine, root, period, scored.get(period, 0)) for period in periods]


@dataclass(frozen=True)
class RankedUnit:
    rank: int | None
    unit_code: str
    unit_name: str
    total: float | None
    band: str | None
    groups: tuple[float | None, ...]
    scorecard: str | None  # the file's name in the month folder, when it is there
    violations: str | None


@dataclass(frozen=True)
class Tier:
    tier: str
    title: str
    units: tuple[RankedUnit, ...]


@dataclass(frozen=True)
class QualityRun:
    run_key: str
    status_label: str
    started_at: str
    checks: int
    excluded_dossiers: int
    failed: tuple[dict, ...]  # name, table, severity (label), count


@dataclass(frozen=True)
class Month:
    period: str
    summary: MonthSummary
    tiers: tuple[Tier, ...]
    province: dict | None  # H57's row
    documents: tuple[tuple[str, str], ...]  # the month's own files: (manifest name, title)
    quality_runs: tuple[QualityRun, ...]
    critical_checks: tuple[str, ...]
    group_names: tuple[str, ...]


MONTH_DOCUMENTS = {
    "ranking.pdf": "Bảng xếp hạng (PDF)",
    "ranking.xlsx": "Bảng xếp hạng (Excel)",
    "unit_scores.csv": "Điểm các đơn vị (CSV)",
    "indicators.csv": "Kết quả từng chỉ số (CSV)",
    "score_changes.csv": "Vì sao điểm thay đổi (CSV)",
    "quality.json": "Báo cáo chất lượng dữ liệu (JSON)",
}


def _quality_runs(report: dict) -> tuple[QualityRun, ...]:
    runs = []
    for r in report.get("runs", []):
        failed = tuple(
            {
                "name": o["name"],
                "table": o["table"],
                "severity": SEVERITY_LABELS.get(o["severity"], o["severity"]),
                "count": o["unexpected_count"],
            }
            for o in r["outcomes"]
            if not o["success"]
        )
        runs.append(
            QualityRun(
                r["run_key"],
                QUALITY_LABELS.get(r["status"], r["status"]),
                r["run_started_at"],
                len(r["outcomes"]),
                r["excluded_dossiers"],
                failed,
            )
        )
    return tuple(runs)


def month(engine: Engine, root, period: str) -> Month | None:
    """One month's page, or None when neither the warehouse nor the output location has it."""
    scored = _periods_scored(engine)
    listed = files.manifest(root, period)
    if period not in scored and listed is None:
        return None
    summary = _summary(engine, root, period, scored.get(period, 0))
    listed = listed or {}
    names = {f["path"] for f in listed.get("files", [])}
    s = ind_unit_scores.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ind_unit_scores).where(s.period == period)).mappings().all()
    tiers = []
    for tier, title in TIER_TITLES.items():
        mine = sorted(
            (r for r in rows if r["tier"] == tier and r["unit_code"] != PROVINCE_CODE),
            key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit_code"]),
        )
        if not mine:
            continue
        tiers.append(
            Tier(
                tier,
                title,
                tuple(
                    RankedUnit(
                        r["rank"],
                        r["unit_code"],
                        r["unit_name"],
                        r["total"],
                        r["band"],
                        tuple(r[f"g{g}"] for g in range(1, 7)),
                        _listed(names, f"scorecards/{r['unit_code']}.pdf"),
                        _listed(names, f"violations/{r['unit_code']}.csv"),
                    )
                    for r in mine
                ),
            )
        )
    province = next((dict(r) for r in rows if r["unit_code"] == PROVINCE_CODE), None)
    quality = files.read_json(root, period, "quality.json") if "quality.json" in names else {}
    documents = tuple((n, t) for n, t in MONTH_DOCUMENTS.items() if n in names)
    return Month(
        period,
        summary,
        tuple(tiers),
        province,
        documents,
        _quality_runs(quality),
        tuple(quality.get("critical_checks", [])),
        tuple(g.name_vi for g in load_catalogue().groups),
    )


def _listed(names: set[str], name: str) -> str | None:
    return name if name in names else None


@dataclass(frozen=True)
class ViolationGroup:
    code: str
    title: str  # "Nhiệm vụ 2.2 – …" or the indicator's name
    count: int
    items: tuple[dict, ...]  # item_type, item_id, detail: the first SHOWN_ITEMS


@dataclass(frozen=True)
class GroupTrend:
    group: int
    name: str
    max_points: float
    chart: str | None  # None: the group applied to the unit in none of the months
    points: tuple[float | None, ...]


@dataclass(frozen=True)
class Unit:
    period: str
    unit_code: str
    unit_name: str
    tier_title: str
    total: float | None
    band: str | None
    rank: int | None
    months: tuple[str, ...]  # the trend's months, oldest first
    totals: tuple[float | None, ...]
    total_chart: str
    groups: tuple[GroupTrend, ...]
    violations: tuple[ViolationGroup, ...]
    scorecard: str | None
    violations_file: str | None


def unit(engine: Engine, root, period: str, unit_code: str) -> Unit | None:
    """One unit's page for `period`, or None when the unit has no score row that month."""
    cat = load_catalogue()
    thresholds = tuple(b.min_total for b in config.bands().bands if b.min_total > 0)
    trend = [p.code for p in Period(period).back(TREND_MONTHS)]
    s = ind_unit_scores.c
    v = ind_violations.c
    with engine.connect() as conn:
        scores = {
            r["period"]: r
            for r in conn.execute(
                sa.select(ind_unit_scores).where(s.unit_code == unit_code, s.period.in_(trend))
            ).mappings()
        }
        if period not in scores or unit_code == PROVINCE_CODE:
            return None
        counts = dict(
            conn.execute(
                sa.select(v.indicator_code, sa.func.count())
                .where(v.period == period, v.unit_code == unit_code)
                .group_by(v.indicator_code)
            ).all()
        )
        ranked = (
            sa.select(
                v.indicator_code,
                v.item_type,
                v.item_id,
                v.detail,
                sa.func.row_number().over(partition_by=v.indicator_code, order_by=v.item_id).label("n"),
            )
            .where(v.period == period, v.unit_code == unit_code)
            .subquery()
        )
        items: dict[str, list[dict]] = defaultdict(list)
        for r in conn.execute(
            sa.select(ranked).where(ranked.c.n <= SHOWN_ITEMS).order_by(ranked.c.indicator_code, ranked.c.item_id)
        ).mappings():
            # the stored reason code, worded for the office as the catalogue (and the CSV) words it
            items[r["indicator_code"]].append(
                {"item_type": r["item_type"], "item_id": r["item_id"],
                 "detail": cat.reason_text(r["indicator_code"], r["detail"])}
            )
    row = scores[period]
    totals = tuple(scores[p]["total"] if p in scores else None for p in trend)
    groups = []
    for g in cat.groups:
        points = tuple(scores[p][f"g{g.group}"] if p in scores else None for p in trend)
        chart = (
            None
            if all(x is None for x in points)
            else trend_svg(
                [TrendPoint(p, x) for p, x in zip(trend, points, strict=True)], thresholds=(), maximum=g.max_points
            )
        )
        groups.append(GroupTrend(g.group, g.name_vi, g.max_points, chart, points))
    violations = []
    for ind in cat.indicators:  # the order of indicators.md, as in every output
        if ind.code not in counts:
            continue
        title = f"Nhiệm vụ {ind.duty} – {ind.name_vi}" if ind.duty else ind.name_vi
        violations.append(ViolationGroup(ind.code, title, counts[ind.code], tuple(items[ind.code])))
    names = {f["path"] for f in (files.manifest(root, period) or {}).get("files", [])}
    return Unit(
        period,
        unit_code,
        row["unit_name"],
        TIER_TITLES.get(row["tier"], row["tier"]),
        row["total"],
        row["band"],
        row["rank"],
        tuple(trend),
        totals,
        trend_svg([TrendPoint(p, t) for p, t in zip(trend, totals, strict=True)], thresholds=thresholds),
        tuple(groups),
        tuple(violations),
        _listed(names, f"scorecards/{unit_code}.pdf"),
        _listed(names, f"violations/{unit_code}.csv"),
    )
