"""Generate a simulated province into a replica database and a national store.

    python -m tthc.sim.generator --source-url sqlite:////tmp/replica.db \\
        --national-url sqlite:////tmp/national.db --start 2025-01-01 --end 2025-12-31

Deterministic: the same seed and arguments give identical rows. Idempotent by replacement:
the generator drops and recreates its own tables (the replica's seven, the national
store's five) in the target databases, then fills them; other tables are left alone.
The replica is seen as at 00:00 after `end`: later events have not happened yet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import holidays
import numpy as np
from faker import Faker
from sqlalchemy import create_engine

from tthc.calendar import load_calendar
from tthc.extract.contract import SOURCE_COLUMNS
from tthc.sim.catalogue import build_province
from tthc.sim.dossiers import DAY, Context, month_dossiers
from tthc.sim.loader import BulkWriter
from tthc.sim.national import announcements, dossier_ratings, feedback, synced_dossiers
from tthc.sim.national_store import create_national_store, drop_national_store
from tthc.sim.reference import HISTORY_START, PROVINCE
from tthc.sim.settings import GeneratorConfig, load_generator_config
from tthc.sim.source_schema import create_source_schema, drop_source_schema
from tthc.sim.textfmt import sql_ts
from tthc.sim.worktime import WorkClock, day_seconds

NAME_POOL = 4000
UNKNOWN_UNIT, UNKNOWN_PROCEDURE = f"000.99.99.{PROVINCE}", "9.999999"


@dataclass
class GenerationSummary:
    """Rows written per table, and for tests the planted defects and dirty rows."""

    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # defect kind -> unit code -> items planted
    planted: dict[str, dict[str, int]] = field(default_factory=dict)
    # defect kind -> unit code -> the unit's configured rate
    unit_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    dirty: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def generate(
    source_url: str,
    national_url: str,
    start: dt.date,
    end: dt.date,
    seed: int = 1,
    dossiers_per_year: int = 1_200_000,
    rates: GeneratorConfig | None = None,
) -> GenerationSummary:
    """Fill both databases with the province's dossiers submitted from `start` to `end` (inclusive)."""
    if end < start or start < HISTORY_START:
        raise ValueError(f"need {HISTORY_START} <= start <= end, got {start} .. {end}")
    config = rates or load_generator_config()
    rng = np.random.default_rng(seed)
    now_day = end + dt.timedelta(days=1)
    cal = load_calendar()
    clock = WorkClock.build(cal, dt.date(start.year - 1, 1, 1), dt.date(end.year + 2, 12, 31))
    province = build_province(rng, config, end)
    ctx = Context(
        rng=rng,
        clock=clock,
        province=province,
        now=day_seconds(now_day),
        per_day=dossiers_per_year / _weighted_days(start.year, clock),
        tet_days=_tet_days(start, end),
        names=_name_pool(seed),
    )
    summary = GenerationSummary()
    summary.unit_rates = {
        k: {u.code: float(v[i]) for i, u in enumerate(province.units)} for k, v in province.rates.items()
    }
    planted_total = defaultdict(lambda: np.zeros(len(province.units), dtype=np.int64))

    source_engine, national_engine = create_engine(source_url), create_engine(national_url)
    drop_source_schema(source_engine)
    drop_national_store(national_engine)
    create_source_schema(source_engine)
    create_national_store(national_engine)
    src, nat = BulkWriter(source_engine), BulkWriter(national_engine)
    try:
        _write_reference(src, province, now_day, summary)
        event_id, feedback_id = 1, 1
        for first, stop in _months(start, now_day):
            chunk = month_dossiers(ctx, first, stop)
            planted = chunk["planted"]
            d = chunk["dossiers"]
            nat_rows = {
                "national_synced_dossiers": synced_dossiers(
                    ctx, d, chunk["unit"], config, planted, summary.dirty
                ),
                "national_dossier_ratings": dossier_ratings(ctx, d, chunk["unit"], config, planted),
            }
            fb = feedback(ctx, d, chunk["unit"], feedback_id, config, planted)
            feedback_id += fb.pop("count")
            nat_rows["national_feedback"] = fb
            for kind, counts in planted.items():
                planted_total[kind] += counts
            _plant_dirt(ctx, d, chunk["events"], config, summary.dirty)
            event_id = _write_chunk(src, ctx, chunk, event_id, summary)
            for table, columns in nat_rows.items():
                summary.rows[table] += nat.write(table, columns)
            src.commit()
            nat.commit()
        decisions, anns, pubs = announcements(ctx, cal, start, end, config, planted_total)
        anns["updated_at"] = sql_ts(anns["updated_at"])
        summary.rows["procedure_announcements"] += src.write("procedure_announcements", anns)
        summary.rows["national_ministry_decisions"] += nat.write("national_ministry_decisions", decisions)
        summary.rows["national_publications"] += nat.write("national_publications", pubs)
        src.commit()
        nat.commit()
    finally:
        src.close()
        nat.close()
    codes = [u.code for u in province.units]
    summary.planted = {
        k: {c: int(n) for c, n in zip(codes, v, strict=True) if n} for k, v in planted_total.items()
    }
    summary.rows, summary.dirty = dict(summary.rows), dict(summary.dirty)
    return summary


