"""Nightly extraction from the provincial replica (issue 4) into real SQLite and PostgreSQL
warehouses: changes picked up, reruns idempotent, a source that is down fails cleanly."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tthc.extract.provincial import TABLE_ORDER, SourceUnavailable, extract_all
from tthc.sim.generator import generate
from tthc.warehouse import schema as wh
from tthc.warehouse.db import SourceMissing, engine_for_url, source_engine

FIRST_DAY, LAST_DAY = dt.date(2025, 3, 1), dt.date(2025, 3, 10)
NIGHT_1 = dt.datetime(2025, 3, 11)  # the replica is generated as seen at 00:00 after LAST_DAY
NIGHT_2 = NIGHT_1 + dt.timedelta(days=1)
NIGHT_3 = NIGHT_2 + dt.timedelta(days=1)
OVERLAP = dt.timedelta(minutes=60)


@pytest.fixture(scope="module")
def replica_template(tmp_path_factory):
    """Ten days of a small province (default dirt included); tests work on copies."""
    folder = tmp_path_factory.mktemp("replica")
    src = folder / "replica.db"
    generate(f"sqlite:///{src}", f"sqlite:///{folder / 'national.db'}", FIRST_DAY, LAST_DAY, seed=11,
             dossiers_per_year=20_000)
    return src


@pytest.fixture
def replica(replica_template, tmp_path):
    path = tmp_path / "replica.db"
    shutil.copy(replica_template, path)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_database")


def source_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLE_ORDER}


def staged_counts(warehouse) -> dict[str, int]:
    """Rows and distinct primary keys of every staged provincial table (they must be equal)."""
    out = {}
    with warehouse.connect() as conn:
        for name, table in wh.PROVINCIAL_STAGED.items():
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            keys = conn.execute(sa.select(sa.func.count()).select_from(
                sa.select(*table.primary_key.columns).distinct().subquery())).scalar_one()
            assert rows == keys, f"{table.name}: {rows} rows but {keys} distinct keys"
            out[name] = rows
    return out


def watermarks(warehouse) -> dict[str, dt.datetime]:
    with warehouse.connect() as conn:
        return dict(conn.execute(sa.select(wh.etl_watermarks.c.stream, wh.etl_watermarks.c.watermark)).all())


def run(source_url: str, warehouse, night: dt.datetime):
    return extract_all(engine_for_url(source_url), warehouse, f"tthc_nightly/{(night - dt.timedelta(days=1)):%Y-%m-%d}",
                       night, OVERLAP)


def test_first_load_stages_every_row_with_contract_types(replica, warehouse_url):
    warehouse = engine_for_url(warehouse_url)
    loads = run(f"sqlite:///{replica}", warehouse, NIGHT_1)
    assert staged_counts(warehouse) == source_counts(replica)
    assert {load.stream: load.rows for load in loads} == {f"tthc_source.{t}": n
                                                          for t, n in source_counts(replica).items()}
    assert set(watermarks(warehouse).values()) == {NIGHT_1}
    with warehouse.connect() as conn:
        row = conn.execute(sa.select(wh.stg_dossiers).where(wh.stg_dossiers.c.received_at.is_not(None))
                           .limit(1)).mappings().one()
        proc = conn.execute(sa.select(wh.stg_procedures).limit(1)).mappings().one()
    # SQLite hands the replica's values over as text and 0/1; staged they are the contract's types.
    assert isinstance(row["received_at"], dt.datetime) and isinstance(row["updated_at"], dt.datetime)
    assert isinstance(row["inputs_digitized"], bool) and isinstance(proc["has_fee"], bool)


def test_a_first_load_leaves_every_index_of_the_staged_tables_as_it_was(replica, warehouse_url):
    """A first load builds the staged tables' indexes after their rows (tthc.warehouse.db.indexes_built_after)."""
    import tthc.indicators.tables  # noqa: F401 - the indicator engine's indexes on the staged tables too

    warehouse = engine_for_url(warehouse_url)
    wh.create_all(warehouse)

    def indexes() -> dict[str, list]:
        inspector = sa.inspect(warehouse)
        return {t.name: sorted((i["name"], i["column_names"], i["unique"]) for i in inspector.get_indexes(t.name))
                for t in wh.PROVINCIAL_STAGED.values()}

    before = indexes()
    run(f"sqlite:///{replica}", warehouse, NIGHT_1)
    assert indexes() == before
    assert len(before["stg_dossier_events"]) >= 2 and len(before["stg_dossiers"]) >= 4


