"""PostgreSQL keeps the violations one partition per period; a rerun swaps the period's in.

An ind_violations an earlier version created unpartitioned becomes partitioned with its
rows; runs of the same period at once, and of another period beside them, all finish and
leave each period's rows equal to what its last run counted.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from warehouse_builder import RUN_STARTED, Warehouse, populate_sample

from tthc.indicators.engine import compute_period
from tthc.indicators.tables import ensure_tables, ind_violations, replace_violations

pytestmark = pytest.mark.postgres

OLD_DDL = ("CREATE TABLE ind_violations (period TEXT NOT NULL, unit_code TEXT NOT NULL, indicator_code TEXT NOT NULL, "
           "item_type TEXT NOT NULL, item_id TEXT NOT NULL, detail TEXT, "
           "CONSTRAINT ind_violations_pkey PRIMARY KEY (period, unit_code, indicator_code, item_id))")
OLD_ROWS = [("2025-02", "U1", "ON_TIME", "dossier", "D1", "finished after the due date"),
            ("2025-02", "U1", "ON_TIME", "dossier", "D2", None),
            ("2025-03", "U2", "DOSSIER_SYNC", "dossier", "D3", "not on the national portal")]


def _partitions(conn) -> dict[str, str]:
    rows = conn.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ind_violations'::regclass"))
    return dict(rows.all())


def _tables_named_like_violations(conn) -> set[str]:
    return set(conn.execute(sa.text("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                                    "AND relname LIKE 'ind_violations%'")).scalars())


def _violations(conn) -> list[tuple]:
    return sorted(conn.execute(sa.select(ind_violations)).all(), key=lambda r: (r[0], r[1], r[2], r[4]))


def test_an_unpartitioned_table_becomes_one_partition_per_period_with_its_rows(pg_database):
    engine = sa.create_engine(pg_database)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(OLD_DDL)
            conn.execute(sa.text("INSERT INTO ind_violations VALUES (:p, :u, :i, :t, :id, :d)"),
                         [dict(zip(["p", "u", "i", "t", "id", "d"], row, strict=True)) for row in OLD_ROWS])
        ensure_tables(engine)
        ensure_tables(engine)  # and again: nothing left to do
        with engine.connect() as conn:
            kind = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE relname = 'ind_violations'")).scalar()
            assert kind == "p"
            assert _partitions(conn) == {"ind_violations_2025_02": "FOR VALUES IN ('2025-02')",
                                         "ind_violations_2025_03": "FOR VALUES IN ('2025-03')"}
            assert _violations(conn) == sorted(OLD_ROWS, key=lambda r: (r[0], r[1], r[2], r[4]))
            assert _tables_named_like_violations(conn) == {"ind_violations", "ind_violations_2025_02",
                                                           "ind_violations_2025_03"}

        # replacing one period leaves the other's partition as it was
        new_rows = sa.select(*(sa.literal(v, sa.Text).label(c.name) for v, c in zip(
            ("2025-03", "U9", "ON_TIME", "dossier", "D9", "open at period end, past the due date"),
            ind_violations.columns, strict=True)))
        with engine.begin() as conn:
            assert replace_violations(conn, "2025-03", new_rows) == 1
        with engine.connect() as conn:
            assert _violations(conn) == [*OLD_ROWS[:2],
                                         ("2025-03", "U9", "ON_TIME", "dossier", "D9",
                                          "open at period end, past the due date")]
            assert _tables_named_like_violations(conn) == {"ind_violations", "ind_violations_2025_02",
                                                           "ind_violations_2025_03"}
        # the key holds on the swapped-in partition
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(ind_violations), [dict(zip(
                ["period", "unit_code", "indicator_code", "item_type", "item_id", "detail"],
                ("2025-03", "U9", "ON_TIME", "dossier", "D9", "again"), strict=True))])
    finally:
        engine.dispose()


def _waiting_on_locks(conn) -> int:
    return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock'")).scalar_one()


def test_first_runs_of_one_period_at_once_and_another_beside_them_all_finish(pg_database):
    engine = sa.create_engine(pg_database, pool_size=6)
    try:
        wh = Warehouse(engine)
        populate_sample(wh)
        periods = ("2025-03", "2025-03", "2025-02")
        summaries, errors = [], []

        def run(period: str) -> None:
            try:
                summaries.append(compute_period(engine, period, RUN_STARTED))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        # Hold the runs' writes until all three wait (one of each period at the swap's lock,
        # the other 2025-03 run behind its period's lock): no run has written the period
        # before, so no row lock makes the runs of one period wait for one another.
        with engine.connect() as holder, engine.connect() as observer:
            holder.exec_driver_sql("LOCK TABLE ind_violations IN ACCESS EXCLUSIVE MODE")
            threads = [threading.Thread(target=run, args=(p,)) for p in periods]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 120
            while _waiting_on_locks(observer) < len(periods) and time.monotonic() < deadline and not errors:
                observer.rollback()
                time.sleep(0.05)
            waiting = _waiting_on_locks(observer)
            holder.commit()
        for t in threads:
            t.join(timeout=300)
        assert waiting == len(periods), f"runs waiting on locks: {waiting}; runs that failed: {errors!r}"
        assert errors == []
        v = ind_violations.c
        with engine.connect() as conn:
            counted = dict(conn.execute(sa.select(v.period, sa.func.count()).group_by(v.period)).all())
            assert sorted((s["period"], s["violations"]) for s in summaries) == sorted(
                (p, counted.get(p, 0)) for p in periods)
            assert set(_partitions(conn)) == {"ind_violations_2025_02", "ind_violations_2025_03"}
            assert _tables_named_like_violations(conn) == {"ind_violations", *_partitions(conn)}
        # and a run alone gives the same rows
        assert compute_period(engine, "2025-03", RUN_STARTED)["violations"] == counted["2025-03"] > 50
    finally:
        engine.dispose()
