"""The month's folder (outputs.md "One folder per month"): built aside, moved into place whole.

Reads the indicator engine's result tables, fills the documents' data contract
(tthc.reports.model), renders the scorecards and ranked lists, exports the CSVs (those of
outputs.md, and score_changes.csv: each score's change against the previous month, by
indicator), writes quality.json and manifest.json, then publishes the folder: a rename on a
local disk, a copy with the manifest last on an object store (tthc.reports.store, `publish`).
The folder's location may be either; the steps run as separate tasks, on different workers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import logging
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.delivery.alerts import pending_alerts
from tthc.indicators.catalogue import PROVINCE_CODE, Catalogue, load_catalogue
from tthc.indicators.export import export_period
from tthc.indicators.tables import ind_results, ind_unit_scores, ind_violations
from tthc.insights.score_change import (
    PAYMENT_COMPONENT,
    CostlyItem,
    ScoreChange,
    components,
    costly_items,
    gains,
    item_losses,
    scaled_costs,
    score_changes,
    write_score_changes_csv,
)
from tthc.memory import cyclic_gc_paused
from tthc.periods import Period
from tthc.quality.gate import month_status
from tthc.reports import model as m
from tthc.reports import store
from tthc.reports.render import render_ranking_pdf, render_ranking_xlsx, render_scorecard
from tthc.reports.store import Location
from tthc.warehouse import schema as wh

log = logging.getLogger(__name__)
TREND_MONTHS = 12
PRIORITIES = 3  # page 1: the things that would gain the unit the most points next month
PAYMENT_LETTERS = "ABC"  # group 4's ratios as the payment rule names them (indicators.md)
MANIFEST = "manifest.json"


def _scores(conn, periods: list[str]) -> dict[str, dict[str, dict]]:
    s = ind_unit_scores.c
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in conn.execute(sa.select(ind_unit_scores).where(s.period.in_(periods))).mappings():
        out[row["period"]][row["unit_code"]] = dict(row)
    return out


def quality_note(status: str, quarantined: int, excluded: int) -> str | None:
    if status not in ("warning", "critical"):
        return None
    return (f"Dữ liệu của kỳ có cảnh báo chất lượng: {excluded} hồ sơ bị loại khỏi phạm vi tính "
            f"và {quarantined} bản ghi được cách ly để kiểm tra (xem quality.json).")


def _float(x) -> float | None:
    return None if x is None else float(x)


def component_name(code: str) -> str:
    """A scored component's name for the office: an indicator's, or group 4 scored as a whole."""
    cat = load_catalogue()
    if code == PAYMENT_COMPONENT:  # the payment rule scores group 4 as a whole
        return f"{cat.group(cat.payment_parts()[0].group).name_vi} (cả nhóm)"
    return cat.get(code).name_vi


def change_section(cat: Catalogue, period: str, ch: ScoreChange, costly: list[CostlyItem]) -> m.ScoreChangeSection:
    """"Vì sao điểm thay đổi" as the scorecard shows it, from a unit's decomposition and costliest items."""
    return m.ScoreChangeSection(
        previous_period=Period(period).previous().code,
        previous_total=_float(ch.previous_total), current_total=_float(ch.current_total),
        groups=tuple(m.ChangeLine(f"G{g.group}", cat.group(g.group).name_vi, g.group, _float(g.previous),
                                  _float(g.current), _float(g.contribution)) for g in ch.groups),
        indicators=tuple(m.ChangeLine(c.code, component_name(c.code), c.group, _float(c.previous),
                                      _float(c.current), _float(c.contribution)) for c in ch.components),
        costly_items=tuple(m.CostlyItem(i.item_type, i.item_id, tuple(component_name(c) for c in i.indicator_codes),
                                        float(i.points_lost)) for i in costly))


def score_change_sections(engine: Engine, period: str, top_n: int, units: Collection[str] | None = None,
                          losses: dict[str, list[CostlyItem]] | None = None) -> dict[str, m.ScoreChangeSection]:
    """Each unit's (or only `units`') "Vì sao điểm thay đổi": the exact decomposition against the
    previous month and its `top_n` costliest failed items (tthc.insights.score_change); `losses`
    when item_losses was read already."""
    cat = load_catalogue()
    costly = costly_items(engine, period, top_n, cat, units, losses)
    return {unit: change_section(cat, period, ch, costly.get(unit, []))
            for unit, ch in score_changes(engine, period, cat, units).items()}