def test_postgresql_has_statistics_for_a_freshly_loaded_table(replica, pg_database):
    """Without them the planner estimates one row and nests loops over the month's dossiers."""
    warehouse = engine_for_url(pg_database)
    run(f"sqlite:///{replica}", warehouse, NIGHT_1)
    with warehouse.connect() as conn:
        analysed = dict(conn.execute(sa.text(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname LIKE 'stg_%'")).all())
        estimated = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'stg_dossiers'")).scalar_one()
    assert all(analysed[wh.PROVINCIAL_STAGED[t].name] for t in TABLE_ORDER), analysed
    assert estimated == source_counts(replica)["dossiers"]


def test_changes_after_the_first_run_are_picked_up_and_reruns_add_no_duplicates(replica, warehouse_url):
    warehouse = engine_for_url(warehouse_url)
    source_url = f"sqlite:///{replica}"
    run(source_url, warehouse, NIGHT_1)
    first = staged_counts(warehouse)
    run(source_url, warehouse, NIGHT_1)  # a rerun of the same night
    assert staged_counts(warehouse) == first

    with sqlite3.connect(replica) as conn:
        code, status = conn.execute("SELECT dossier_code, status FROM dossiers WHERE status = 4 "
                                    "ORDER BY dossier_code LIMIT 1").fetchone()
        # During the day: the dossier gets its result, an event is appended, a payment fails ...
        conn.execute("UPDATE dossiers SET status = 9, completed_at = '2025-03-11 10:00:00', "
                     "updated_at = '2025-03-11 10:00:05' WHERE dossier_code = ?", (code,))
        next_event = conn.execute("SELECT MAX(event_id) + 1 FROM dossier_events").fetchone()[0]
        conn.execute("INSERT INTO dossier_events VALUES (?, ?, 'completed', '2025-03-11 10:00:00', "
                     "'000.00.10.H57', '2025-03-11 10:00:05')", (next_event, code))
        payment = conn.execute("SELECT payment_id FROM payments ORDER BY payment_id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE payments SET status = 'refunded', updated_at = '2025-03-11 11:00:00' "
                     "WHERE payment_id = ?", (payment,))
        # ... and a row committed late, stamped before last night's cut-off, still arrives (overlap).
        late = conn.execute("SELECT apology_id FROM apologies ORDER BY apology_id DESC LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO apologies SELECT apology_id + 1000, dossier_code, issued_at, new_due_at, "
                     "'2025-03-10 23:30:00' FROM apologies WHERE apology_id = ?", (late,))

    loads = {load.stream: load.rows for load in run(source_url, warehouse, NIGHT_2)}
    second = staged_counts(warehouse)
    assert second == {**first, "dossier_events": first["dossier_events"] + 1, "apologies": first["apologies"] + 1}
    assert second == source_counts(replica)
    # Incremental: the night reads the day's changes and the overlap, not the whole replica.
    assert 1 <= loads["tthc_source.dossiers"] < first["dossiers"] / 2
    with warehouse.connect() as conn:
        staged = conn.execute(sa.select(wh.stg_dossiers.c.status, wh.stg_dossiers.c.completed_at)
                              .where(wh.stg_dossiers.c.dossier_code == code)).one()
        paid = conn.execute(sa.select(wh.stg_payments.c.status)
                            .where(wh.stg_payments.c.payment_id == payment)).scalar_one()
        event = conn.execute(sa.select(wh.stg_dossier_events.c.event_type)
                             .where(wh.stg_dossier_events.c.event_id == next_event)).scalar_one()
    assert (status, staged) == (4, (9, dt.datetime(2025, 3, 11, 10, 0)))
    assert (paid, event) == ("refunded", "completed")
    assert set(watermarks(warehouse).values()) == {NIGHT_2}

    run(source_url, warehouse, NIGHT_2)  # rerun of night 2: nothing new, nothing doubled
    assert staged_counts(warehouse) == second


def test_unreachable_replica_fails_clearly_and_commits_nothing(warehouse_url, tmp_path):
    warehouse = engine_for_url(warehouse_url)
    bad_pg = "postgresql+psycopg2://postgres@127.0.0.1:5432/tthc_no_such_replica"
    with pytest.raises(SourceUnavailable, match=r"tthc_source: cannot read table 'units': OperationalError"):
        run(bad_pg, warehouse, NIGHT_1)
    missing_file = f"sqlite:///{tmp_path / 'no_such_dir' / 'replica.db'}"
    with pytest.raises(SourceUnavailable, match=r"tthc_source: cannot read table 'units'"):
        run(missing_file, warehouse, NIGHT_1)
    assert watermarks(warehouse) == {}
    assert set(staged_counts(warehouse).values()) == {0}


def test_a_table_down_keeps_its_watermark_and_the_next_run_catches_up(replica, warehouse_url):
    warehouse = engine_for_url(warehouse_url)
    source_url = f"sqlite:///{replica}"
    run(source_url, warehouse, NIGHT_1)
    with sqlite3.connect(replica) as conn:
        conn.execute("UPDATE dossiers SET status = 10, updated_at = '2025-03-11 09:00:00' "
                     "WHERE dossier_code = (SELECT MIN(dossier_code) FROM dossiers WHERE status = 9)")
        conn.execute("INSERT INTO payments SELECT 'TT-NEW-1', dossier_code, amount_vnd, method, gateway, status, "
                     "paid_at, '2025-03-11 09:30:00' FROM payments ORDER BY payment_id LIMIT 1")
        conn.execute("ALTER TABLE payments RENAME TO payments_offline")  # the replica loses a table
    before = staged_counts(warehouse)
    with pytest.raises(SourceUnavailable, match=r"cannot read table 'payments'.*no such table"):
        run(source_url, warehouse, NIGHT_2)
    marks = watermarks(warehouse)
    # One transaction per table: the tables read before it are in; payments and after are untouched.
    assert marks["tthc_source.payments"] == marks["tthc_source.procedure_announcements"] == NIGHT_1
    assert marks["tthc_source.dossiers"] == NIGHT_2
    assert staged_counts(warehouse)["payments"] == before["payments"]
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.RAW["payments"])).scalar_one() == \
            before["payments"]  # the failed load's raw batch was rolled back with it
        assert conn.execute(sa.select(sa.func.count()).select_from(wh.etl_loads)
                            .where(wh.etl_loads.c.stream == "tthc_source.payments")).scalar_one() == 1

    with sqlite3.connect(replica) as conn:
        conn.execute("ALTER TABLE payments_offline RENAME TO payments")
    run(source_url, warehouse, NIGHT_3)
    assert staged_counts(warehouse) == source_counts(replica)
    assert set(watermarks(warehouse).values()) == {NIGHT_3}
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(wh.stg_payments.c.payment_id)
                            .where(wh.stg_payments.c.payment_id == "TT-NEW-1")).scalar_one() == "TT-NEW-1"


