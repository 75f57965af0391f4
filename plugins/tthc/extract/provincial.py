"""Incremental extraction from the provincial replica (`tthc_source`, sources.md §1).

Per table: read the rows whose watermark column (`updated_at`, or `recorded_at` for the
append-only tables) is at or after watermark − overlap — plus rows whose watermark is NULL,
so that none is silently skipped — land them in the raw table, upsert them into
the staged table by primary key, log the load and advance the watermark, all in one
warehouse transaction. Personal-data columns are never selected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tthc.extract.timeparse import parse_date, parse_time
from tthc.quality import pending
from tthc.warehouse import schema as wh
from tthc.warehouse.db import (
    dialect_insert,
    indexes_built_after,
    insert_tuples,
    is_empty,
    refresh_statistics,
    row_converter,
    sqlite_storage,
)

log = logging.getLogger(__name__)

WATERMARK_COLUMN = {
    "units": "updated_at",
    "procedures": "updated_at",
    "dossiers": "updated_at",
    "dossier_events": "recorded_at",
    "apologies": "recorded_at",
    "payments": "updated_at",
    "procedure_announcements": "updated_at",
}
# Parents first: a night's events never arrive before the dossiers they belong to.
TABLE_ORDER = list(WATERMARK_COLUMN)
CHUNK_ROWS = 20_000


class SourceUnavailable(RuntimeError):
    """The replica cannot be read; nothing of this load was committed."""


@dataclass(frozen=True)
class LoadResult:
    stream: str
    lower_bound: dt.datetime | None
    upper_bound: dt.datetime
    rows: int


def _to_time(value):
    return value if isinstance(value, dt.datetime) else parse_time(value)


def _to_bool(value):
    return bool(value) if value in (0, 1, True, False) else None


def _coercion(column: sa.Column) -> Callable | None:
    """How a replica value becomes the staged type (SQLite hands back text and 0/1); None: as is."""
    kind = type(column.type)
    if kind is sa.DateTime:
        return _to_time
    if kind is sa.Date:
        return parse_date
    if kind is sa.Boolean:
        return _to_bool
    return None


# A SQLite replica into a SQLite warehouse: a value in the replica's own form is, as text, what
# the warehouse stores (a time gains SQLAlchemy's microseconds), so the replica's SQL vouches for
# it and converts it in C: parsing and formatting the times in Python were about a third of the
# events' load. A row holding any other value goes through the coercions, from the values as read.
def _sqlite_vouched(column: sa.Column, dialect) -> tuple[str | None, str] | None:
    """(condition under which the replica's value converts in SQL, its stored value), in SQLite's
    SQL; (None, name): stored as is; None: only the Python coercions can convert it.
    datetime()/date() with a modifier write a valid time as 'YYYY-MM-DD HH:MM:SS' / 'YYYY-MM-DD'
    (without one they echo 30 February or 24:00, which Python refuses; with one they roll them
    over), so a value they give back unchanged has that form and is valid. Python's years are 1
    to 9999, SQLite's also 0 and negative ones; the year is compared as text by substr(): the
    column's NUMERIC affinity would make '0001' the number 1."""
    name = dialect.identifier_preparer.quote(column.name)
    year = f"substr({name}, 1, 4) BETWEEN '0001' AND '9999'"
    kind = type(column.type)
    if kind is sa.DateTime:
        return f"datetime({name}, '+0 seconds') = {name} AND {year}", f"{name} || '.000000'"
    if kind is sa.Date:
        return f"date({name}, '+0 days') = {name} AND {year}", name
    if kind is sa.Boolean:
        return f"typeof({name}) = 'integer' AND {name} IN (0, 1)", name
    if column.type.dialect_impl(dialect).bind_processor(dialect) is None:
        return None, name
    return None


@dataclass(frozen=True)
class _StoredRead:
    """The SELECT of (vouched, load_id, *stored values, *values as read of the converted columns)."""
    sql: str
    width: int  # load_id and the values
    converted: tuple[int, ...]  # positions of the converted columns in (load_id, *values)

    def chunks(self, sconn: Connection, convert: Callable) -> Iterator[list[tuple]]:
        """Rows read by the DB-API cursor (SQLAlchemy's row objects cost a microsecond a row), as
        the warehouse stores them; a row the SQL did not vouch for goes through `convert`."""
        cursor = sconn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(self.sql)
            while chunk := cursor.fetchmany(CHUNK_ROWS):
                yield [r[1 : self.width + 1] if r[0] else convert(self._as_read(r)) for r in chunk]
        finally:
            cursor.close()

    def _as_read(self, r: tuple) -> list:
        row = list(r[1 : self.width + 1])
        for position, value in zip(self.converted, r[self.width + 1 :], strict=True):
            row[position] = value
        return row


def _sqlite_stored_read(staged: sa.Table, query: sa.Select, load_id: str, dialect) -> _StoredRead | None:
    """`query` read as _StoredRead; None when a column can only be converted in Python."""
    vouched = [_sqlite_vouched(c, dialect) for c in staged.columns]
    if None in vouched:
        return None
    names = [dialect.identifier_preparer.quote(c.name) for c in staged.columns]
    converted = [i for i, (cond, _) in enumerate(vouched) if cond]
    checks = " AND ".join(f"({names[i]} IS NULL OR {vouched[i][0]})" for i in converted)
    select = query.with_only_columns(
        sa.literal_column(f"CASE WHEN {checks} THEN 1 ELSE 0 END" if checks else "1"), sa.literal(load_id),
        *[sa.literal_column(stored) for _, stored in vouched],
        *[sa.literal_column(names[i]) for i in converted]).select_from(*query.get_final_froms())
    # literal binds: the watermark renders as SQLAlchemy binds it (its SQLite storage format)
    sql = str(select.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return _StoredRead(sql, 1 + len(names), tuple(1 + i for i in converted))


def _read_watermark(conn: Connection, stream: str) -> dt.datetime | None:
    return conn.execute(
        sa.select(wh.etl_watermarks.c.watermark).where(wh.etl_watermarks.c.stream == stream)
    ).scalar_one_or_none()


def _write_watermark(conn: Connection, stream: str, value: dt.datetime, now: dt.datetime) -> None:
    stmt = dialect_insert(conn, wh.etl_watermarks).values(stream=stream, watermark=value, updated_at=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["stream"],
                                            set_={"watermark": value, "updated_at": now}))


def extract_table(source: Engine, warehouse: Engine, table: str, run_key: str,
                  upper_bound: dt.datetime, overlap: dt.timedelta,
                  reread_from: dt.datetime | None = None) -> LoadResult:
    """Load one table's changes; `reread_from` re-reads from an earlier time (a corrected source)."""
    staged, raw = wh.PROVINCIAL_STAGED[table], wh.RAW[table]
    stream, wm_col = f"tthc_source.{table}", WATERMARK_COLUMN[table]
    load_id = f"{run_key}/{stream}"
    columns = [c.name for c in staged.columns]
    src = sa.table(table, *[sa.column(c) for c in columns])
    with warehouse.begin() as conn:
        watermark = _read_watermark(conn, stream)
        lower = watermark - overlap if watermark is not None else None
        if lower is not None and reread_from is not None:
            lower = min(lower, reread_from - overlap)
        # No upper limit on the read: a row stamped after `upper_bound` (committed during the
        # run, or dated in the future by a wrong clock) is staged now, for the quality gate to
        # judge, and read again next time, since the watermark stops at `upper_bound`.
        query = sa.select(*[src.c[c] for c in columns])
        if lower is not None:
            query = query.where(sa.or_(src.c[wm_col] >= lower, src.c[wm_col].is_(None)))
        conn.execute(sa.delete(raw))
        rows = 0
        coerced = row_converter([None] + [_coercion(c) for c in staged.columns])
        stored_read = (_sqlite_stored_read(staged, query, load_id, conn.dialect)
                       if source.dialect.name == conn.dialect.name == "sqlite" else None)
        try:
            with source.connect() as sconn:
                if stored_read is not None:
                    storage = sqlite_storage(raw, ["load_id", *columns], conn.dialect)
                    for chunk in stored_read.chunks(sconn, lambda r: storage(coerced(r))):
                        rows += insert_tuples(conn, raw, ["load_id", *columns], chunk, stored=True)
                else:
                    result = sconn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(query)
                    for chunk in result.partitions(CHUNK_ROWS):
                        rows += insert_tuples(conn, raw, ["load_id", *columns],
                                              (coerced((load_id, *r)) for r in chunk))
        except (sa.exc.SQLAlchemyError, source.dialect.loaded_dbapi.Error) as exc:
            raise SourceUnavailable(f"tthc_source: cannot read table '{table}': {exc.__class__.__name__}: "
                                    f"{str(exc).splitlines()[0]}") from exc
        keys = [c.name for c in staged.primary_key.columns]
        upsert = dialect_insert(conn, staged).from_select(
            columns, sa.select(*[raw.c[c] for c in columns]).where(raw.c.load_id == load_id))
        upsert = upsert.on_conflict_do_update(
            index_elements=keys, set_={c: upsert.excluded[c] for c in columns if c not in keys})
        # A first load fills the table: its indexes are built once from the rows, not row by row.
        with indexes_built_after(conn, staged) if is_empty(conn, staged) else contextlib.nullcontext():
            conn.execute(upsert)
        if lower is None:
            pending.note_whole_table(conn, staged)
        else:
            pending.note_rows_from(conn, staged, raw, raw.c.load_id == load_id)
        refresh_statistics(conn, staged, rows)
        now = dt.datetime.now()
        conn.execute(sa.delete(wh.etl_loads).where(wh.etl_loads.c.load_id == load_id))
        conn.execute(sa.insert(wh.etl_loads).values(
            load_id=load_id, stream=stream, run_key=run_key, lower_bound=lower, upper_bound=upper_bound,
            rows_read=rows, rows_staged=rows, rows_quarantined=0, committed_at=now))
        new_mark = max(upper_bound, watermark) if watermark is not None else upper_bound
        _write_watermark(conn, stream, new_mark, now)
    log.info("tthc_source.%s: %d rows from %s; watermark now %s", table, rows, lower, new_mark)
    return LoadResult(stream, lower, upper_bound, rows)


def extract_all(source: Engine, warehouse: Engine, run_key: str, upper_bound: dt.datetime,
                overlap: dt.timedelta, reread_from: dt.datetime | None = None) -> list[LoadResult]:
    wh.create_all(warehouse)
    return [extract_table(source, warehouse, t, run_key, upper_bound, overlap, reread_from) for t in TABLE_ORDER]
