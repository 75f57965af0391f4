"""The province generator: deterministic, consistent across both stores, defects recoverable."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter

import psycopg2
import pytest
import sqlalchemy as sa

from tthc.calendar import load_calendar
from tthc.extract.contract import SOURCE_COLUMNS
from tthc.sim.generator import generate
from tthc.sim.national_store import NATIONAL_TABLES
from tthc.sim.reference import REFORM_ON, all_units
from tthc.sim.settings import load_generator_config

SPRING = (dt.date(2025, 3, 1), dt.date(2025, 4, 30))
LOCAL = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def spring(tmp_path_factory):
    """Two months at demo scale (60,000 dossiers a year), with the default rates and dirt."""
    folder = tmp_path_factory.mktemp("spring")
    src, nat = folder / "replica.db", folder / "national.db"
    summary = generate(f"sqlite:///{src}", f"sqlite:///{nat}", *SPRING, seed=7, dossiers_per_year=60_000)
    return summary, sqlite3.connect(src), sqlite3.connect(nat)


def table_digest(path) -> str:
    conn = sqlite3.connect(path)
    digest = hashlib.sha256()
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    def run(name, seed):
        src, nat = tmp_path / f"{name}_src.db", tmp_path / f"{name}_nat.db"
        generate(
            f"sqlite:///{src}",
            f"sqlite:///{nat}",
            dt.date(2025, 1, 20),
            dt.date(2025, 2, 9),
            seed=seed,
            dossiers_per_year=20_000,
        )
        return table_digest(src), table_digest(nat)

    first = run("a", 3)
    assert run("b", 3) == first
    assert run("c", 4) != first


def test_rerun_replaces_the_tables_cleanly(tmp_path):
    src, nat = tmp_path / "src.db", tmp_path / "nat.db"
    args = (f"sqlite:///{src}", f"sqlite:///{nat}", dt.date(2025, 5, 5), dt.date(2025, 5, 11))
    one = generate(*args, seed=2, dossiers_per_year=20_000)
    digest = table_digest(src)
    two = generate(*args, seed=2, dossiers_per_year=20_000)
    assert one.rows == two.rows and table_digest(src) == digest
    assert sqlite3.connect(src).execute("SELECT count(*) FROM dossiers").fetchone()[0] == one.rows["dossiers"]


def test_units_over_time_follow_the_reform():
    units = all_units()
    on = lambda d: [u for u in units if u.active_on(d)]  # noqa: E731
    assert 13 <= len([u for u in on(dt.date(2024, 6, 1)) if u.tier == "department"]) <= 19
    assert len([u for u in on(dt.date(2024, 6, 1)) if u.tier == "district"]) == 9
    assert {u.name for u in on(dt.date(2025, 1, 2)) if u.tier == "district"} >= {
        "UBND quận Phú Xuân",
        "UBND quận Thuận Hóa",
    }
    after = on(REFORM_ON)
    assert not [u for u in after if u.tier == "district"]
    communes = [u for u in after if u.tier == "commune"]
    assert len(communes) == 40 and all(u.valid_from == REFORM_ON for u in communes)
    assert Counter(u.name.split()[1] for u in communes) == {"phường": 21, "xã": 19}
    assert (
        60
        <= len([u for u in units if u.tier == "commune" and u.valid_to == REFORM_ON - dt.timedelta(1)])
        <= 100
    )


def test_catalogue_and_dossiers_are_consistent(spring):
    _, src, _ = spring
    (n_procs,) = src.execute("SELECT count(*) FROM procedures").fetchone()
    assert 1300 <= n_procs <= 1700
    levels = dict(src.execute("SELECT online_level, count(*) FROM procedures GROUP BY 1").fetchall())
    assert set(levels) == {"full", "partial", "none"}
    units = dict(src.execute("SELECT unit_code, tier FROM units").fetchall())
    wrong_tier = src.execute(
        "SELECT count(*) FROM dossiers d JOIN procedures p USING (procedure_code) "
        "JOIN units u USING (unit_code) "
        "WHERE p.authority_tier <> u.tier"
    ).fetchone()[0]
    assert wrong_tier == 0
    assert set(units.values()) == {"department", "district", "commune"}
    # every dossier has its submitted event; events belong to existing dossiers
    orphans = src.execute(
        "SELECT count(*) FROM dossier_events e LEFT JOIN dossiers d USING (dossier_code) "
        "WHERE d.dossier_code IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    submitted = src.execute(
        "SELECT count(DISTINCT dossier_code) FROM dossier_events WHERE event_type = 'submitted'"
    ).fetchone()[0]
    assert submitted == src.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    statuses = {r[0] for r in src.execute("SELECT DISTINCT status FROM dossiers")}
    assert {1, 3, 4, 9, 10} <= statuses
    codes = [r[0] for r in src.execute("SELECT dossier_code FROM dossiers LIMIT 200")]
    assert all(re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.H57-\d{6}-\d{4}", c) for c in codes)


def test_volumes_follow_the_working_calendar(tmp_path):
    src = tmp_path / "tet.db"
    generate(
        f"sqlite:///{src}",
        f"sqlite:///{tmp_path / 'n.db'}",
        dt.date(2025, 1, 13),
        dt.date(2025, 2, 16),
        seed=5,
        dossiers_per_year=60_000,
    )
    per_day = dict(
        sqlite3.connect(src).execute(
            "SELECT substr(submitted_at, 1, 10), count(*) FROM dossiers "
            "WHERE submitted_at IS NOT NULL GROUP BY 1"
        )
    )
    cal = load_calendar()
    tet = [dt.date(2025, 1, 27) + dt.timedelta(days=i) for i in range(6)]
    assert all(per_day.get(d.isoformat(), 0) == 0 for d in tet)
    days = [dt.date(2025, 1, 13) + dt.timedelta(days=i) for i in range(35)]
    working = [per_day.get(d.isoformat(), 0) for d in days if cal.is_working_day(d)]
    weekend = [per_day.get(d.isoformat(), 0) for d in days if d.weekday() >= 5 and d not in tet]
    assert min(working) > 3 * max(weekend)
    direct_off_day = (
        sqlite3.connect(src)
        .execute("SELECT count(*) FROM dossiers WHERE channel = 1 AND strftime('%w', submitted_at) IN ('0')")
        .fetchone()[0]
    )
    assert direct_off_day == 0


def recovered(
    observed: Counter, planted: dict[str, int], rates: dict[str, float], population: Counter
) -> None:
    """Per unit: the defect measured on the rows equals what was planted, and the planted share of each
    large enough population sits within four standard errors (+1 pt) of the unit's configured rate."""
    assert sum(observed.values()) > 0
    assert sum(abs(observed[u] - planted.get(u, 0)) for u in population) <= 0.01 * sum(observed.values()) + 3
    checked = 0
    for unit, n in population.items():
        if n >= 100:
            p = rates[unit]
            assert abs(planted.get(unit, 0) / n - p) <= 4 * (p * (1 - p) / n) ** 0.5 + 0.01, unit
            checked += 1
    assert checked >= 3