def test_rows_dated_after_the_cut_off_are_staged_for_the_gate(replica, warehouse_url):
    """A wrong clock in the replica must not hide a dossier: it is staged (the quality gate
    removes it from the populations) and read again each night, never lost."""
    warehouse = engine_for_url(warehouse_url)
    with sqlite3.connect(replica) as conn:
        code = conn.execute("SELECT MIN(dossier_code) FROM dossiers").fetchone()[0]
        conn.execute("UPDATE dossiers SET updated_at = '2031-01-01 00:00:00' WHERE dossier_code = ?", (code,))
    run(f"sqlite:///{replica}", warehouse, NIGHT_1)
    run(f"sqlite:///{replica}", warehouse, NIGHT_2)
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(wh.stg_dossiers.c.updated_at)
                            .where(wh.stg_dossiers.c.dossier_code == code)).scalar_one() == dt.datetime(2031, 1, 1)
    assert watermarks(warehouse)["tthc_source.dossiers"] == NIGHT_2  # the watermark stops at the cut-off
    assert staged_counts(warehouse) == source_counts(replica)


def test_reextract_rereads_a_corrected_window(replica, tmp_path):
    """A source corrected in place without a newer updated_at is missed by the incremental read,
    and picked up when the run is asked to re-read from the period's start (param `reextract`)."""
    warehouse = engine_for_url(f"sqlite:///{tmp_path / 'warehouse.db'}")
    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, "night-1", NIGHT_1, OVERLAP)
    with sqlite3.connect(replica) as conn:
        code, old_status = conn.execute(
            "SELECT dossier_code, status FROM dossiers WHERE status = 10 ORDER BY dossier_code LIMIT 1").fetchone()
        conn.execute("UPDATE dossiers SET status = 9 WHERE dossier_code = ?", (code,))  # updated_at untouched

    def staged_status() -> int:
        with warehouse.connect() as conn:
            return conn.execute(sa.select(wh.stg_dossiers.c.status)
                                .where(wh.stg_dossiers.c.dossier_code == code)).scalar_one()

    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, "night-2", NIGHT_2, OVERLAP)
    assert staged_status() == old_status  # the watermark hides the silent correction
    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, "rerun", NIGHT_3, OVERLAP,
                reread_from=dt.datetime.combine(FIRST_DAY, dt.time()))
    assert staged_status() == 9
    with warehouse.connect() as conn:  # the watermark still only moves forward
        marks = conn.execute(sa.select(wh.etl_watermarks.c.watermark)).scalars().all()
    assert set(marks) == {NIGHT_3}


