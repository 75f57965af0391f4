"""The indicator engine's warehouse tables (SQLAlchemy Core), views and working-day table.

Result tables are keyed by (period, unit, indicator): a rerun of a period replaces that
period's rows in one transaction and keeps other periods' history for trends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.engine import Connection, Engine

from tthc.calendar import WorkingCalendar, calendar_rows
from tthc.indicators.catalogue import INDICATOR_SQL_DIR
from tthc.warehouse import schema as staged
from tthc.warehouse.db import upsert_rows

metadata = MetaData()

# One row per (period, active unit or H57, indicator that can apply to the unit's tier).
ind_results = Table(
    "ind_results", metadata,
    Column("period", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("indicator_code", Text, nullable=False),
    Column("numerator", BigInteger, nullable=False),
    Column("denominator", BigInteger, nullable=False),
    Column("value", Float),    # numerator / denominator; NULL when the denominator is 0
    Column("points", Float),   # index indicators that apply (group 4: see ind_unit_scores.g4)
    PrimaryKeyConstraint("period", "unit_code", "indicator_code"),
)

# One row per (period, active unit), then H57. g1..g6 NULL where the group does not apply;
# total, band and rank NULL when the unit is not scored (no ON_TIME dossier); rank NULL for H57.
ind_unit_scores = Table(
    "ind_unit_scores", metadata,
    Column("period", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("unit_name", Text),
    Column("tier", Text),
    *(Column(f"g{g}", Float) for g in range(1, 7)),
    Column("total", Float),
    Column("band", Text),
    Column("rank", Integer),
    Column("scored", Boolean, nullable=False),
    Column("points_earned", Float, nullable=False),      # Σ points over applicable indicators
    Column("points_applicable", Float, nullable=False),  # Σ max points over the same
    Column("computed_at", DateTime(timezone=False), nullable=False),
    PrimaryKeyConstraint("period", "unit_code"),
)

# Every failed item of an active unit, once per indicator or duty code (outputs.md).
# PostgreSQL keeps one partition per period (ind_violations_YYYY_MM): a rerun writes the
# period into a fresh table, indexes it once and swaps it in (replace_violations), instead
# of updating the key's b-tree row by row beside the dead rows of the run before.
ind_violations = Table(
    "ind_violations", metadata,
    Column("period", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("indicator_code", Text, nullable=False),
    Column("item_type", Text, nullable=False),
    Column("item_id", Text, nullable=False),
    Column("detail", Text),  # the reason code; its Vietnamese text is the catalogue's (`reasons`)
    PrimaryKeyConstraint("period", "unit_code", "indicator_code", "item_id"),
    # SQLite: one b-tree, the key's, instead of a rowid table plus its key index; a rerun
    # deletes and writes a few hundred thousand rows per province-month (half the time).
    sqlite_with_rowid=False,
    postgresql_partition_by="LIST (period)",
)
VIOLATION_KEY = ("period", "unit_code", "indicator_code", "item_id")

# The working calendar as a table, for day arithmetic in SQL. working_day_seq counts working
# days from the calendar's first day, so it is stable whatever range a run refreshes:
# the n-th working day after d has seq(d) + n; day_number (the proleptic ordinal) makes
# "d + n calendar days" a join on day_number + n.
cal_days = Table(
    "cal_days", metadata,
    Column("day", Date, primary_key=True),
    Column("is_working", Boolean, nullable=False),
    Column("working_day_seq", Integer, nullable=False),
    Column("day_number", Integer, nullable=False, index=True),
)

# Which version of the views (a digest of their SQL) the warehouse holds.
ind_meta = Table(
    "ind_meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

VIEW_DIR = INDICATOR_SQL_DIR / "views"
VIEWS_KEY = "views_sha256"

# Lookups the indicator SQL makes on staged tables by a column that is not their key and
# that the staged schema does not index (it indexes events, payments and apologies by
# dossier): feedback naming another feedback or a dossier, dossiers by receipt time; and
# the period's scope (run/period_scope.sql), one range per condition, each index holding
# the dossier code so that the scope never reads the tables' rows.
_d, _e, _p = staged.stg_dossiers.c, staged.stg_dossier_events.c, staged.stg_payments.c
STAGED_INDEXES = [
    Index("ix_ind_feedback_repeat_of", staged.stg_feedback.c.repeat_of),
    Index("ix_ind_feedback_dossier", staged.stg_feedback.c.dossier_code),
    Index("ix_ind_dossiers_received_at", _d.received_at),
    Index("ix_ind_scope_completed", _d.completed_at, _d.received_at, _d.dossier_code),
    Index("ix_ind_scope_returned", _d.returned_at, _d.dossier_code),
    Index("ix_ind_scope_submitted", _d.submitted_at, _d.dossier_code),
    Index("ix_ind_scope_paid", _p.paid_at, _p.dossier_code),
    Index("ix_ind_scope_event_time", _e.event_type, _e.occurred_at, _e.dossier_code),
]


def view_files() -> list:
    """The views' SQL files in creation order (each creates the view named after it)."""
    return sorted(VIEW_DIR.glob("*.sql"))