def test_late_online_receipt_is_planted_at_each_units_rate(spring):
    summary, src, _ = spring
    cal = load_calendar()
    rows = src.execute(
        "SELECT d.unit_code, d.submitted_at, min(e.occurred_at) FROM dossiers d JOIN dossier_events e "
        "USING (dossier_code) WHERE d.channel = 2 AND e.event_type IN ('received', 'rejected', "
        "'supplement_requested') GROUP BY d.dossier_code"
    ).fetchall()
    population, late = Counter(), Counter()
    for unit, submitted, answered in rows:
        population[unit] += 1
        a, b = dt.datetime.strptime(submitted, LOCAL), dt.datetime.strptime(answered, LOCAL)
        late[unit] += cal.working_seconds_between(a, b) > 28_800
    recovered(
        late, summary.planted["late_online_receipt"], summary.unit_rates["late_online_receipt"], population
    )


def test_late_completion_and_full_online_are_planted_at_each_units_rate(spring):
    summary, src, _ = spring
    rows = src.execute(
        "SELECT d.unit_code, d.due_at, e.occurred_at FROM dossiers d JOIN dossier_events e "
        "USING (dossier_code) WHERE e.event_type = 'completed'"
    ).fetchall()
    late = Counter(u for u, due, done in rows if due is not None and done > due)
    # planted counts include dossiers planned late that have not completed yet: compare on completed ones
    assert abs(sum(late.values()) - sum(summary.planted["late_completion"].values())) <= 0.35 * sum(
        summary.planted["late_completion"].values()
    )
    rows = src.execute(
        "SELECT d.unit_code, d.channel FROM dossiers d JOIN procedures p USING (procedure_code) "
        "WHERE p.online_level = 'full'"
    ).fetchall()
    population = Counter(u for u, _ in rows)
    offline = Counter(u for u, ch in rows if ch != 2)
    recovered(
        offline,
        summary.planted["offline_full_procedure"],
        summary.unit_rates["offline_full_procedure"],
        population,
    )


