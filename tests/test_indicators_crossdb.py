"""SQLite and PostgreSQL give identical results, violations, scores and CSV bytes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from warehouse_builder import RUN_STARTED, Warehouse, populate_sample, sqlite_engine

from tthc.indicators.engine import compute_period
from tthc.indicators.export import export_period
from tthc.indicators.tables import ind_violations

M = "2025-03"


def _snapshot(wh: Warehouse, out_dir) -> dict:
    summary = compute_period(wh.engine, M, RUN_STARTED)
    v = ind_violations.c
    with wh.engine.connect() as conn:
        violations = sorted(conn.execute(
            sa.select(v.unit_code, v.indicator_code, v.item_type, v.item_id,
                      v.detail).where(v.period == M)).all())
    files = {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in export_period(wh.engine, M, out_dir)}
    return {"results": wh.results(M), "violations": violations, "files": files, "summary": summary}


@pytest.mark.postgres
def test_sqlite_and_postgresql_agree(tmp_path, pg_database):
    lite = Warehouse(sqlite_engine(tmp_path))
    populate_sample(lite)
    expected = _snapshot(lite, tmp_path / "sqlite")
    engine = sa.create_engine(pg_database)
    try:
        pg = Warehouse(engine)
        populate_sample(pg)
        got = _snapshot(pg, tmp_path / "postgres")
    finally:
        engine.dispose()
    # the sample is not trivial: every indicator has items somewhere, and some fail
    assert all(den > 0 for (unit, _), (_, den) in expected["results"].items() if unit == "H57")
    assert len(expected["violations"]) > 50
    assert got["results"] == expected["results"]
    assert got["violations"] == expected["violations"]
    assert got["files"] == expected["files"]
    # the run's summary counts what it wrote, on both drivers
    assert expected["summary"]["violations"] == len(expected["violations"])
    assert got["summary"] == expected["summary"]