def _view_name(path) -> str:
    return path.stem.split("_", 1)[1]


def views_digest() -> str:
    digest = hashlib.sha256()
    for path in view_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_tables(engine: Engine) -> None:
    """Create the result tables, cal_days and the lookup indexes if missing, and the views.

    Views are (re)created only when their SQL changed, so that concurrent runs of different
    periods never drop a view another run is reading. On PostgreSQL an ind_violations created
    before its partitions is converted first (partition_violations).
    """
    staged.create_all(engine)  # the views read them; a no-op where they exist
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # one DDL pass at a time (as staged.create_all): parallel first runs race on the catalog
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(staged.SCHEMA_LOCK_ID)))
            partition_violations(conn)
        metadata.create_all(conn)
    for index in STAGED_INDEXES:
        index.create(engine, checkfirst=True)
    files, digest = view_files(), views_digest()
    with engine.begin() as conn:
        stored = conn.execute(sa.select(ind_meta.c.value).where(ind_meta.c.key == VIEWS_KEY)).scalar()
        present = set(sa.inspect(conn).get_view_names())
        if stored == digest and all(_view_name(p) in present for p in files):
            return
        for path in reversed(files):
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {_view_name(path)}")
        for path in files:
            conn.exec_driver_sql(path.read_text(encoding="utf-8"))
        upsert_rows(conn, ind_meta, [{"key": VIEWS_KEY, "value": digest}])


def refresh_cal_days(conn: Connection, cal: WorkingCalendar, first: dt.date, last: dt.date) -> int:
    """Write cal_days for [first, last] (clipped to the calendar), numbered from the calendar's start."""
    first, last = max(first, cal.first_day), min(last, cal.last_day)
    rows = [
        {**row, "day_number": row["day"].toordinal()}
        for row in calendar_rows(cal, cal.first_day, last)
        if row["day"] >= first
    ]
    return upsert_rows(conn, cal_days, rows)


# Advisory lock class of a period's write (the period, as YYYYMM, is the second key).
PERIOD_WRITE_LOCK = 0x74746863


def lock_period(conn: Connection, period: str) -> None:
    """Until the transaction ends, the only writer of the period's results (PostgreSQL).

    Runs of one period that has no rows yet would otherwise both find nothing to delete and
    collide on the keys. SQLite lets one writer in at a time anyway.
    """
    if conn.dialect.name == "postgresql":
        yyyymm = int(_checked(period).replace("-", ""))
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PERIOD_WRITE_LOCK, yyyymm)))


def _checked(period: str) -> str:
    """The period code, which goes into table names and DDL, checked to be YYYY-MM."""
    if not re.fullmatch(r"\d{4}-\d{2}", period):
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return period


def delete_period_scores(conn: Connection, period: str) -> None:
    """The period's results and unit scores (its violations: replace_violations)."""
    for table in (ind_results, ind_unit_scores):
        conn.execute(sa.delete(table).where(table.c.period == period))


# --- violations, one PostgreSQL partition per period --------------------------------------
def violations_partition(period: str) -> str:
    return f"{ind_violations.name}_{_checked(period).replace('-', '_')}"


