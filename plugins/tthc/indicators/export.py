"""The period's CSV files (outputs.md): indicators.csv, unit_scores.csv, violations/<unit>.csv.

UTF-8 without BOM, LF, a header row, quoted only where RFC 4180 requires; integers without a
decimal point; value, g1–g6 and total with 6 decimals rounded half-up; empty = none. Rows
sorted by unit code (H57 last), then in the order of indicators.md. Byte-for-byte the same
for the same warehouse state.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc.indicators.catalogue import PROVINCE_CODE, load_catalogue
from tthc.indicators.scoring import round_half_up
from tthc.indicators.tables import ind_results, ind_unit_scores, ind_violations

DECIMALS = 6
INDICATOR_HEADER = ["period", "unit_code", "indicator_code", "numerator", "denominator", "value"]
SCORE_HEADER = ["period", "unit_code", "unit_name", "tier", "g1", "g2", "g3", "g4", "g5", "g6",
                "total", "band", "rank"]
VIOLATION_HEADER = ["indicator_code", "item_type", "item_id", "detail"]


def unit_order(unit_code: str) -> tuple[bool, str]:
    """Units by code, the province (H57) last."""
    return (unit_code == PROVINCE_CODE, unit_code)


def decimal6(x: float | Fraction | None) -> str:
    return "" if x is None else f"{round_half_up(x, DECIMALS):f}"


def csv_text(header: list[str], rows: list) -> str:
    """The rows as CSV; None is an empty cell, other values as str() gives them (the csv module's own rules)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def indicator_rows(engine: Engine, period: str) -> list[list]:
    order = load_catalogue().order()
    r = ind_results.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.period, r.unit_code, r.indicator_code, r.numerator, r.denominator)
            .where(r.period == period)
        ).all()
    rows = sorted(rows, key=lambda x: (unit_order(x.unit_code), order.get(x.indicator_code, len(order))))
    return [
        [x.period, x.unit_code, x.indicator_code, int(x.numerator), int(x.denominator),
         decimal6(Fraction(int(x.numerator), int(x.denominator)) if x.denominator else None)]
        for x in rows
    ]


def score_rows(engine: Engine, period: str) -> list[list]:
    s = ind_unit_scores.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ind_unit_scores).where(s.period == period)).all()
    rows = sorted(rows, key=lambda x: unit_order(x.unit_code))
    return [
        [x.period, x.unit_code, x.unit_name, x.tier, *(decimal6(getattr(x, f"g{g}")) for g in range(1, 7)),
         decimal6(x.total), x.band, x.rank]
        for x in rows
    ]


def violation_rows(engine: Engine, period: str) -> dict[str, list[tuple]]:
    """Each active unit's failed items, by indicator order then item id (empty list when none);
    `detail` is the reason in Vietnamese, as the catalogue words the stored reason code."""
    cat = load_catalogue()
    order = cat.order()
    s, v = ind_unit_scores.c, ind_violations.c
    with engine.connect() as conn:
        units = conn.execute(
            sa.select(s.unit_code).where(s.period == period, s.unit_code != PROVINCE_CODE)
        ).scalars().all()
        rows = conn.execute(
            sa.select(v.unit_code, v.indicator_code, v.item_type, v.item_id,
                      v.detail).where(v.period == period)
        ).all()
    # a province-month has a few hundred thousand failed items and a few dozen (code, reason)
    # pairs: each pair worded once, and the rows sorted as plain tuples (the key leads them)
    texts: dict[tuple[str, str | None], str] = {}
    keyed = sorted((order.get(code, len(order)), item_id, unit, code, item_type, reason)
                   for unit, code, item_type, item_id, reason in rows)
    out: dict[str, list[tuple]] = {u: [] for u in units}
    for _, item_id, unit, code, item_type, reason in keyed:
        text = texts.get((code, reason))
        if text is None:
            text = texts[(code, reason)] = cat.reason_text(code, reason)
        out.setdefault(unit, []).append((code, item_type, item_id, text))
    return out


def export_period(engine: Engine, period: str, out_dir: Path) -> list[Path]:
    """Write indicators.csv, unit_scores.csv and violations/<unit_code>.csv for `period`."""
    out_dir = Path(out_dir)
    written = [
        _write(out_dir / "indicators.csv", csv_text(INDICATOR_HEADER, indicator_rows(engine, period))),
        _write(out_dir / "unit_scores.csv", csv_text(SCORE_HEADER, score_rows(engine, period))),
    ]
    for unit, rows in sorted(violation_rows(engine, period).items()):
        written.append(_write(out_dir / "violations" / f"{unit}.csv", csv_text(VIOLATION_HEADER, rows)))
    return written