# --- the source is only ever read (sources.md: we do not own it) ----------------------------
def test_a_missing_sqlite_source_is_an_error_naming_its_path_and_nothing_is_created(tmp_path):
    missing = tmp_path / "no-such-folder" / "replica.db"
    with pytest.raises(SourceMissing, match=str(missing)):
        source_engine(f"sqlite:///{missing}")
    assert not missing.exists() and not missing.parent.exists()


def test_extraction_leaves_the_replica_byte_for_byte_unchanged(replica, tmp_path):
    before = hashlib.sha256(replica.read_bytes()).hexdigest()
    source = source_engine(f"sqlite:///{replica}")
    extract_all(source, engine_for_url(f"sqlite:///{tmp_path / 'warehouse.db'}"), "tthc_nightly/2025-03-10",
                NIGHT_1, OVERLAP)
    with source.connect() as conn, pytest.raises(sa.exc.OperationalError, match="readonly"):
        conn.execute(sa.text("UPDATE units SET name = name"))
    source.dispose()
    assert hashlib.sha256(replica.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in replica.parent.iterdir() if p.name.startswith("replica.db")) == ["replica.db"]


@pytest.mark.postgres
def test_a_postgresql_source_is_opened_read_only(pg_database):
    with engine_for_url(pg_database).begin() as conn:
        conn.execute(sa.text("CREATE TABLE units (unit_code text)"))
    source = source_engine(pg_database)
    with source.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM units")).scalar_one() == 0
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            conn.execute(sa.text("INSERT INTO units VALUES ('X')"))
    source.dispose()