def replace_violations(conn: Connection, period: str, failed: sa.Select) -> int:
    """Replace the period's violations with the rows of `failed` (ind_violations' columns, in
    order and by name).

    Inside the caller's transaction. SQLite: delete and insert. PostgreSQL: the rows go into a
    fresh table whose key is built once, after the insert; the table then takes the place of
    the period's partition under a short exclusive lock on ind_violations (readers of other
    periods wait that long). Returns the number of rows written.
    """
    columns = [c.name for c in ind_violations.columns]
    if conn.dialect.name != "postgresql":
        conn.execute(sa.delete(ind_violations).where(ind_violations.c.period == period))
        # in key order: appending to the key's b-tree is several times cheaper than random inserts
        ordered = failed.order_by(*(failed.selected_columns[k] for k in VIOLATION_KEY[1:]))
        return conn.execute(sa.insert(ind_violations).from_select(columns, ordered)).rowcount
    partition = violations_partition(period)
    fresh = f"{partition}_new"
    # CREATE TABLE AS writes in bulk (about half the time of INSERT … SELECT), and reads no
    # lock on ind_violations before the exclusive one below (a weaker lock upgraded later
    # could deadlock two runs). Then one ALTER gives the table the parent's NOT NULLs, a check
    # that lets ATTACH PARTITION skip scanning it, and the key, built once after the rows.
    compiled = failed.compile(dialect=conn.dialect)
    written = conn.exec_driver_sql(f"CREATE TABLE {fresh} AS {compiled}", compiled.params).rowcount
    required = [f"ALTER COLUMN {c.name} SET NOT NULL" for c in ind_violations.columns if not c.nullable]
    conn.exec_driver_sql(f"ALTER TABLE {fresh} {', '.join(required)}, "
                         f"ADD CONSTRAINT {ind_violations.name}_one_period CHECK (period = '{period}'), "
                         f"ADD CONSTRAINT {fresh}_pkey PRIMARY KEY ({', '.join(VIOLATION_KEY)})")
    conn.exec_driver_sql(f"LOCK TABLE {ind_violations.name} IN ACCESS EXCLUSIVE MODE")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {partition}")
    conn.exec_driver_sql(f"ALTER TABLE {fresh} RENAME TO {partition}")
    conn.exec_driver_sql(f"ALTER INDEX {fresh}_pkey RENAME TO {partition}_pkey")
    conn.exec_driver_sql(f"ALTER TABLE {ind_violations.name} ATTACH PARTITION {partition} "
                         f"FOR VALUES IN ('{period}')")
    return written


def partition_violations(conn: Connection) -> None:
    """PostgreSQL: turn an ind_violations created unpartitioned (before partitions) into one
    partition per period, its rows kept. Nothing to do where it is partitioned or absent."""
    kind = conn.execute(sa.text("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE c.relname = :name AND n.nspname = current_schema()"),
                        {"name": ind_violations.name}).scalar()
    if kind != "r":
        return
    old = f"{ind_violations.name}_unpartitioned"
    conn.exec_driver_sql(f"ALTER TABLE {ind_violations.name} RENAME TO {old}")
    conn.exec_driver_sql(f"ALTER INDEX IF EXISTS {ind_violations.name}_pkey RENAME TO {old}_pkey")
    ind_violations.create(conn)
    source = sa.table(old, *(sa.column(c.name) for c in ind_violations.columns))
    for period in conn.execute(sa.select(source.c.period).distinct().order_by(source.c.period)).scalars().all():
        replace_violations(conn, period, sa.select(*source.c).where(source.c.period == period))
    conn.exec_driver_sql(f"DROP TABLE {old}")


# --- per-run working tables ------------------------------------------------------------
# A run materialises each view once, as a temporary table of the view's own name: SQLite
# and PostgreSQL both resolve an unqualified name to the connection's temporary table
# before the permanent view, so every indicator's SQL reads the same definition whether it
# runs alone or in a run, and the run scans the staged tables once instead of once per
# indicator. Temporary tables are private to the run's connection.
SCOPE_VIEW = "ind_v_scope"
PERIOD_SCOPE_SQL = INDICATOR_SQL_DIR / "run" / "period_scope.sql"
# SQLite looks dossiers up by code in these (its joins are nested loops); PostgreSQL
# hash-joins them, and building the indexes cost it more than they saved.
SQLITE_RUN_VIEW_INDEXES = {
    "ind_v_received": ("dossier_code",),
    "ind_v_received_progress": ("dossier_code",),
    "ind_v_paid_online": ("dossier_code",),
}

