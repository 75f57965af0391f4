"""The quality gate: Great Expectations over the staged tables, quarantine and exclusions.

Every check of include/sql/quality/checks.yaml becomes an expectation with its severity,
validated in SQL inside the warehouse (a fresh in-memory GX context per call: file
contexts race under parallel tasks). The failing rows' keys go to `quality_quarantine`
with the check that caught them; the dossiers of population-removing checks are written
to `quality_excluded_dossiers`, which the indicators read. A night-over-night row-count
check watches the loads. The outcome is stored per (DAG, period) in `quality_runs`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc import config
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
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(name="warehouse", connection_string=warehouse_url)
    outcome: dict[str, bool] = {}
    for table in sorted({c.table for c in checks}):
        asset = source.add_table_asset(name=table, table_name=table)
        batch = asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{table}_suite"))
        for check in (c for c in checks if c.table == table):
            suite.add_expectation(gx.expectations.UnexpectedRowsExpectation(
                # The whole table is the batch; checks name their table directly because some
                # correlate subqueries with it, which GX's {batch} alias would break.
                unexpected_rows_query=check.failing_keys_sql(run_start),
                description=check.description, severity=check.severity, meta={"check": check.name}))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite))
        for result in definition.run(result_format="BASIC").results:
            outcome[result.expectation_config.meta["check"]] = bool(result.success)
    return outcome
