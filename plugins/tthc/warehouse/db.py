"""Engines and the few write patterns the warehouse uses, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine


@functools.cache
def engine_for_url(url: str) -> Engine:
    """One engine per URL per process; SQLite waits on locks instead of failing at once."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 120})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001 - DB-API objects
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args=_connect_timeout(url))


def _connect_timeout(url: str) -> dict:
    """A server that does not answer is an error in seconds, not after the OS's TCP timeout."""
    return {"connect_timeout": 10} if sa.make_url(url).get_backend_name() == "postgresql" else {}


class SourceMissing(RuntimeError):
    """The source database the connection names does not exist."""


@functools.cache
def source_engine(url: str) -> Engine:
    """An engine that can only read the source (sources.md: we do not own it).

    SQLite opens the file read-only (`mode=ro`), so a wrong path is an error naming it and no
    empty database is created there; PostgreSQL sessions are read-only transactions.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise SourceMissing(f"connection 'tthc_source': no SQLite database at {path!r}; "
                                "set AIRFLOW_CONN_TTHC_SOURCE to the replica's path")
        ro = parsed.set(database=f"file:{Path(path).resolve()}?mode=ro", query={"uri": "true"})
        return sa.create_engine(ro)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args={
            "options": "-c default_transaction_read_only=on", **_connect_timeout(url)})
    return sa.create_engine(parsed, pool_pre_ping=True)


def dialect_insert(conn: Connection, table: sa.Table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def upsert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict], batch: int = 5000) -> int:
    """Insert or replace rows by the table's primary key."""
    if not rows:
        return 0
    keys = [c.name for c in table.primary_key.columns]
    for i in range(0, len(rows), batch):
        stmt = dialect_insert(conn, table)
        update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update) if update else \
            stmt.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt, list(rows[i : i + batch]))
    return len(rows)


def insert_rows(conn: Connection, table: sa.Table, rows: Iterable[dict], batch: int = 5000,
                statement: sa.Insert | None = None) -> int:
    """Insert rows given as dicts, by `statement` (default a plain INSERT into `table`)."""
    statement = sa.insert(table) if statement is None else statement
    count = 0
    for chunk in _chunks(rows, batch):
        conn.execute(statement, chunk)
        count += len(chunk)
    return count


def row_converter(converters: Sequence[Callable | None]) -> Callable[[Sequence], tuple]:
    """A row's values through each column's converter (None: as is); a NULL stays NULL."""
    applied = [(i, f) for i, f in enumerate(converters) if f is not None]

    def convert(row: Sequence) -> tuple:
        values = list(row)
        for i, f in applied:
            if values[i] is not None:
                values[i] = f(values[i])
        return tuple(values)

    return convert


def _sqlite_bind(column: sa.Column, dialect) -> Callable | None:
    """SQLAlchemy's own conversion of a value to what SQLite stores, except for a datetime, which
    takes the C `isoformat` of exactly SQLAlchemy's storage format (YYYY-MM-DD HH:MM:SS.ffffff):
    its Python formatter was a fifth of a replica load's CPU."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(column.type, sa.DateTime):
        return process
    return lambda v: v.isoformat(" ", "microseconds") if type(v) is dt.datetime else process(v)


def sqlite_storage(table: sa.Table, columns: Sequence[str], dialect) -> Callable[[Sequence], tuple]:
    """A row's values (tuples in `columns`' order) as SQLite stores them, converted as SQLAlchemy would."""
    return row_converter([_sqlite_bind(table.c[c], dialect) for c in columns])


def insert_tuples(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence],
                  batch: int = 5000, statement: sa.Insert | None = None, stored: bool = False) -> int:
    """Insert rows given as tuples in `columns`' order, by `statement` (an upsert, say; default a
    plain INSERT into `table`). On SQLite they go to the DB-API's executemany with each value
    converted once, as SQLAlchemy would (`stored`: the rows hold SQLite's storage form already):
    its per-row parameter handling cost three times SQLite's own work on a province-year's
    6.8 million events. PostgreSQL's driver needs SQLAlchemy's batching (psycopg2's executemany
    is one statement a row)."""
    if conn.dialect.name != "sqlite":
        if stored:
            raise ValueError(f"insert_tuples: {table.name}: rows in SQLite's storage form go to SQLite only")
        return insert_rows(conn, table, (dict(zip(columns, row, strict=True)) for row in rows), batch, statement)
    statement = sa.insert(table) if statement is None else statement
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
    if list(compiled.positiontup) != list(columns):  # a statement with binds of its own
        raise ValueError(f"insert_tuples: {table.name}: the statement's parameters are "
                         f"{compiled.positiontup}, not the columns {list(columns)}")
    if not stored:
        rows = map(sqlite_storage(table, columns, conn.dialect), rows)
    count = 0
    for chunk in _chunks(rows, batch):
        conn.exec_driver_sql(str(compiled), chunk)
        count += len(chunk)
    return count


def _chunks(items: Iterable, size: int) -> Iterable[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _secondary_indexes(conn: Connection, table: sa.Table) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes in the database — whichever module
    declared them — but not the key's."""
    if conn.dialect.name == "sqlite":
        return list(conn.exec_driver_sql(  # the key's automatic index has no SQL
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table.name,)).all())
    return list(conn.execute(sa.text(
        "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE x.indrelid = CAST(:t AS regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"), {"t": table.name}).all())


@contextlib.contextmanager
def indexes_built_after(conn: Connection, table: sa.Table) -> Iterator[None]:
    """Around a bulk load into an empty table: its secondary indexes dropped, and created again
    from the loaded rows, in the caller's transaction (a failed load rolls the drop back too).
    One sort per index instead of millions of inserts at random places in it (PostgreSQL's manual
    gives the same advice for a bulk load): a province-year's 6.8 million events went into their
    SQLite table and its two indexes, committed, in 14.4 s instead of 24.9 s."""
    indexes = _secondary_indexes(conn, table)
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {conn.dialect.identifier_preparer.quote(name)}")
    yield
    for _, create in indexes:
        conn.exec_driver_sql(create)


def is_empty(conn: Connection, table: sa.Table) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None


def refresh_statistics(conn: Connection, table: sa.Table, rows_loaded: int) -> None:
    """PostgreSQL: ANALYZE a table that a load changed by a tenth or more, or that was never
    analysed — autovacuum's own rule, without its delay. The indicators run minutes after the
    loads, and a plan made on a freshly loaded table's empty statistics (1 row estimated) can
    nest loops over 100,000 rows. SQLite: nothing (its planner needs no statistics here)."""
    if conn.dialect.name != "postgresql":
        return
    estimated = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                             {"t": table.name}).scalar_one()
    if estimated < 0 or rows_loaded >= 0.1 * estimated:
        conn.exec_driver_sql(f"ANALYZE {table.name}")