# PostgreSQL session settings for the run: memory (upper bounds, taken only as needed); a
# sample of 6,000 rows instead of 30,000 when the materialised views are analysed — enough
# for the planner's estimates there, at a fifth of the cost; and no JIT compilation, which
# costs more than it saves on the run's queries (tens of milliseconds each). The run's
# connection is never reused, so the settings end with it.
PG_TEMP_BUFFERS = "512MB"
PG_RUN_SETTINGS = {"work_mem": "128MB", "maintenance_work_mem": "256MB", "default_statistics_target": "20",
                   "jit": "off"}

run_metadata = MetaData()
# Every item of the run's indicators, as their SQL or finisher gave them: counted per
# (indicator, unit) in one pass at the end, and the failures of eligible units are the violations.
run_items = Table(
    "ind_run_items", run_metadata,
    Column("indicator_code", Text, nullable=False),
    Column("unit_code", Text),
    Column("item_id", Text, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("detail", Text),
    prefixes=["TEMPORARY"],
)
# (indicator, unit) pairs whose failed items are violations: active units whose tier has it.
run_eligible = Table(
    "ind_run_eligible", run_metadata,
    Column("indicator_code", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("item_type", Text, nullable=False),
    prefixes=["TEMPORARY"],
)


def bind_sql(sql: str, params: dict) -> tuple[sa.TextClause, dict]:
    """text() with the parameters it names; datetimes bound as DateTime (SQLite's stored format)."""
    names = set(re.findall(r"(?<!:):([a-z_]+)", sql))
    used = {k: v for k, v in params.items() if k in names}
    binds = [
        sa.bindparam(k, type_=sa.DateTime() if isinstance(v, dt.datetime) else sa.Date())
        for k, v in used.items() if isinstance(v, dt.date)
    ]
    return sa.text(sql).bindparams(*binds), used


def materialise_views(conn: Connection, params: dict) -> None:
    """The views as temporary tables of the same names (see above), for the period of `params`.

    ind_v_scope, which the other views read, becomes the dossiers the period can touch
    (run/period_scope.sql) instead of every staged dossier.
    """
    for path in view_files():
        name = _view_name(path)
        if name == SCOPE_VIEW:
            sql = f"CREATE TEMPORARY TABLE {name} AS\n{PERIOD_SCOPE_SQL.read_text(encoding='utf-8')}"
            conn.execute(*bind_sql(sql, params))
        else:
            sql = path.read_text(encoding="utf-8")
            create = re.sub(rf"^CREATE VIEW {name} AS", f"CREATE TEMPORARY TABLE {name} AS", sql,
                            count=1, flags=re.MULTILINE)
            if create == sql:
                raise ValueError(f"{path.name}: expected 'CREATE VIEW {name} AS' at the start of a line")
            conn.exec_driver_sql(create)
        if name in SQLITE_RUN_VIEW_INDEXES and conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"CREATE INDEX ix_{name} ON {name} ({', '.join(SQLITE_RUN_VIEW_INDEXES[name])})")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {name}")  # autovacuum never analyses temporary tables


@contextlib.contextmanager
def run_connection(engine: Engine):
    """The run's own connection: one read snapshot on PostgreSQL (SQLite reads one file).

    Never returned to the pool: closing it discards its temporary tables at once (cheaper
    than dropping them), and they can never shadow the views for another user.
    """
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            # the default 8 MB of buffers for temporary tables would spill the run's to disk
            conn.exec_driver_sql(f"SET temp_buffers = '{PG_TEMP_BUFFERS}'")
            conn.commit()
        except sa.exc.DBAPIError:
            conn.rollback()  # the session has used temporary tables already: it keeps its setting
        # and the default 4 MB per sort or hash would spill each DISTINCT, GROUP BY and index build
        for setting, value in PG_RUN_SETTINGS.items():
            conn.exec_driver_sql(f"SET {setting} = '{value}'")
        conn.commit()
    else:
        conn.exec_driver_sql("PRAGMA temp_store = MEMORY")  # the run's tables: a few hundred MB at most
        conn.commit()
    try:
        yield conn
    finally:
        conn.invalidate()
        conn.close()
