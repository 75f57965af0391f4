"""The quality gate: Great Expectations over the staged tables, quarantine and exclusions.

Every check of include/sql/quality/checks.yaml becomes an expectation with its severity,
validated in SQL inside the warehouse (a fresh in-memory GX context per call: file
contexts race under parallel tasks). A gate judges the rows the loads noted since the last
gate, and the rows failing then (`quality_pending`, `quality_failing`; a first load or a
changed catalogue: every row), so its cost follows the night's changes, not the history.
The failing rows' keys go to `quality_quarantine` with the check that caught them; the
dossiers of population-removing checks are written to `quality_excluded_dossiers`, which
the indicators read. A night-over-night row-count check watches the loads. The outcome is
stored per (DAG, period) in `quality_runs`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import uuid
import warnings
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
from tthc.extract.national import ITEM_UNREADABLE, TIME_UNREADABLE
from tthc.quality.checks import SEVERITY_ORDER, Check, fingerprint, load_checks
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
    # staged table -> rows the loads noted since the last gate, judged with the failing ones;
    # None: the whole table was judged (a first load, or a changed catalogue)
    judged: dict[str, int | None] = field(default_factory=dict)

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.success]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)


@dataclass(frozen=True)
class Scope:
    """What one gate judges: its claim on the loads' notes, and the tables judged whole."""
    claim: str
    whole_tables: frozenset[str]
    noted: dict[str, int]

    def of(self, check: Check) -> str | None:
        return None if check.table in self.whole_tables else check.scope_sql(self.claim)

    def judged(self, checks: tuple[Check, ...]) -> dict[str, int | None]:
        tables = sorted({c.table for c in checks})
        return {t: None if t in self.whole_tables else self.noted.get(t, 0) for t in tables}


def claim_scope(warehouse: Engine, checks: tuple[Check, ...]) -> Scope:
    """Claim the notes committed so far; a later load's notes wait for the next gate."""
    claim = uuid.uuid4().hex
    p, state = wh.quality_pending, wh.quality_gate_state
    with warehouse.begin() as conn:
        # The state row first, as the gate's final transaction takes it: one lock order, no deadlock.
        stmt = dialect_insert(conn, state).values(id=1, catalogue_sha=None, claimed_by=claim)
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"claimed_by": claim}))
        judged_by = conn.execute(sa.select(state.c.catalogue_sha)).scalar_one()
        # Every note, including a failed earlier gate's claim: its rows were never judged.
        conn.execute(sa.update(p).values(claimed_by=claim))
        noted = dict(conn.execute(sa.select(p.c.table_name, sa.func.count()).where(p.c.claimed_by == claim)
                                  .group_by(p.c.table_name)).all())
        whole = set(conn.execute(sa.select(p.c.table_name).where(p.c.claimed_by == claim, p.c.item_key.is_(None))
                                 ).scalars())
    if judged_by != fingerprint(checks):  # never judged, or judged by another catalogue
        whole = {c.table for c in checks}
    return Scope(claim, frozenset(whole), noted)


def _gx_outcomes(warehouse_url: str, checks: tuple[Check, ...], run_start: dt.datetime,
                 scope: Scope) -> dict[str, bool]:
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
                unexpected_rows_query=check.gx_query(run_start, scope.of(check)),
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


def _failing_keys(conn, check: Check, run_start: dt.datetime, scope: str | None) -> list[str]:
    return [str(k) for k in conn.execute(sa.text(check.failing_keys_sql(run_start, scope))).scalars()]


def _hold_claim(conn, checks: tuple[Check, ...], scope: Scope, now: dt.datetime) -> None:
    """Record this gate's judgement on the state row, first in the final transaction (the row
    stays locked until it commits), or give way to a gate that claimed after this one."""
    state = wh.quality_gate_state
    held = conn.execute(sa.update(state).where(state.c.claimed_by == scope.claim)
                        .values(catalogue_sha=fingerprint(checks), validated_at=now)).rowcount
    if held != 1:
        raise RuntimeError("another quality gate started while this one ran and judges its rows too; "
                           "this one gives way (Airflow retries it)")


def _release_claim(conn, scope: Scope, failing: dict[str, list[str]]) -> None:
    """Keep the rows failing now for the next gate, and drop the notes this gate judged."""
    f = wh.quality_failing
    conn.execute(sa.delete(f))
    rows = [{"check_name": name, "item_key": k} for name, keys in failing.items() for k in keys]
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(f), rows[i : i + 5000])
    conn.execute(sa.delete(wh.quality_pending).where(wh.quality_pending.c.claimed_by == scope.claim))


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
    scope = claim_scope(warehouse, checks)
    gx_success = _gx_outcomes(warehouse_url, checks, run_started_at, scope)
    run_key = f"{dag_id}/{period}"
    outcomes: list[CheckOutcome] = []
    now = dt.datetime.now()
    with warehouse.begin() as conn:
        _hold_claim(conn, checks, scope, now)
        excluded: set[str] = set()
        exclusion_rows = []
        failing: dict[str, list[str]] = {}
        for check in checks:
            # The keys of a check Great Expectations passed are none: its query is not run again.
            # The scope holds every row failing at the last gate, so these keys are all the
            # table's failing rows, not only the night's.
            keys = [] if gx_success[check.name] else _failing_keys(conn, check, run_started_at, scope.of(check))
            if not gx_success[check.name] and not keys:
                raise RuntimeError(f"quality check {check.name}: Great Expectations and the quarantine query "
                                   "disagree; the check's SQL is not deterministic")
            failing[check.name] = keys
            outcomes.append(CheckOutcome(check.name, check.table, check.severity, check.description,
                                         not keys, len(keys), sorted(keys)[:SAMPLE_SIZE]))
            _quarantine(conn, check, keys, now)
            if check.excludes_dossier:
                exclusion_rows += [{"dossier_code": k, "check_name": check.name} for k in keys]
                excluded.update(keys)
        _release_claim(conn, scope, failing)
        conn.execute(sa.delete(wh.quality_excluded_dossiers))
        for i in range(0, len(exclusion_rows), 5000):
            conn.execute(sa.insert(wh.quality_excluded_dossiers), exclusion_rows[i : i + 5000])
        outcomes += _extraction_outcomes(conn, run_key)
        outcomes.append(_row_count_outcome(conn, run_key, dag_id))
        status = max((o.severity for o in outcomes if not o.success), key=SEVERITY_ORDER.get, default="ok")
        result = GateResult(run_key, dag_id, period, run_started_at.isoformat(), status, outcomes, len(excluded),
                            scope.judged(checks))
        conn.execute(sa.delete(wh.quality_runs).where(wh.quality_runs.c.run_key == run_key))
        conn.execute(sa.delete(wh.quality_reports).where(wh.quality_reports.c.run_key == run_key))
        conn.execute(sa.insert(wh.quality_reports).values(run_key=run_key, html=report_html(result)))
        conn.execute(sa.insert(wh.quality_runs).values(
            run_key=run_key, period=period, dag_id=dag_id, run_started_at=run_started_at, status=status,
            report_json=result.to_json()))
    log.info("quality gate %s: %s; %d checks failed; %d dossiers out of the populations; judged (rows noted "
             "since the last gate, None: whole table) %s", run_key, status, len(result.failed), len(excluded),
             result.judged)
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