def group_lines(cat: Catalogue, counts: dict[str, tuple[int, int]], scores: dict) -> tuple[m.GroupScore, ...]:
    """The six groups with the points earned and the maximum of the indicators that apply to the unit
    this month (a commune has no announcements: its group 1 is out of DOSSIER_SYNC's 6, not of 18)."""
    applicable: dict[int, Fraction] = defaultdict(Fraction)
    for c in components(cat, counts):
        applicable[c.group] += c.max_points
    return tuple(m.GroupScore(g.group, g.name_vi, scores[f"g{g.group}"],
                              float(applicable[g.group]) if scores[f"g{g.group}"] is not None else g.max_points)
                 for g in cat.groups)


def indicator_lines(cat: Catalogue, results: dict[str, dict], scores: dict) -> tuple[m.IndicatorLine, ...]:
    """The index's scored rows of one unit in catalogue order: each indicator on its own rule, and
    group 4 as one row (the payment rule scores the group) with its three ratios beneath."""
    lines, parts = [], cat.payment_parts()
    for ind in cat.indicators:
        res = results.get(ind.code)
        if ind.family != "index" or res is None or ind.code in {p.code for p in parts[1:]}:
            continue
        if ind.code == parts[0].code:
            group = cat.group(ind.group)
            lines.append(m.IndicatorLine(
                code=PAYMENT_COMPONENT, name=group.name_vi, group=group.group, duty_label=None, numerator=None,
                denominator=None, value=None, points=scores[f"g{group.group}"], max_points=group.max_points,
                components=tuple(m.RatioLine(p.code, p.name_vi, letter, p.duty, results[p.code]["numerator"],
                                             results[p.code]["denominator"], results[p.code]["value"])
                                 for p, letter in zip(parts, PAYMENT_LETTERS, strict=True))))
            continue
        lines.append(m.IndicatorLine(
            code=ind.code, name=ind.name_vi, group=ind.group, duty_label=ind.duty,
            numerator=res["numerator"], denominator=res["denominator"], value=res["value"],
            points=res["points"], max_points=ind.max_points or 0.0, is_estimate=ind.estimate))
    return tuple(lines)


def duty_lines(cat: Catalogue, results: dict[str, dict]) -> tuple[m.DutyLine, ...]:
    lines = [m.DutyLine(code=ind.code, annex=ind.duty, description=ind.name_vi, numerator=res["numerator"],
                        denominator=res["denominator"], value=res["value"])
             for ind in cat.indicators if ind.duty is not None and (res := results.get(ind.code)) is not None]
    return tuple(sorted(lines, key=lambda d: (d.annex, d.code)))


def priorities(cat: Catalogue, results: dict[str, tuple[int, int]]) -> tuple[m.Priority, ...]:
    """Page 1: the PRIORITIES components whose failed items, fixed, would add the most to the total."""
    return tuple(m.Priority(cat.group(g.group).name_vi if g.code == PAYMENT_COMPONENT else cat.get(g.code).name_vi,
                            g.group, float(g.points),
                            tuple((cat.get(c).name_vi, cat.get(c).item_type, n) for c, n in g.failed))
                 for g in gains(cat, results)[:PRIORITIES])


def unit_violations(conn, period: str, units: set[str] | None) -> list[tuple[str, str, str, str, str | None]]:
    """The failed items of `units` (all when None): unit, indicator, item type, item id, reason code."""
    v = ind_violations.c
    wanted = [] if units is None else [v.unit_code.in_(sorted(units))]
    return conn.execute(sa.select(v.unit_code, v.indicator_code, v.item_type, v.item_id, v.detail)
                        .where(v.period == period, *wanted)).all()


def failure_lists(violations: list[tuple], losses: dict[str, list[CostlyItem]], top_n: int
                  ) -> dict[tuple[str, str], m.FailureList]:
    """(unit, code) -> its failed items for the annex (`violations`, as unit_violations reads them): all
    counted, the `top_n` that cost the most points of the total listed (an item of a duty only costs
    what it costs through the index), then by id."""
    cat = load_catalogue()
    cost = {(unit, i.item_type, i.item_id): scaled for unit, items in losses.items()
            for i, scaled in zip(items, scaled_costs(items), strict=True)}
    rows: dict[tuple[str, str], list] = defaultdict(list)
    for unit, code, item_type, item_id, reason in violations:
        rows[(unit, code)].append((-cost.get((unit, item_type, item_id), 0), item_id, item_type, reason))
    out = {}
    for (unit, code), found in rows.items():
        ind = cat.get(code)
        first = [m.FailingItem(item_type, item_id, cat.reason_text(code, reason))
                 for _, item_id, item_type, reason in heapq.nsmallest(top_n, found)]
        out[(unit, code)] = m.FailureList(code, ind.name_vi, ind.group, ind.duty, ind.item_type, len(found),
                                          tuple(first))
    return out