def test_sync_feed_mirrors_the_replica_with_planted_gaps(spring):
    summary, src, nat = spring
    replica = dict(src.execute("SELECT dossier_code, unit_code FROM dossiers"))
    feed = {k for (k,) in nat.execute('SELECT "MaHoSo" FROM national_synced_dossiers WHERE "MaHoSo" <> \'\'')}
    assert feed <= set(replica)
    missing = Counter(replica[c] for c in set(replica) - feed)
    planted = sum(summary.planted["sync_missing"].values())
    # an empty key (dirty) also hides a dossier from the feed
    assert planted <= sum(missing.values()) <= planted + summary.dirty["empty_feed_key"]
    statuses = {s for (s,) in nat.execute('SELECT DISTINCT "TrangThaiHoSo" FROM national_synced_dossiers')}
    assert all(s.isdigit() for s in statuses)
    sort_keys = [s for (s,) in nat.execute("SELECT sort_ts FROM national_synced_dossiers LIMIT 100")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s) for s in sort_keys)


def test_national_records_reference_the_replica(spring):
    _, src, nat = spring
    announced = {r[0] for r in src.execute("SELECT ministry_decision_no FROM procedure_announcements")}
    posted = {r[0] for r in nat.execute("SELECT decision_no FROM national_ministry_decisions")}
    assert announced and posted <= announced | posted and len(posted & announced) >= len(announced) * 0.8
    numbers = {
        r[0]
        for r in src.execute(
            "SELECT provincial_decision_no FROM procedure_announcements "
            "WHERE provincial_decision_no IS NOT NULL"
        )
    }
    published = {
        r[0] for r in nat.execute("SELECT DISTINCT provincial_decision_no FROM national_publications")
    }
    assert numbers <= published
    units = {r[0] for r in src.execute("SELECT unit_code FROM units")}
    assert {r[0] for r in nat.execute("SELECT unit_code FROM national_feedback")} <= units
    dossiers = {r[0] for r in src.execute("SELECT dossier_code FROM dossiers")}
    rated = {r[0] for r in nat.execute('SELECT "MaHoSo" FROM national_dossier_ratings')}
    assert rated and rated <= dossiers


def test_dirty_rows_are_planted_and_counted(spring):
    summary, src, _ = spring
    one = lambda sql: src.execute(sql).fetchone()[0]  # noqa: E731
    assert summary.dirty["unknown_unit_code"] == one(
        "SELECT count(*) FROM dossiers WHERE unit_code NOT IN (SELECT unit_code FROM units)"
    )
    assert summary.dirty["null_required"] == one("SELECT count(*) FROM dossiers WHERE status IS NULL")
    assert summary.dirty["due_before_received"] <= one(
        "SELECT count(*) FROM dossiers WHERE due_at < received_at"
    )
    assert summary.dirty["duplicate_event"] == one(
        "SELECT count(*) - count(DISTINCT dossier_code || event_type || occurred_at) FROM dossier_events"
    )
    assert (
        one("SELECT count(*) FROM dossiers WHERE updated_at > '2028-01-01'")
        == summary.dirty["future_timestamp"]
    )
    assert sum(summary.dirty.values()) > 0


def test_personal_data_looks_real_and_vietnamese(spring):
    _, src, _ = spring
    rows = src.execute("SELECT applicant_name, applicant_id_number, applicant_phone FROM dossiers LIMIT 500")
    rows = rows.fetchall()
    assert all(re.fullmatch(r"0\d{11}", i) and re.fullmatch(r"0[35789]\d{8}", p) for _, i, p in rows)
    assert (
        sum(
            bool(re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", n.lower()))
            for n, _, _ in rows
        )
        > 400
    )
    assert len({n for n, _, _ in rows}) > 200


def test_config_file_lists_every_kind():
    config = load_generator_config()
    assert config.without_dirt().dirty["duplicate_event"] == 0 and config.dirty["duplicate_event"] > 0


def test_cli_help():
    done = subprocess.run(
        [sys.executable, "-m", "tthc.sim.generator", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--dossiers-per-year" in done.stdout and "--national-url" in done.stdout


def test_postgres_store_gets_the_same_rows(tmp_path):
    name = f"tthc_gen_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        args = (dt.date(2025, 6, 20), dt.date(2025, 7, 10))
        pg = generate(url, url, *args, seed=9, dossiers_per_year=20_000)
        lite = generate(
            f"sqlite:///{tmp_path / 's.db'}",
            f"sqlite:///{tmp_path / 'n.db'}",
            *args,
            seed=9,
            dossiers_per_year=20_000,
        )
        assert pg.rows == lite.rows
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            for table in [*SOURCE_COLUMNS, *(t.name for t in NATIONAL_TABLES)]:
                assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == pg.rows.get(
                    table, 0
                )
            first = conn.execute(
                sa.text("SELECT submitted_at, inputs_digitized FROM dossiers ORDER BY dossier_code LIMIT 1")
            ).one()
            assert isinstance(first[0], dt.datetime) and isinstance(first[1], bool)
        engine.dispose()
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()
