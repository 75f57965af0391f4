"""The provincial replica's DDL (sources.md §1), for the generator and the tests.

The DDL lives in include/sql/source/{postgres,sqlite}.sql; tests check both files against the
contract (tthc.extract.contract).
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tthc.extract.contract import SOURCE_COLUMNS
from tthc.paths import SQL_DIR


def ddl_path(dialect: str):
    """The DDL file for a SQLAlchemy dialect name ('postgresql' or 'sqlite')."""
    files = {"postgresql": "postgres.sql", "sqlite": "sqlite.sql"}
    if dialect not in files:
        raise ValueError(f"no replica DDL for database dialect '{dialect}' (PostgreSQL or SQLite only)")
    return SQL_DIR / "source" / files[dialect]


def ddl_statements(dialect: str) -> list[str]:
    """The CREATE TABLE statements of a dialect's DDL file, comments stripped."""
    lines = [line.split("--", 1)[0] for line in ddl_path(dialect).read_text(encoding="utf-8").splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def create_source_schema(url_or_engine: str | Engine) -> Engine:
    """Create the replica's tables (if absent) in the database at `url_or_engine`; returns the engine."""
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with engine.begin() as conn:
        for statement in ddl_statements(engine.dialect.name):
            conn.execute(text(statement))
    return engine


def drop_source_schema(engine: Engine) -> None:
    """Drop the replica's tables (the generator's clean replace); other tables are left alone."""
    with engine.begin() as conn:
        for table in SOURCE_COLUMNS:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