def build_contexts(engine: Engine, period: str, issued_on: dt.date, units: Collection[str] | None = None
                   ) -> tuple[list[m.ScorecardContext], m.RankingContext]:
    """The scorecards of `units` (every unit when None) and the ranked lists.

    A rendering task asks only for its batch's units: the failed items are read for those alone.
    """
    units = None if units is None else set(units)
    cat = load_catalogue()
    province = m.ProvinceInfo.from_config(config.province(), period)
    bands = config.bands()
    trend_periods = [p.code for p in Period(period).back(TREND_MONTHS)]
    previous = Period(period).previous().code
    limits = config.thresholds()
    status, _critical = month_status(engine, period)
    with engine.connect() as conn:
        # the batch's failed items read once, for what they cost and for the annex
        violations = unit_violations(conn, period, units) if units != set() else []
        losses = item_losses(engine, period, cat, units, violations) if units != set() else {}
        scores = _scores(conn, trend_periods)
        r = ind_results.c
        results: dict[str, dict[str, dict]] = defaultdict(dict)
        for row in conn.execute(sa.select(ind_results).where(r.period == period)).mappings():
            results[row["unit_code"]][row["indicator_code"]] = dict(row)
        failing = failure_lists(violations, losses, limits.top_failing_items)
        quarantined = conn.execute(sa.select(sa.func.count()).select_from(wh.quality_quarantine)).scalar_one()
        excluded = conn.execute(sa.select(sa.func.count(sa.distinct(wh.quality_excluded_dossiers.c.dossier_code)))
                                ).scalar_one()
    note = quality_note(status, quarantined, excluded)
    why = score_change_sections(engine, period, limits.top_costly_items, units, losses) if units != set() else {}
    current = scores.get(period, {})
    tier_counts: dict[str, int] = defaultdict(int)
    for row in current.values():
        if row["rank"] is not None:
            tier_counts[row["tier"]] += 1

    def scorecard(code: str) -> m.ScorecardContext:
        row, mine = current[code], results[code]
        prev = scores.get(previous, {}).get(code)
        counts = {c: (int(x["numerator"]), int(x["denominator"])) for c, x in mine.items()}
        return m.ScorecardContext(
            period=period, issued_on=issued_on, document_number="", province=province,
            unit=m.UnitInfo(code, row["unit_name"], row["tier"]), total=row["total"], band=row["band"],
            rank=row["rank"], rank_count=tier_counts[row["tier"]],
            previous_total=prev["total"] if prev else None,
            groups=group_lines(cat, counts, row),
            indicators=indicator_lines(cat, mine, row), duties=duty_lines(cat, mine),
            trend=tuple(m.TrendPoint(p, scores.get(p, {}).get(code, {}).get("total")) for p in trend_periods),
            quality_note=note, quarantined_rows=quarantined,
            previous_rank=prev["rank"] if prev else None,
            band_thresholds=tuple(b.min_total for b in bands.bands if b.min_total > 0),
            score_change=why.get(code), priorities=priorities(cat, counts),
            annex=tuple(failing.get((code, ind.code)) for ind in cat.indicators if (code, ind.code) in failing))

    scorecards = [scorecard(code) for code in sorted(c for c in current if c != PROVINCE_CODE
                                                     and (units is None or c in units))]

    def rank_change(code: str, rank: int | None) -> int | None:
        prev = scores.get(previous, {}).get(code)
        return prev["rank"] - rank if prev and prev["rank"] is not None and rank is not None else None

    tiers = []
    for tier, title in m.TIER_TITLES.items():
        rows = [r for c, r in current.items() if c != PROVINCE_CODE and r["tier"] == tier]
        if not rows:
            continue
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit_code"]))
        tiers.append(m.TierSection(tier, title, tuple(
            m.RankingRow(r["rank"], r["unit_code"], r["unit_name"], r["total"], r["band"],
                         tuple(r[f"g{g}"] for g in range(1, 7)), rank_change(r["unit_code"], r["rank"]))
            for r in rows)))
    h57 = current.get(PROVINCE_CODE, {})
    by_band = [(b.name, sum(1 for c, r in current.items() if c != PROVINCE_CODE and r["band"] == b.name))
               for b in bands.bands]
    summary = m.ProvinceSummary(
        total=h57.get("total"), band=h57.get("band"), groups=tuple(h57.get(f"g{g}") for g in range(1, 7)),
        units_by_band=tuple(by_band),
        units_not_scored=sum(1 for c, r in current.items() if c != PROVINCE_CODE and not r["scored"]))
    ranking = m.RankingContext(period=period, issued_on=issued_on, province=province,
                               province_summary=summary, tiers=tuple(tiers))
    return scorecards, ranking


