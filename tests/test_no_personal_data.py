"""No personal data leaves the replica (sources.md, DEVELOPERS.md): after an extraction and a
quality-gate run, no applicant name, ID number or phone — nor a plain hash of one — is in any
text column of any warehouse table, or in the log output."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import sqlite3

import pytest
import sqlalchemy as sa
from national_server import running_national_mock

from tthc.extract.national import NationalClient, feeds, load_feed
from tthc.extract.provincial import extract_all
from tthc.periods import to_local_naive
from tthc.quality.gate import run_gate
from tthc.sim.generator import generate
from tthc.sim.settings import load_generator_config
from tthc.warehouse.db import engine_for_url

TOKEN = "pii-token"
ID_NUMBER = re.compile(r"(?<!\d)\d{12}(?!\d)")


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """A small province with dirty rows (so that quarantine and exclusions are written too)."""
    rates = load_generator_config()
    rates = rates.model_copy(update={"dirty": {k: max(v, 0.01) for k, v in rates.dirty.items()}})
    folder = tmp_path_factory.mktemp("pii")
    generate(f"sqlite:///{folder / 'replica.db'}", f"sqlite:///{folder / 'national.db'}", dt.date(2025, 3, 1),
             dt.date(2025, 3, 7), seed=9, dossiers_per_year=20_000, rates=rates)
    return folder / "replica.db", folder / "national.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_database")


def personal_pattern(replica) -> re.Pattern:
    """Every applicant name, ID number and phone of the replica, and their plain hashes."""
    with sqlite3.connect(replica) as conn:
        values = {v for row in conn.execute("SELECT applicant_name, applicant_id_number, applicant_phone "
                                            "FROM dossiers") for v in row if v}
    assert len(values) > 100 and any(ID_NUMBER.fullmatch(v) for v in values)
    hashes = {getattr(hashlib, algo)(v.encode()).hexdigest() for v in values for algo in ("md5", "sha1", "sha256")}
    return re.compile("|".join(re.escape(v) for v in sorted(values | hashes, key=len, reverse=True)))


def warehouse_text(warehouse) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-null value of every text column of every table."""
    found = []
    inspector = sa.inspect(warehouse)
    with warehouse.connect() as conn:
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                if isinstance(column["type"], sa.String):
                    name = column["name"]
                    found += [(table, name, v) for (v,) in conn.execute(
                        sa.text(f'SELECT "{name}" FROM "{table}" WHERE "{name}" IS NOT NULL'))]
    return found


def test_no_personal_data_in_the_warehouse_or_the_logs(province, warehouse_url, caplog):
    replica, store = province
    caplog.set_level(logging.DEBUG, logger="tthc")
    caplog.set_level(logging.INFO)
    warehouse = engine_for_url(warehouse_url)
    run_key = "tthc_nightly/2025-03-07"
    extract_all(engine_for_url(f"sqlite:///{replica}"), warehouse, run_key, dt.datetime(2025, 3, 8),
                dt.timedelta(minutes=60))
    with running_national_mock(f"sqlite:///{store}", TOKEN) as base_url:
        client = NationalClient(base_url, TOKEN)
        started = to_local_naive(dt.datetime.now(dt.UTC))
        for feed in feeds("H57"):
            load_feed(client, warehouse, feed, run_key, started, dt.timedelta(minutes=10))
    result = run_gate(warehouse, warehouse_url, "tthc_nightly", "2025-03-07", dt.datetime(2025, 3, 8, 1))

    pattern = personal_pattern(replica)
    values = warehouse_text(warehouse)
    tables = {t for t, _, _ in values}
    # The scan covered the staged, raw, quarantine and run tables, with their text in them.
    assert {"stg_dossiers", "raw_dossiers", "quality_quarantine", "quality_runs", "stg_feedback"} <= tables
    assert len(values) > 10_000 and result.failed
    leaks = [(t, c) for t, c, v in values if pattern.search(v) or ID_NUMBER.search(v)]
    assert leaks == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "tthc_source.dossiers" in logged and "quality gate" in logged  # the run did log
    assert not pattern.search(logged) and not ID_NUMBER.search(logged)