def _months(start: dt.date, stop: dt.date):
    """[first, next) chunks of at most one calendar month: unit sets change only on the 1st."""
    first = start
    while first < stop:
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        yield first, min(following, stop)
        first = following


def _weighted_days(year: int, clock: WorkClock) -> float:
    """Sum of a year's day factors, so that a whole year holds `dossiers_per_year` dossiers."""
    from tthc.sim.dossiers import OFF_DAY_FACTOR, WEEKDAY_FACTOR

    days = [dt.date(year, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    return sum(WEEKDAY_FACTOR[d.weekday()] if d in clock.working_days else OFF_DAY_FACTOR for d in days)


def _tet_days(start: dt.date, end: dt.date) -> frozenset[dt.date]:
    """Lunar New Year break (Tết Nguyên Đán), first to last day off: nobody files anything."""
    vn = holidays.country_holidays("VN", years=range(start.year, end.year + 1), language="en_US")
    days = set()
    for year in range(start.year, end.year + 1):
        tet = [d for d, name in vn.items() if d.year == year and "Lunar New Year" in name]
        if tet:
            days.update(min(tet) + dt.timedelta(days=i) for i in range((max(tet) - min(tet)).days + 1))
    return frozenset(days)


def _name_pool(seed: int) -> np.ndarray:
    fake = Faker("vi_VN")
    fake.seed_instance(seed)
    return np.array([fake.name() for _ in range(NAME_POOL)], dtype=object)


def _write_reference(src: BulkWriter, province, now_day: dt.date, summary: GenerationSummary) -> None:
    stamp = f"{now_day - dt.timedelta(days=1)} 18:00:00"
    units = [u for u in province.units]
    summary.rows["units"] += src.write(
        "units",
        {
            "unit_code": [u.code for u in units],
            "name": [u.name for u in units],
            "tier": [u.tier for u in units],
            "parent_code": [u.parent_code for u in units],
            "valid_from": [u.valid_from.isoformat() for u in units],
            "valid_to": [
                u.valid_to.isoformat() if u.valid_to and u.valid_to < now_day else None for u in units
            ],
            "updated_at": [stamp] * len(units),
        },
    )
    p = province.procedures
    columns = [c for c, _ in SOURCE_COLUMNS["procedures"] if c != "updated_at"]  # stamped below
    rows = {c: p[c] for c in columns}
    for c in ("has_fee", "is_certification", "has_eform", "reuse_eligible"):
        rows[c] = p[c].astype(bool)
    rows["updated_at"] = [stamp] * len(p["procedure_code"])
    summary.rows["procedures"] += src.write("procedures", rows)


def _plant_dirt(ctx: Context, d: dict, events: dict, config: GeneratorConfig, dirty: dict) -> None:
    """Dirty rows the pipeline must quarantine, at the configured per-row rates."""
    rng, n = ctx.rng, len(d["dossier_code"])
    rates = config.dirty

    def pick(kind: str, eligible: np.ndarray | None = None) -> np.ndarray:
        chosen = rng.random(n) < rates[kind]
        chosen = chosen if eligible is None else chosen & eligible
        dirty[kind] = dirty.get(kind, 0) + int(chosen.sum())
        return chosen

    received = d["received_at"] >= 0
    swap = pick("out_of_order_timestamps", received)
    d["received_at"] = np.where(swap, d["submitted_at"] - rng.integers(3600, 3 * DAY, n), d["received_at"])
    early = pick("due_before_received", received & ~swap)
    d["due_at"] = np.where(early, d["received_at"] - rng.integers(DAY, 5 * DAY, n), d["due_at"])
    d["unit_code"] = np.where(pick("unknown_unit_code"), UNKNOWN_UNIT, d["unit_code"])
    d["procedure_code"] = np.where(pick("unknown_procedure_code"), UNKNOWN_PROCEDURE, d["procedure_code"])
    d["status"] = np.where(pick("null_required"), None, d["status"].astype(object))
    future = pick("future_timestamp")
    ahead = ctx.now + 3 * 365 * DAY
    d["updated_at"] = np.where(future, ahead, d["updated_at"])
    d["completed_at"] = np.where(future & (d["completed_at"] >= 0), ahead - DAY, d["completed_at"])
    m = len(events["dossier_code"])
    dup = np.flatnonzero(rng.random(m) < rates["duplicate_event"])
    dirty["duplicate_event"] = dirty.get("duplicate_event", 0) + len(dup)
    recorded = events["recorded_at"][dup] + rng.integers(1, 600, len(dup))  # written again, later
    for key in events:
        copy = recorded if key == "recorded_at" else events[key][dup]
        events[key] = np.concatenate([events[key], copy])


def _write_chunk(
    src: BulkWriter, ctx: Context, chunk: dict, event_id: int, summary: GenerationSummary
) -> int:
    d = chunk["dossiers"]
    for c in ("submitted_at", "received_at", "due_at", "completed_at", "returned_at", "updated_at"):
        d[c] = sql_ts(d[c])
    summary.rows["dossiers"] += src.write("dossiers", d)
    ev = chunk["events"]
    codes = np.array([u.code for u in ctx.province.units], dtype=object)
    m = len(ev["dossier_code"])
    summary.rows["dossier_events"] += src.write(
        "dossier_events",
        {
            "event_id": np.arange(event_id, event_id + m),
            "dossier_code": ev["dossier_code"],
            "event_type": ev["event_type"],
            "occurred_at": sql_ts(ev["occurred_at"]),
            "unit_code": codes[ev["unit_index"]],
            "recorded_at": sql_ts(ev["recorded_at"]),
        },
    )
    ap = chunk["apologies"]
    first_apology = summary.rows.get("apologies", 0) + 1
    summary.rows["apologies"] += src.write(
        "apologies",
        {
            "apology_id": np.arange(first_apology, first_apology + len(ap["dossier_code"])),
            "dossier_code": ap["dossier_code"],
            "issued_at": sql_ts(ap["issued_at"]),
            "new_due_at": sql_ts(ap["new_due_at"]),
            "recorded_at": sql_ts(ap["recorded_at"]),
        },
    )
    pay = chunk["payments"]
    first_payment = summary.rows.get("payments", 0) + 1
    k = len(pay["dossier_code"])
    summary.rows["payments"] += src.write(
        "payments",
        {
            "payment_id": [f"TT-{PROVINCE}-{i:09d}" for i in range(first_payment, first_payment + k)],
            "dossier_code": pay["dossier_code"],
            "amount_vnd": pay["amount_vnd"],
            "method": pay["method"],
            "gateway": pay["gateway"],
            "status": pay["status"],
            "paid_at": sql_ts(pay["paid_at"]),
            "updated_at": sql_ts(pay["updated_at"]),
        },
    )
    return event_id + m


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tthc.sim.generator",
        description="Generate a simulated Huế province (TTHC replica + national store), deterministically "
        "for a seed. Replaces the generator's own tables in both databases.",
    )
    parser.add_argument("--source-url", required=True, help="SQLAlchemy URL of the provincial replica")
    parser.add_argument("--national-url", required=True, help="SQLAlchemy URL of the national store")
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat, help="last day, inclusive")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--dossiers-per-year",
        type=int,
        default=1_200_000,
        help="yearly dossier volume (default 1200000; a demo uses 60000)",
    )
    parser.add_argument("--config", type=str, default=None, help="rates file (default config/generator.yaml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    args = build_parser().parse_args(argv)
    config = load_generator_config(Path(args.config) if args.config else None)
    summary = generate(
        args.source_url, args.national_url, args.start, args.end, args.seed, args.dossiers_per_year, config
    )
    for table, count in sorted(summary.rows.items()):
        print(f"{table}: {count} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