def _render_one(args: tuple[m.ScorecardContext, Path]) -> str:
    ctx, path = args
    render_scorecard(ctx, path)
    return ctx.unit.code


def _sha256(path: Location) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def quality_report(engine: Engine, period: str) -> dict:
    """Every gate run of the period (the month's own and its nights'), with each check's outcome."""
    q = wh.quality_runs.c
    with engine.connect() as conn:
        runs = conn.execute(sa.select(wh.quality_runs).where(
            sa.or_(q.period == period, q.period.like(f"{period}-%"))).order_by(q.period, q.dag_id)).mappings().all()
    status, critical = month_status(engine, period)
    return {"period": period, "status": status, "critical_checks": critical,
            "runs": [json.loads(r["report_json"]) for r in runs],
            # alerts about failed checks that no channel could carry yet, and why
            "alerts_not_sent": [a for a in pending_alerts(engine) if a["key"].startswith("quality/")]}


def source_watermarks(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(wh.etl_watermarks.c.stream, wh.etl_watermarks.c.watermark)
                            .order_by(wh.etl_watermarks.c.stream)).all()
    return {stream: mark.isoformat() if mark else None for stream, mark in rows}


def published_files(folder: Location) -> dict[str, int]:
    """The month's documents (relative path -> size): every file but the manifest and hidden ones —
    a writer's temporary file (".name.*.tmp") belongs to that writer and may be renamed away while we look."""
    return {rel: size for rel, size in store.listing(folder).items() if rel != MANIFEST}


