"""The warehouse schema: a warehouse created by an earlier version gets today's indexes; rows written
through insert_tuples' fast path are stored as SQLAlchemy stores them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tthc.warehouse import schema as wh


def test_an_existing_warehouse_gets_new_indexes_and_loses_retired_ones(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.begin() as conn:  # the events table as an earlier version created it
        conn.exec_driver_sql("CREATE TABLE stg_dossier_events (event_id BIGINT PRIMARY KEY, dossier_code TEXT, "
                             "event_type TEXT, occurred_at DATETIME, unit_code TEXT, recorded_at DATETIME)")
        conn.exec_driver_sql("CREATE INDEX ix_stg_dossier_events_dossier "
                             "ON stg_dossier_events (dossier_code, event_type, occurred_at)")
    wh.create_all(engine)
    wh.create_all(engine)  # and again: nothing left to do
    indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("stg_dossier_events")}
    # (the indicator engine's own indexes on the table join these once it is imported)
    assert indexes["ix_stg_dossier_events_key"] == ["dossier_code", "event_type", "occurred_at", "event_id"]
    assert "ix_stg_dossier_events_dossier" not in indexes
    assert "stg_dossiers" in sa.inspect(engine).get_table_names()


def rows_table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(name, metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime),
                    sa.Column("day", sa.Date), sa.Column("flag", sa.Boolean), sa.Column("note", sa.Text))


ROWS_METADATA = sa.MetaData()
ROWS_TABLE, ROWS_TWIN = rows_table("rows_written", ROWS_METADATA), rows_table("rows_twin", ROWS_METADATA)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1000, 1, 1))),
                          st.one_of(st.none(), st.dates()), st.one_of(st.none(), st.booleans()),
                          st.one_of(st.none(), st.text(max_size=5))), min_size=1, max_size=8))
def test_tuples_are_stored_exactly_as_sqlalchemy_stores_them(rows):
    """insert_tuples' own path on SQLite writes the very text SQLAlchemy writes (the SQL compares
    stored times as text: '… 08:00:00' and '… 08:00:00.000000' would not be equal)."""
    from tthc.warehouse.db import insert_tuples

    engine = sa.create_engine("sqlite://")  # a fresh in-memory database per example
    ROWS_METADATA.create_all(engine)
    columns = ["id", "at", "day", "flag", "note"]
    numbered = [(i, *row) for i, row in enumerate(rows)]
    with engine.begin() as conn:
        assert insert_tuples(conn, ROWS_TABLE, columns, numbered, batch=3) == len(rows)
        conn.execute(sa.insert(ROWS_TWIN), [dict(zip(columns, row, strict=True)) for row in numbered])
        stored = conn.exec_driver_sql("SELECT id, at, day, flag, note FROM rows_written ORDER BY id").all()
        expected = conn.exec_driver_sql("SELECT id, at, day, flag, note FROM rows_twin ORDER BY id").all()
        assert stored == expected
        assert conn.execute(sa.select(ROWS_TABLE).order_by(ROWS_TABLE.c.id)).all() == numbered  # read back
    engine.dispose()


def test_tuples_go_through_sqlalchemy_on_postgresql(pg_database):
    from tthc.warehouse.db import insert_tuples

    engine = sa.create_engine(pg_database)
    ROWS_METADATA.create_all(engine, tables=[ROWS_TABLE])
    rows = [(1, dt.datetime(2025, 1, 2, 8), dt.date(2025, 1, 2), True, "a"), (2, None, None, None, None)]
    with engine.begin() as conn:
        assert insert_tuples(conn, ROWS_TABLE, ["id", "at", "day", "flag", "note"], rows) == 2
        assert conn.execute(sa.select(ROWS_TABLE).order_by(ROWS_TABLE.c.id)).all() == rows
    engine.dispose()