# --- a SQLite replica into a SQLite warehouse: the replica's SQL converts what it can ---------
def replica_texts(kind: str) -> st.SearchStrategy:
    """Values a replica's time or date column may hold: its own form (valid or not), other forms
    Python reads (ISO with T, offsets, fractions, compact), numbers, stray text."""
    fmt = "%Y-%m-%d %H:%M:%S" if kind == "time" else "%Y-%m-%d"
    own = st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda t: t.strftime(fmt).rjust(len(fmt) + 2, "0"))
    shaped = st.tuples(st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
                       st.integers(0, 61)).map(lambda p: f"{p[0]:04d}-{p[1]:02d}-{p[2]:02d} {p[3]:02d}:00:{p[4]:02d}"
                                               [: 19 if kind == "time" else 10])
    others = st.sampled_from(["2025-03-04T09:15:00", "2025-03-04 09:15:00+00:00", "2025-03-04 09:15:00Z",
                              "2025-03-04 09:15:00.250000", "2025-03-04 09:15:00.000000", " 2025-03-04 09:15:00",
                              "2025-03-04 09:15", "20250304091500", "2025-03-04", "2025-02-29 10:00:00",
                              "2024-02-29 10:00:00", "0000-01-01 00:00:00", "-0001-01-01 00:00:00", "0000-01-01",
                              "-0001-01-01", "2025-03-04 09:15:00 ", "2025-04-31 10:00:00", "2025-01-01 24:00:00",
                              "2025-02-30", ""])
    return st.one_of(st.none(), own, shaped, others, st.integers(-2, 20250304091500), st.floats(allow_nan=False),
                     st.text(max_size=12))


REPLICA_FLAGS = st.one_of(st.none(), st.integers(-1, 2), st.sampled_from([0.0, 1.0, 0.5, "1", "true", ""]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(replica_texts("time"), replica_texts("time"), REPLICA_FLAGS, replica_texts("date")),
                     min_size=1, max_size=12))
def test_sqlite_to_sqlite_stores_every_replica_value_as_the_python_coercions_do(rows, tmp_path):
    """What the replica's SQL vouches for (its own form of a valid time, date or flag) is stored as
    the Python coercions and SQLAlchemy store it, byte for byte; every other value takes the
    coercions themselves."""
    from tthc.extract.provincial import _coercion, extract_table

    folder = tmp_path / f"example-{uuid.uuid4().hex}"
    folder.mkdir()
    declared = {sa.DateTime: "TIMESTAMP", sa.Date: "DATE", sa.Boolean: "BOOLEAN"}
    with sqlite3.connect(folder / "replica.db") as conn:  # the contract's column types, without its CHECKs
        for table in ("dossiers", "units"):
            conn.execute(f"CREATE TABLE {table} (" + ", ".join(
                f"{c.name} {declared.get(type(c.type), c.type.compile())}"
                for c in wh.PROVINCIAL_STAGED[table].columns) + ")")
        conn.executemany("INSERT INTO dossiers (dossier_code, submitted_at, received_at, inputs_digitized, "
                         "updated_at) VALUES (?, ?, ?, ?, '2025-03-01 08:00:00')",
                         [(f"D{i}", *row[:3]) for i, row in enumerate(rows)])
        conn.executemany("INSERT INTO units (unit_code, valid_from, updated_at) VALUES (?, ?, '2025-03-01 08:00:00')",
                         [(f"U{i}", row[3]) for i, row in enumerate(rows)])
    source = source_engine(f"sqlite:///{folder / 'replica.db'}")
    warehouse = sa.create_engine(f"sqlite:///{folder / 'warehouse.db'}")
    wh.create_all(warehouse)
    twins = sa.MetaData()
    for table in ("dossiers", "units"):
        extract_table(source, warehouse, table, "run", NIGHT_1, OVERLAP)
        staged = wh.PROVINCIAL_STAGED[table]
        twin = sa.Table(f"twin_{table}", twins, *[sa.Column(c.name, c.type) for c in staged.columns])
        twins.create_all(warehouse)
        with source.connect() as sconn, warehouse.begin() as conn:
            read = sconn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
            conn.execute(sa.insert(twin), [{k: v if (f := _coercion(staged.c[k])) is None or v is None else f(v)
                                            for k, v in row.items()} for row in read])
            columns = ", ".join(f"typeof({c}), {c}" for c in read[0])
            stored = conn.exec_driver_sql(f"SELECT {columns} FROM {staged.name} ORDER BY 2").all()
            assert stored == conn.exec_driver_sql(f"SELECT {columns} FROM {twin.name} ORDER BY 2").all()
    source.dispose()
    warehouse.dispose()
