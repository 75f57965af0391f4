"""Real Airflow DAG runs end to end (dag.test()), on a generated province month.

The replica and the national store are SQLite files filled by the generator; the national
services are the real HTTP mock on loopback; the warehouse is SQLite or PostgreSQL.
"""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from national_server import running_national_mock

from tthc.orchestration.airflow_runner import run_dag
from tthc.orchestration.embedded import DEMO_TOKEN
from tthc.periods import Period
from tthc.warehouse import schema as wh

PERIOD = Period("2025-09")
pytestmark = pytest.mark.slow


def generate_small_province(root, seed: int = 7, dossiers_per_year: int = 24_000):
    """A small generated province in `root`, August and September 2025: (replica, national store)."""
    from tthc.sim.generator import generate

    source, national = root / "tthc_source.db", root / "national.db"
    generate(f"sqlite:///{source}", f"sqlite:///{national}", PERIOD.previous().first_day, PERIOD.next().first_day,
             seed=seed, dossiers_per_year=dossiers_per_year)
    return source, national


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    return generate_small_province(tmp_path_factory.mktemp("province"))


@pytest.fixture
def pipeline_env(province, airflow_db, tmp_path, monkeypatch):
    """Connections and the output Variable as outputs.md names them, for one test."""
    source, national = province
    with running_national_mock(f"sqlite:///{national}", DEMO_TOKEN) as base_url:
        port = base_url.rsplit(":", 1)[1]
        out = tmp_path / "output"
        monkeypatch.setenv("AIRFLOW_CONN_TTHC_SOURCE", f"sqlite:///{source}")
        monkeypatch.setenv("AIRFLOW_CONN_NATIONAL_PORTAL", f"http://:{DEMO_TOKEN}@127.0.0.1:{port}")
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://127.0.0.1:9")  # nothing listens: sends fail soft
        monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_OUTPUT_DIR", str(out))

        def use_warehouse(url: str) -> sa.Engine:
            monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", url)
            return sa.create_engine(url)

        yield use_warehouse, out


def _run_month() -> None:
    run_dag("tthc_nightly", PERIOD.end)  # the month's last night
    run_dag("tthc_monthly_scorecards", PERIOD.end, {"send": False})


def _table_counts(engine: sa.Engine) -> dict[str, int]:
    names = sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in sorted(names)
                if not n.startswith("raw_")}


def _duplicate_keys(engine: sa.Engine) -> dict[str, int]:
    """Rows sharing a natural key, per staged and result table (must be none)."""
    from tthc.indicators.tables import metadata as results

    dupes = {}
    with engine.connect() as conn:
        for table in [*wh.metadata.sorted_tables, *results.sorted_tables]:
            keys = [c.name for c in table.primary_key.columns]
            if not keys or table.name.startswith("raw_"):
                continue
            cols = ", ".join(f'"{k}"' for k in keys)
            n = conn.execute(sa.text(f'SELECT COUNT(*) FROM (SELECT {cols} FROM "{table.name}" GROUP BY {cols} '
                                     "HAVING COUNT(*) > 1) d")).scalar_one()
            if n:
                dupes[table.name] = n
    return dupes


def _assert_month_folder(folder, engine) -> None:
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"indicators.csv", "unit_scores.csv", "score_changes.csv", "ranking.pdf", "ranking.xlsx", "quality.json",
            "manifest.json"} <= names
    scores = list(csv.DictReader(io.StringIO((folder / "unit_scores.csv").read_text(encoding="utf-8"))))
    units = [r["unit_code"] for r in scores if r["unit_code"] != "H57"]
    assert scores[-1]["unit_code"] == "H57" and scores[-1]["unit_name"] == "Thành phố Huế"
    # one scorecard and one violations file per active unit, nothing else
    assert sorted(n for n in names if n.startswith("scorecards/")) == sorted(f"scorecards/{u}.pdf" for u in units)
    assert sorted(n for n in names if n.startswith("violations/")) == sorted(f"violations/{u}.csv" for u in units)
    with engine.connect() as conn:
        active = conn.execute(sa.text(
            "SELECT unit_code FROM stg_units WHERE valid_from <= :last AND (valid_to IS NULL OR valid_to >= :first)"
        ).bindparams(sa.bindparam("last", PERIOD.last_day, sa.Date), sa.bindparam("first", PERIOD.first_day, sa.Date))
        ).scalars().all()
    assert sorted(units) == sorted(active)
    ranked = [r for r in scores if r["rank"]]
    assert ranked, "no unit was ranked"
    assert all(0 <= float(r["total"]) <= 100 for r in ranked)


