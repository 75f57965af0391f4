"""The quality gate: Great Expectations over the staged tables, quarantine and exclusions.

Every check of include/sql/quality/checks.yaml becomes an expectation with its severity,
validated in SQL inside the warehouse (a fresh in-memory GX context per call: file
contexts race under parallel tasks). The failing rows' keys go to `quality_quarantine`
with the check that caught them; the dossiers of population-removing checks are written
to `quality_excluded_dossiers`, which the indicators read. A night-over-night row-count
check watches the loads. The outcome is stored per (DAG, period) in `quality_runs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.extract.national import ITEM_UNREADABLE, TIME_UNREADABLE
from tthc.quality.checks import SEVERITY_ORDER, Check, load_checks
from tthc.warehouse import schema as wh
from tthc.warehouse.db import dialect_insert

log = logging.getLogger(__name__)
SAMPLE_SIZE = 5


@dataclass
class CheckOutcome:
    name: str
    table: str
    severity: str
    description: str
    success: bool
    unexpected_count: int
    sample_ids: list[str] = field(default_factory=list)


@dataclass
class GateResult:
    run_key: str
    dag_id: str
    period: str
    run_started_at: str
    status: str  # ok | info | warning | critical
    outcomes: list[CheckOutcome]
    excluded_dossiers: int

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.success]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)


def _gx_outcomes(warehouse_url: str, checks: tuple[Check, ...], run_start: dt.datetime) -> dict[str, bool]:
    """Run the suite with Great Expectations; returns check name -> success."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)  # before import: its import is chatty
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    with warnings.catch_warnings():  # its advice to use a dialect-specific source: add_sql serves both
        warnings.simplefilter("ignore")
        source = context.data_sources.add_sql(name="warehouse", connection_string=warehouse_url)
    outcome: dict[str, bool] = {}
    for table in sorted({c.table for c in checks}):
        asset = source.add_table_asset(name=table, table_name=table)
        batch = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{table}_suite"))
        for check in (c for c in checks if c.table == table):
            suite.add_expectation(gx.expectations.UnexpectedRowsExpectation(
                unexpected_rows_query=check.gx_query(run_start),
                description=check.description, severity=check.severity, meta={"check": check.name}))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite))
        # GX prints a {batch} reminder each time it re-validates a query it has substituted.
        with contextlib.redirect_stdout(io.StringIO()):
            results = definition.run(result_format="BASIC").results
        for result in results:
            name = result.expectation_config.meta["check"]
            error = _gx_error(result.exception_info or {})
            if error:
                raise RuntimeError(f"quality check {name} could not run: {error}")
            outcome[name] = bool(result.success)
    return outcome


def report_html(result: GateResult) -> str:
    """The run's outcome as a readable HTML page (include/templates/quality_report.html.j2)."""
    import jinja2

    from tthc.paths import TEMPLATE_DIR

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    return env.get_template("quality_report.html.j2").render(r=result)


def _gx_error(info: dict) -> str | None:
    """GX reports an expectation that could not run either flat or keyed by metric."""
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error").splitlines()[0]
    return None


def _failing_keys(conn, check: Check, run_start: dt.datetime) -> list[str]:
    return [str(k) for k in conn.execute(sa.text(check.failing_keys_sql(run_start))).scalars()]


# Checks the national extraction makes while reading a feed (a key or a time no format
# reads cannot be seen in the staged tables afterwards): reported here per run.
EXTRACTION_CHECKS = {
    ITEM_UNREADABLE: ("warning", "national item without a usable key: quarantined, not staged"),
    TIME_UNREADABLE: ("warning", "national time field no format reads: staged as NULL"),
}


def _extraction_outcomes(conn, run_key: str) -> list[CheckOutcome]:
    q = wh.quality_quarantine
    prefix = f"{run_key}#"
    outcomes = []
    for name, (severity, description) in EXTRACTION_CHECKS.items():
        rows = conn.execute(sa.select(q.c.table_name, q.c.item_key)
                            .where(q.c.check_name == name, q.c.item_key.startswith(prefix, autoescape=True))
                            .order_by(q.c.table_name, q.c.item_key)).all()
        samples = [f"{table}:{key.removeprefix(prefix)}" for table, key in rows[:SAMPLE_SIZE]]
        outcomes.append(CheckOutcome(name, "national feeds", severity, description, not rows, len(rows), samples))
    return outcomes