def write_manifest(folder: Location, period: str, built_at: dt.datetime, watermarks: dict, delivery: dict
                   ) -> Location:
    manifest = {
        "period": period,
        "built_at": built_at.isoformat(),
        "source_watermarks": watermarks,
        "delivery": delivery,
        "files": [{"path": rel, "sha256": _sha256(folder / rel), "size": size}
                  for rel, size in published_files(folder).items()],
    }
    store.write_whole(folder / MANIFEST, (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return folder / MANIFEST


def read_manifest(folder: Location) -> dict:
    store.refresh(folder)  # a reader starts from the store as it is now
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def read_listed(folder: Location, entry: dict) -> bytes:
    """The bytes of a file the month's manifest lists (`entry`), checked against its hash.

    Readers trust only a manifest and the files it lists: on an object store a month is
    republished file by file (`publish`), so a file that differs from, or is missing for, the
    manifest just read belongs to a republication under way.
    """
    try:
        data = (folder / entry["path"]).read_bytes()
    except FileNotFoundError:
        data = None
    if data is None or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise RuntimeError(f"{folder}/{entry['path']} no longer matches the month's manifest: the month is being "
                           "republished (or was changed by hand); read it again once that run has finished")
    return data


def scorecard_units_in(paths: Iterable[str]) -> list[str]:
    """The units that have a scorecard among the month's relative file paths."""
    return sorted(p.removeprefix("scorecards/").removesuffix(".pdf") for p in paths
                  if p.startswith("scorecards/") and p.endswith(".pdf") and p.count("/") == 1)


def swap_into_place(built: Path, final: Path) -> None:
    """Replace `final` by `built`: two renames, the old copy removed only once the new one is in."""
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(built, final)
    except BaseException:
        if old.exists():  # put the previous month back: never leave the period without a folder
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def publish_by_copy(staging: Location, final: Location) -> None:
    """Publish on an object store, where nothing can be renamed: the manifest is the commit.

    The published month is withdrawn first (its manifest deleted), then the new files are
    copied in, those the new month no longer has are deleted, and the manifest is copied last.
    A reader that trusts only a manifest and the files it lists, with their hashes
    (`read_listed`), sees the previous month, then none, then the new one — never a mixture.
    A failure midway leaves the month withdrawn and the staging prefix whole: the task's retry,
    or a rerun, publishes it.
    """
    files = store.listing(staging)
    (final / MANIFEST).unlink(missing_ok=True)
    for rel in files:
        if rel != MANIFEST:
            store.copy(staging / rel, final / rel)
    for rel in store.listing(final):
        if rel not in files:
            (final / rel).unlink()
    store.copy(staging / MANIFEST, final / MANIFEST)
    store.remove(staging)


def publish(staging: Location, final: Location) -> None:
    """Put the built month in place of the published one: whole or not at all (outputs.md)."""
    if store.is_local(staging):
        swap_into_place(staging, final)
    else:
        publish_by_copy(staging, final)


def staging_folder(out_root: Location, period: str, build_id: str) -> Location:
    """Where a run builds the month before moving it into place (hidden; one per run)."""
    return out_root / f".{period}.build-{build_id}"


def start_month_folder(engine: Engine, period: str, out_root: Location, built_at: dt.datetime, build_id: str
                       ) -> Location:
    """A fresh staging folder with everything but the scorecards: CSVs, ranked lists, quality.json.

    Other runs' leftovers for the period (a killed process leaves them) are removed; a retry of
    the same run starts its own folder afresh.
    """
    store.refresh(out_root)
    for leftover in out_root.glob(f".{period}.build-*"):
        store.remove(leftover)
    staging = staging_folder(out_root, period, build_id)
    try:
        with store.building(staging) as folder:
            with cyclic_gc_paused():  # the month's failed items, read as small objects: see render_scorecards
                export_period(engine, period, folder)
                write_score_changes_csv(engine, period, folder)  # beyond outputs.md: why each score moved
                _, ranking = build_contexts(engine, period, built_at.date(), units=())
            render_ranking_pdf(ranking, folder / "ranking.pdf")
            render_ranking_xlsx(ranking, folder / "ranking.xlsx")
            (folder / "quality.json").write_text(
                json.dumps(quality_report(engine, period), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            (folder / "scorecards").mkdir()
    except BaseException:
        store.remove(staging)
        raise
    return staging


def scorecard_units(engine: Engine, period: str) -> list[str]:
    """The units that get a scorecard: every active unit of the period (H57 excluded)."""
    s = ind_unit_scores.c
    with engine.connect() as conn:
        return list(conn.execute(sa.select(s.unit_code).where(s.period == period, s.unit_code != PROVINCE_CODE)
                                 .order_by(s.unit_code)).scalars())


def unit_batches(units: list[str], per_batch: int) -> list[list[str]]:
    """Units split into consecutive batches: one mapped Airflow task renders one batch."""
    return [units[i : i + per_batch] for i in range(0, len(units), per_batch)]


def render_scorecards(engine: Engine, period: str, staging: Location, built_at: dt.datetime,
                      units: list[str] | None = None, workers: int = 2) -> list[str]:
    """Render the scorecards of `units` (all when None) into the staging folder.

    On an object store each PDF is rendered locally and put into the staging prefix whole, so
    a worker killed midway leaves no part of a file there: the retry, on any worker, redoes it.
    """
    # the batch's failed items are read as many small objects, without cycles: the collector's full
    # passes over the whole task would only slow the reading (tthc.memory)
    with cyclic_gc_paused():
        scorecards, _ = build_contexts(engine, period, built_at.date(), units)
    with store.building(staging) as folder:
        (folder / "scorecards").mkdir(exist_ok=True)
        jobs = [(ctx, folder / "scorecards" / f"{ctx.unit.code}.pdf") for ctx in scorecards]
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                done = list(pool.map(_render_one, jobs))  # one document at a time: the two processes end together
        else:
            done = [_render_one(job) for job in jobs]
    return done


def finish_month_folder(engine: Engine, period: str, staging: Location, built_at: dt.datetime) -> Location:
    """Check every scorecard is there, write the manifest, move the month into place."""
    missing = sorted(set(scorecard_units(engine, period)) - set(scorecard_units_in(store.listing(staging))))
    if missing:
        raise RuntimeError(f"{period}: {len(missing)} scorecard(s) missing from {staging}: {', '.join(missing[:5])}")
    write_manifest(staging, period, built_at, source_watermarks(engine), {"status": "pending"})
    final = staging.parent / period
    publish(staging, final)
    log.info("month folder %s written", final)
    return final


def write_month_folder(engine: Engine, period: str, out_root: Location, built_at: dt.datetime,
                       workers: int = 2) -> Location:
    """The whole month in one call (tests, tools); the DAG runs the same steps as separate tasks."""
    staging = start_month_folder(engine, period, out_root, built_at, uuid.uuid4().hex[:8])
    try:
        render_scorecards(engine, period, staging, built_at, workers=workers)
        return finish_month_folder(engine, period, staging, built_at)
    except BaseException:
        store.remove(staging)
        raise
