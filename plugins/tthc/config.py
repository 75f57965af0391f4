"""The province's configuration: versioned YAML files, validated on load.

Only what no source holds lives here (recipients, office hours, calendar overrides,
thresholds, bands, the indicator catalogue). Units and procedures always come from the
provincial replica. A broken file fails fast with a message naming the file, the field and
the problem.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from tthc.paths import config_dir

M = TypeVar("M", bound=BaseModel)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message names file, field and problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_model(path: Path, model: type[M]) -> M:
    """Read one YAML file into `model`, or raise ConfigError naming file, field and problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValueError as exc:  # PyYAML's own date parsing, e.g. 2026-02-30
        raise ConfigError(f"{path}: a value YAML cannot read: {exc}") from None
    if raw is None:
        raise ConfigError(f"{path}: (top level): the file is empty")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"field '{_field_path(e['loc'])}': {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def _check_email(value: str) -> str:
    if not EMAIL_RE.match(value):
        raise ValueError(f"'{value}' is not an e-mail address")
    return value


# --- recipients.yaml -------------------------------------------------------------------
Email = Annotated[str, AfterValidator(_check_email)]


class Recipients(Strict):
    """Who receives what. Unit addresses are optional and keyed by the source's unit codes."""

    office_to: list[Email] = Field(min_length=1, description="Văn phòng UBND: the scorecards' recipients")
    office_cc: list[Email] = []
    sender: Email
    data_engineers: list[Email] = Field(min_length=1, description="quality and failure alerts")
    alert_webhook_url: str | None = None
    units: dict[str, Email] = {}
    send_to_units: bool = False


# --- bands.yaml ------------------------------------------------------------------------
class Band(Strict):
    name: str
    min_total: float = Field(ge=0, le=100)


class Bands(Strict):
    """Xếp loại: the first band whose minimum the rounded total reaches."""

    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _descending(self) -> Bands:
        mins = [b.min_total for b in self.bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("bands must be listed from the highest minimum down, without repeats")
        if mins[-1] != 0:
            raise ValueError("the last band must start at 0 so that every total gets a band")
        return self

    def band_of(self, total: float) -> str:
        return next(b.name for b in self.bands if total >= b.min_total)


# --- thresholds.yaml -------------------------------------------------------------------
class Thresholds(Strict):
    row_count_drop_ratio: float = Field(gt=0, lt=1, description="warn when a night loads this much less")
    row_count_jump_ratio: float = Field(gt=1, description="warn when a night loads this much more")
    watermark_overlap_minutes: int = Field(ge=0)
    national_safety_margin_minutes: int = Field(ge=0)
    http_timeout_seconds: float = Field(gt=0)
    http_max_retries: int = Field(ge=0)
    mail_max_attachment_mb: float = Field(gt=0)
    top_failing_items: int = Field(ge=1, description="scorecard annex: failed items listed per indicator or duty")
    top_costly_items: int = Field(ge=1, description="failed items costing the most points, per scorecard")
    scorecards_per_render_task: int = Field(ge=1, description="units per mapped rendering task")
    render_processes_per_task: int = Field(ge=1, description="rendering processes inside one task")


# --- province.yaml ---------------------------------------------------------------------
class ProvinceName(Strict):
    from_period: str = Field(pattern=r"^\d{4}-\d{2}$")
    name: str


class Province(Strict):
    code: str
    place: str = Field(description="place name on the date line: 'Huế, ngày …'")
    names: list[ProvinceName] = Field(min_length=1)
    issuer: list[str] = Field(min_length=1, description="issuer block, top left")
    document_symbol: str = Field(description="ký hiệu văn bản, e.g. UBND-KSTT")
    signer_title: list[str] = []
    signer_name: str = ""

    def name_for(self, period: str) -> str:
        """The province's official name in a period (H57's row in unit_scores.csv)."""
        chosen = [n for n in sorted(self.names, key=lambda n: n.from_period) if n.from_period <= period]
        if not chosen:
            raise ConfigError(f"province.yaml: field 'names': no name covers period {period}")
        return chosen[-1].name


# --- forecast.yaml ---------------------------------------------------------------------
# The month-end forecast's methods (tthc.insights.forecast implements them), named here so that
# the config can check forecast.yaml without importing the forecast. Simplest first: where two
# methods err alike on the province's own months, the simpler one is used.
FORECAST_METHODS = ("previous", "month_to_date", "blend")


class Forecast(Strict):
    """How the office's weekly forecast is chosen. Its error is measured on the warehouse's own
    months by every monthly run (tthc.insights.forecast.backtest_closed_months), never configured."""

    default_method: str = Field(description="used until enough closed months are back-tested")
    backtest_months: int = Field(ge=1, le=36, description="the last N closed months back-tested")
    min_backtest_months: int = Field(ge=1, description="fewer: the mail says the error cannot be stated yet")
    cut_off_days: list[int] = Field(min_length=1, description="days of the month the forecast is replayed at")

    @model_validator(mode="after")
    def _consistent(self) -> Forecast:
        if self.default_method not in FORECAST_METHODS:
            raise ValueError(f"default_method '{self.default_method}' is not one of {', '.join(FORECAST_METHODS)}")
        if self.min_backtest_months > self.backtest_months:
            raise ValueError("min_backtest_months cannot exceed backtest_months")
        if any(not 1 <= d <= 28 for d in self.cut_off_days) or len(set(self.cut_off_days)) != len(self.cut_off_days):
            raise ValueError("cut_off_days: distinct days from 1 to 28")
        return self


@functools.cache
def _cached(path: str, mtime: float, model: type[M]) -> M:
    return load_model(Path(path), model)


def load(name: str, model: type[M]) -> M:
    """Load config file `name` (e.g. 'recipients.yaml') from the config folder."""
    path = config_dir() / name
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached(str(path), mtime, model)


def recipients() -> Recipients:
    return load("recipients.yaml", Recipients)


def bands() -> Bands:
    return load("bands.yaml", Bands)


def thresholds() -> Thresholds:
    return load("thresholds.yaml", Thresholds)


def province() -> Province:
    return load("province.yaml", Province)


def forecast() -> Forecast:
    return load("forecast.yaml", Forecast)


def parse_date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
