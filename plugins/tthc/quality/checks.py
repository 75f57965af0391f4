"""The catalogue of data-quality checks (include/sql/quality/checks.yaml), validated on load."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tthc.config import load_model
from tthc.paths import SQL_DIR

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER = {"ok": 0, "info": 1, "warning": 2, "critical": 3}
CHECKS_FILE = SQL_DIR / "quality" / "checks.yaml"


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str = Field(pattern=r"^stg_[a-z_]+$")
    key: str
    severity: Severity
    excludes_dossier: bool
    description: str
    where: str

    def failing_keys_sql(self, run_start: dt.datetime) -> str:
        """SELECT of the failing rows' keys (the same text GX runs and quarantine stores)."""
        literal = f"'{run_start:%Y-%m-%d %H:%M:%S.%f}'"
        where = self.where.replace("{run_start}", literal)
        return f"SELECT {self.key} AS item_key FROM {self.table} WHERE {where}"

    def gx_query(self, run_start: dt.datetime) -> str:
        """The same rows as Great Expectations' UnexpectedRowsExpectation sees them: over its
        {batch} (the whole table), selecting the keys the check's own query finds."""
        inner = self.failing_keys_sql(run_start).replace(" AS item_key", "", 1)
        return f"SELECT {self.key} FROM {{batch}} WHERE {self.key} IN ({inner})"


class Catalogue(BaseModel):
    checks: list[Check]


@functools.cache
def load_checks() -> tuple[Check, ...]:
    return tuple(load_model(CHECKS_FILE, Catalogue).checks)