def test_month_end_to_end_on_sqlite_is_idempotent(pipeline_env, tmp_path):
    use_warehouse, out = pipeline_env
    engine = use_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    _run_month()
    folder = out / PERIOD.code
    _assert_month_folder(folder, engine)
    first = {p: (folder / p).read_bytes() for p in ("indicators.csv", "unit_scores.csv", "score_changes.csv")}
    first_violations = {p.name: p.read_bytes() for p in (folder / "violations").glob("*.csv")}
    counts = _table_counts(engine)

    run_dag("tthc_monthly_scorecards", PERIOD.end, {"send": False})  # the same period again

    assert {p: (folder / p).read_bytes() for p in first} == first
    assert {p.name: p.read_bytes() for p in (folder / "violations").glob("*.csv")} == first_violations
    after = _table_counts(engine)
    changed = {t: (counts[t], after[t]) for t in counts if counts[t] != after[t]}
    # only bookkeeping of the extra run may grow (its load log); no data table gains rows
    assert set(changed) <= {"etl_loads"}, changed
    assert _duplicate_keys(engine) == {}
    assert not list(out.glob(".*")), "temporary folders left behind"


def _returned(dag_id: str, task_id: str) -> dict:
    """What the task of the DAG's latest run returned (its XCom)."""
    import json

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    x = XComModel
    with create_session() as session:
        value = session.scalars(sa.select(x.value).where(x.dag_id == dag_id, x.task_id == task_id,
                                                         x.key == "return_value")
                                .order_by(x.timestamp.desc()).limit(1)).one()
    return json.loads(value) if isinstance(value, str) else value


def test_nightly_early_warning_never_mails_from_manual_runs_and_survives_a_dead_mail_server(pipeline_env, tmp_path):
    """smtp_default points at a port nobody listens on (as in the demo without a mail catcher)."""
    from tthc.insights.early_warning import early_warning_ledger

    use_warehouse, _ = pipeline_env
    engine = use_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    run_dag("tthc_nightly", PERIOD.end)  # a manual run, like the demo's and a backfill's: counts only
    assert _returned("tthc_nightly", "early_warning")["status"] == "not_requested"
    assert not sa.inspect(engine).has_table(early_warning_ledger.name)

    run_dag("tthc_nightly", PERIOD.end, {"send": True})  # asked to send: the run still succeeds
    out = _returned("tthc_nightly", "early_warning")
    # the weekly summary is due on a fresh warehouse and could not go out; it stays owed
    assert out["status"] == "undelivered" and out["office_summary_failed"] and not out["office_summary_sent"]
    assert out["mail_error"] == "ConnectionRefusedError"
    assert out["alert"]["sent_by"] == [] and out["alert"]["pending"]  # no channel works: the alert waits
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(early_warning_ledger)).scalar_one() == 0
    engine.dispose()


@pytest.mark.postgres
def test_month_end_to_end_with_the_warehouse_on_postgresql(pipeline_env, pg_database, tmp_path):
    use_warehouse, out = pipeline_env
    engine = use_warehouse(pg_database)
    _run_month()
    folder = out / PERIOD.code
    _assert_month_folder(folder, engine)
    assert _duplicate_keys(engine) == {}
    engine.dispose()


def test_month_end_to_end_into_an_object_store(pipeline_env, s3_server, tmp_path, monkeypatch):
    """The monthly DAG with its output in S3 (moto's server on loopback, through s3fs).

    The staging location passes from task to task as text that keeps its connection id; the
    month is published in the store, its manifest lists exactly what is there, nothing staged
    is left behind.
    """
    import json

    use_warehouse, _ = pipeline_env
    engine = use_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    root = s3_server.new_root()
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_OUTPUT_DIR", str(root))  # s3://tthc_s3@<bucket>/out
    run_dag("tthc_monthly_scorecards", PERIOD.end, {"send": False})
    folder = root / PERIOD.code
    _assert_month_folder(folder, engine)
    stored = s3_server.objects(root.bucket, "out/")
    assert {key.split("/")[0] for key in stored} == {PERIOD.code}
    manifest = json.loads(stored[f"{PERIOD.code}/manifest.json"])
    assert {f"{PERIOD.code}/{f['path']}" for f in manifest["files"]} == set(stored) - {f"{PERIOD.code}/manifest.json"}
    scorecards = [f for f in manifest["files"] if f["path"].startswith("scorecards/")]
    assert _returned("tthc_monthly_scorecards", "finish_month_folder") == \
        {"folder": str(folder), "scorecards": len(scorecards)}
    engine.dispose()