def _row_count_outcome(conn, run_key: str, dag_id: str) -> CheckOutcome:
    """Night over night: a stream that loaded far fewer or more rows than its previous load."""
    limits = config.thresholds()
    loads = wh.etl_loads
    current = conn.execute(sa.select(loads.c.stream, loads.c.rows_read, loads.c.committed_at)
                           .where(loads.c.run_key == run_key)).all()
    anomalies = []
    for stream, rows, committed in current:
        previous = conn.execute(
            sa.select(loads.c.rows_read).where(loads.c.stream == stream, loads.c.committed_at < committed,
                                               loads.c.run_key.like(f"{dag_id}/%"))
            .order_by(loads.c.committed_at.desc()).limit(1)).scalar_one_or_none()
        if previous and previous >= 100 and not (
                limits.row_count_drop_ratio * previous <= rows <= limits.row_count_jump_ratio * previous):
            anomalies.append(f"{stream}: {rows} rows after {previous}")
    return CheckOutcome("row_count_anomaly", "etl_loads", "warning",
                        "rows loaded night over night outside the configured ratios",
                        not anomalies, len(anomalies), anomalies[:SAMPLE_SIZE])


def run_gate(warehouse: Engine, warehouse_url: str, dag_id: str, period: str,
             run_started_at: dt.datetime) -> GateResult:
    """Validate the staged tables, quarantine failing rows, refresh the population exclusions."""
    wh.create_all(warehouse)
    checks = load_checks()
    gx_success = _gx_outcomes(warehouse_url, checks, run_started_at)
    run_key = f"{dag_id}/{period}"
    outcomes: list[CheckOutcome] = []
    now = dt.datetime.now()
    with warehouse.begin() as conn:
        excluded: set[str] = set()
        exclusion_rows = []
        for check in checks:
            # The keys of a check Great Expectations passed are none: its query is not run again
            # (on a province-year of events that is seconds per check).
            keys = [] if gx_success[check.name] else _failing_keys(conn, check, run_started_at)
            if not gx_success[check.name] and not keys:
                raise RuntimeError(f"quality check {check.name}: Great Expectations and the quarantine query "
                                   "disagree; the check's SQL is not deterministic")
            outcomes.append(CheckOutcome(check.name, check.table, check.severity, check.description,
                                         not keys, len(keys), sorted(keys)[:SAMPLE_SIZE]))
            _quarantine(conn, check, keys, now)
            if check.excludes_dossier:
                exclusion_rows += [{"dossier_code": k, "check_name": check.name} for k in keys]
                excluded.update(keys)
        conn.execute(sa.delete(wh.quality_excluded_dossiers))
        for i in range(0, len(exclusion_rows), 5000):
            conn.execute(sa.insert(wh.quality_excluded_dossiers), exclusion_rows[i : i + 5000])
        outcomes += _extraction_outcomes(conn, run_key)
        outcomes.append(_row_count_outcome(conn, run_key, dag_id))
        status = max((o.severity for o in outcomes if not o.success), key=SEVERITY_ORDER.get, default="ok")
        result = GateResult(run_key, dag_id, period, run_started_at.isoformat(), status, outcomes, len(excluded))
        conn.execute(sa.delete(wh.quality_runs).where(wh.quality_runs.c.run_key == run_key))
        conn.execute(sa.delete(wh.quality_reports).where(wh.quality_reports.c.run_key == run_key))
        conn.execute(sa.insert(wh.quality_reports).values(run_key=run_key, html=report_html(result)))
        conn.execute(sa.insert(wh.quality_runs).values(
            run_key=run_key, period=period, dag_id=dag_id, run_started_at=run_started_at, status=status,
            report_json=result.to_json()))
    log.info("quality gate %s: %s; %d checks failed; %d dossiers out of the populations", run_key, status,
             len(result.failed), len(excluded))
    return result


def _quarantine(conn, check: Check, keys: list[str], now: dt.datetime) -> None:
    q = wh.quality_quarantine
    rows = [{"check_name": check.name, "table_name": check.table, "item_key": k, "severity": check.severity,
             "detail": check.description, "first_seen_at": now, "last_seen_at": now} for k in keys]
    for i in range(0, len(rows), 5000):
        stmt = dialect_insert(conn, q)
        conn.execute(stmt.on_conflict_do_update(index_elements=["check_name", "table_name", "item_key"],
                                                set_={"last_seen_at": stmt.excluded.last_seen_at}),
                     rows[i : i + 5000])


def quarantined_count(warehouse: Engine) -> int:
    with warehouse.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(wh.quality_quarantine)).scalar_one()


def month_status(warehouse: Engine, period: str) -> tuple[str, list[str]]:
    """The worst status of the month's gate runs (the monthly run's own, and its nights' latest).

    Returns the status and the names of the critical checks, so the publication gate can say why.
    """
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(wh.quality_runs.c.status, wh.quality_runs.c.report_json)
                            .where(sa.or_(wh.quality_runs.c.period == period,
                                          wh.quality_runs.c.period.like(f"{period}-%")))).all()
    status, critical = "ok", []
    for run_status, report in rows:
        if SEVERITY_ORDER[run_status] > SEVERITY_ORDER[status]:
            status = run_status
        if run_status == "critical":
            critical += [o["name"] for o in json.loads(report)["outcomes"]
                         if not o["success"] and o["severity"] == "critical"]
    return status, sorted(set(critical))
