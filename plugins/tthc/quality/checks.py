"""The catalogue of data-quality checks (include/sql/quality/checks.yaml), validated on load."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tthc.config import load_model
from tthc.paths import SQL_DIR
from tthc.warehouse import schema as wh

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER = {"ok": 0, "info": 1, "warning": 2, "critical": 3}
CHECKS_FILE = SQL_DIR / "quality" / "checks.yaml"


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str = Field(pattern=r"^stg_[a-z_]+$")
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    severity: Severity
    excludes_dossier: bool
    description: str
    where: str
    # A check comparing a row with its table's other rows: a changed row can make another
    # row sharing this column's value fail or pass, so the gate rechecks those rows too.
    recheck_rows_sharing: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _columns_exist(self) -> Check:
        table = wh.metadata.tables.get(self.table)
        if table is None:
            raise ValueError(f"{self.name}: no staged table {self.table}")
        for column in (self.key, self.recheck_rows_sharing):
            if column is not None and column not in table.c:
                raise ValueError(f"{self.name}: {self.table} has no column {column}")
        return self

    def failing_keys_sql(self, run_start: dt.datetime, scope: str | None = None) -> str:
        """SELECT of the failing rows' keys (the same text GX runs and quarantine stores),
        among the rows whose key `scope` selects (all rows when None)."""
        literal = f"'{run_start:%Y-%m-%d %H:%M:%S.%f}'"
        where = self.where.replace("{run_start}", literal)
        if scope is not None:
            where = f"({where}) AND {self.key} IN ({scope})"
        return f"SELECT {self.key} AS item_key FROM {self.table} WHERE {where}"

    def gx_query(self, run_start: dt.datetime, scope: str | None = None) -> str:
        """The same rows as Great Expectations' UnexpectedRowsExpectation sees them: over its
        {batch} (the whole table), selecting the keys the check's own query finds."""
        inner = self.failing_keys_sql(run_start, scope).replace(" AS item_key", "", 1)
        return f"SELECT {self.key} FROM {{batch}} WHERE {self.key} IN ({inner})"

    def scope_sql(self, claim: str) -> str:
        """The keys an incremental gate judges: the rows the loads noted since the last gate
        (claimed by `claim`), the rows failing this check at the last gate, and the rows
        sharing `recheck_rows_sharing` with a noted row. Rows outside it passed the last gate
        and still do: staged rows are never deleted, so a key a check looks up stays there,
        and a time that was not after one run's start is not after a later one's."""
        key_type = wh.metadata.tables[self.table].c[self.key].type.compile()
        noted = (f"SELECT CAST(item_key AS {key_type}) FROM quality_pending "
                 f"WHERE claimed_by = '{claim}' AND table_name = '{self.table}'")
        parts = [noted, f"SELECT CAST(item_key AS {key_type}) FROM quality_failing WHERE check_name = '{self.name}'"]
        if self.recheck_rows_sharing:
            share = self.recheck_rows_sharing
            parts.append(f"SELECT s.{self.key} FROM {self.table} s WHERE s.{share} IN "
                         f"(SELECT n.{share} FROM {self.table} n WHERE n.{self.key} IN ({noted}))")
        return " UNION ".join(parts)


class Catalogue(BaseModel):
    checks: list[Check]

    @model_validator(mode="after")
    def _one_key_per_table(self) -> Catalogue:
        keys: dict[str, str] = {}
        for check in self.checks:
            if keys.setdefault(check.table, check.key) != check.key:
                raise ValueError(f"{check.name}: the checks of {check.table} must share one key column "
                                 f"({keys[check.table]}): the loads note changed rows by it")
        return self


@functools.cache
def load_checks() -> tuple[Check, ...]:
    return tuple(load_model(CHECKS_FILE, Catalogue).checks)


def table_keys() -> dict[str, str]:
    """Staged table -> the key column its checks select (the loads note changed rows by it)."""
    return {c.table: c.key for c in load_checks()}


def fingerprint(checks: tuple[Check, ...]) -> str:
    """Identifies what the checks judge (not the file's comments or layout)."""
    text = json.dumps([c.model_dump() for c in checks], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
