"""The warehouse schema: a warehouse created by an earlier version gets today's indexes."""

from __future__ import annotations

import sqlalchemy as sa

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
