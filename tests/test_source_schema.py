"""The replica's DDL follows sources.md §1: table and column names, order and types."""

from __future__ import annotations

import re
import uuid

import psycopg2
import pytest
import sqlalchemy as sa

from tthc.extract.contract import SOURCE_COLUMNS
from tthc.paths import REPO_ROOT
from tthc.sim.source_schema import create_source_schema

SPEC = REPO_ROOT.parent / "shared" / "spec" / "sources.md"
# How each contract type is declared on each database.
SQLITE_TYPES = {
    "text": "TEXT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "numeric": "NUMERIC",
}
PG_TYPES = {
    "text": "text",
    "date": "date",
    "timestamp": "timestamp without time zone",
    "boolean": "boolean",
    "smallint": "smallint",
    "bigint": "bigint",
    "integer": "integer",
    "numeric": "numeric",
}


def spec_tables() -> dict[str, list[tuple[str, str]]]:
    """Column tables of sources.md §1 as (column, contract type); 'text PK', 'date null' → base type."""
    section = SPEC.read_text(encoding="utf-8").split("## 1.")[1].split("## 2.")[0]
    tables = {}
    for block in re.split(r"\n### ", section)[1:]:
        name = block.split()[0]
        rows = re.findall(r"^\| (\w+) \| ([\w ]+?) \|", block, flags=re.M)
        tables[name] = [(col, kind.split()[0]) for col, kind in rows if col != "column"]
    return tables


@pytest.mark.skipif(not SPEC.exists(), reason="the shared spec is not next to this checkout")
def test_source_columns_restate_the_spec_tables():
    assert spec_tables() == {t: list(cols) for t, cols in SOURCE_COLUMNS.items()}


def test_sqlite_ddl_matches_the_contract(tmp_path):
    engine = create_source_schema(f"sqlite:///{tmp_path / 'replica.db'}")
    create_source_schema(engine)  # a second run changes nothing
    with engine.connect() as conn:
        for table, columns in SOURCE_COLUMNS.items():
            info = conn.exec_driver_sql(f"PRAGMA table_info({table})").all()
            assert [(r[1], r[2]) for r in info] == [(c, SQLITE_TYPES[k]) for c, k in columns], table
            assert [r[1] for r in info if r[5]] == [columns[0][0]], (
                f"{table}: primary key is the first column"
            )


def test_sqlite_ddl_keeps_dirty_rows_but_only_0_1_booleans(tmp_path):
    engine = create_source_schema(f"sqlite:///{tmp_path / 'replica.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO dossiers (dossier_code, unit_code, status, channel, inputs_digitized) "
            "VALUES ('X-1', '000.99.99.H57', NULL, 9, NULL)"
        )
        assert conn.exec_driver_sql("SELECT count(*) FROM dossiers WHERE status IS NULL").scalar() == 1
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO dossiers (dossier_code, inputs_digitized) VALUES ('X-2', 2)")


@pytest.fixture(scope="module")
def pg_url():
    name = f"tthc_src_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def test_postgres_ddl_matches_the_contract(pg_url):
    engine = create_source_schema(pg_url)
    create_source_schema(engine)
    with engine.connect() as conn:
        for table, columns in SOURCE_COLUMNS.items():
            rows = conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = :t ORDER BY ordinal_position"
                ),
                {"t": table},
            ).all()
            assert [tuple(r) for r in rows] == [(c, PG_TYPES[k]) for c, k in columns], table
        pk = (
            conn.execute(
                sa.text(
                    "SELECT kcu.column_name FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu USING (constraint_name) "
                    "WHERE tc.table_name = 'dossier_events' AND tc.constraint_type = 'PRIMARY KEY'"
                )
            )
            .scalars()
            .all()
        )
        assert pk == ["event_id"]
    engine.dispose()
