"""The indicator catalogue (danh mục chỉ số): config/indicators.yaml, validated on load.

Config is data: names, groups, scoring rules, maxima, tiers, duty labels and the reasons an
item fails (code -> the Vietnamese text the office reads) live in the YAML file; each
indicator's population and success test live in its SQL file, which writes reason codes only.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from tthc.config import Strict, load_model
from tthc.paths import SQL_DIR, config_dir

CATALOGUE_FILE = "indicators.yaml"
INDICATOR_SQL_DIR = SQL_DIR / "indicators"
UNIT_TIERS = ("department", "district", "commune")
PROVINCE_TIER = "province"
PROVINCE_CODE = "H57"

Tier = Literal["department", "district", "commune", "province"]
ItemType = Literal[
    "dossier", "procedure", "announcement_procedure", "announcement", "publication", "payment", "feedback",
    "unit",
]
REASON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class Group(Strict):
    """One of the index's six groups (nhóm chỉ số) and its maximum points."""

    group: int = Field(ge=1, le=6)
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    max_points: float = Field(gt=0)


class Indicator(Strict):
    """One indicator of the index, or one duty of letter 11821."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    family: Literal["index", "duty"]
    group: int | None = Field(default=None, ge=1, le=6)
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    rule: Literal["linear", "target", "empty_full", "payment-part", "none"] = "none"
    max_points: float | None = Field(default=None, gt=0)
    target: float | None = Field(default=None, gt=0, le=1)
    tiers: list[Tier] = ["department", "district", "commune", "province"]
    duty: str | None = Field(default=None, pattern=r"^\d\.\d$")
    item_type: ItemType
    estimate: bool = False
    province_population: Literal["all_items", "own_rows"] = "all_items"
    derived_from: str | None = Field(default=None, description="parent whose items it restricts or re-judges")
    reasons: dict[str, str] = Field(default_factory=dict, description="reason code -> Vietnamese text")

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        for code, text in self.reasons.items():
            if not REASON_CODE.match(code):
                raise ValueError(f"reason code {code!r}: lower-case letters, digits and '_' only")
            # a Vietnamese sentence has letters beyond ASCII (đ, ư, tone marks): a reason left in English fails
            if not any(c.isalpha() and not c.isascii() for c in text):
                raise ValueError(f"reason {code!r}: the office reads it, write it in Vietnamese")
        if not self.reasons and self.derived_from is None:
            raise ValueError("an indicator needs its reasons (why an item fails it, in Vietnamese)")
        if self.family == "index":
            if self.group is None:
                raise ValueError("an index indicator needs its group (1..6)")
            if self.rule == "none":
                raise ValueError("an index indicator needs a scoring rule")
            if self.rule != "payment-part" and self.max_points is None:
                raise ValueError(f"rule '{self.rule}' needs max_points")
        else:
            if self.group is not None or self.rule != "none" or self.max_points is not None:
                raise ValueError("a duty has no group, rule or max_points (it is a compliance rate)")
            if self.duty is None:
                raise ValueError("a duty needs its annex label, e.g. '2.2'")
        if (self.rule == "target") != (self.target is not None):
            raise ValueError("target is required by rule 'target' and only by it")
        if self.rule == "payment-part" and self.max_points is not None:
            raise ValueError("group 4's parts have no max_points of their own: the group scores 10")
        if PROVINCE_TIER not in self.tiers:
            raise ValueError("every indicator has a row for the province (tier 'province')")
        return self

    @property
    def sql_path(self) -> Path:
        """Where the population and success test are written (a derived duty reads its parent's)."""
        return INDICATOR_SQL_DIR / f"{(self.derived_from or self.code).lower()}.sql"

    def applies_to_tier(self, tier: str | None) -> bool:
        return tier in self.tiers

    @property
    def max_fraction(self) -> Fraction:
        return Fraction(str(self.max_points)) if self.max_points is not None else Fraction(0)


class Catalogue(Strict):
    groups: list[Group] = Field(min_length=6, max_length=6)
    indicators: list[Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _whole(self) -> Catalogue:
        if [g.group for g in self.groups] != [1, 2, 3, 4, 5, 6]:
            raise ValueError("groups must be listed 1 to 6, once each")
        codes = [i.code for i in self.indicators]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"indicator code listed more than once: {', '.join(repeated)}")
        for ind in self.indicators:
            if ind.derived_from is not None and ind.derived_from not in codes[: codes.index(ind.code)]:
                raise ValueError(f"{ind.code}: derived_from must name an indicator listed before it")
        for g in self.groups:
            members = [i for i in self.indicators if i.group == g.group]
            if not members:
                raise ValueError(f"group {g.group} has no indicator")
            if any(i.rule == "payment-part" for i in members):
                if len({i.rule for i in members}) != 1 or len(members) != 3:
                    raise ValueError(f"group {g.group}: the payment rule needs exactly three "
                                     "payment-part ratios")
            elif sum(i.max_fraction for i in members) != Fraction(str(g.max_points)):
                raise ValueError(f"group {g.group}: its indicators' max_points do not add up to "
                                 f"{g.max_points}")
        return self

    def get(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(f"unknown indicator code {code!r}")

    def group(self, number: int) -> Group:
        return self.groups[number - 1]

    def order(self) -> dict[str, int]:
        """Indicator code -> its position in indicators.md (the order of every output)."""
        return {ind.code: pos for pos, ind in enumerate(self.indicators)}

    def payment_parts(self) -> list[Indicator]:
        """Group 4's ratios A, B, C in the order the payment rule takes them."""
        return [i for i in self.indicators if i.rule == "payment-part"]

    def reasons_of(self, code: str) -> dict[str, str]:
        """Reason code -> Vietnamese text for the failures of `code` (a derived duty without
        reasons of its own judges as its parent does, so it uses the parent's)."""
        ind = self.get(code)
        if not ind.reasons and ind.derived_from:
            return self.reasons_of(ind.derived_from)
        return ind.reasons

    def reason_text(self, code: str, reason: str | None) -> str:
        """What the office reads for a failure of `code` with reason code `reason`."""
        try:
            return self.reasons_of(code)[reason]
        except KeyError:
            raise KeyError(f"{code}: no reason {reason!r} in {CATALOGUE_FILE} (its reasons: "
                           f"{', '.join(self.reasons_of(code))})") from None


@functools.cache
def _cached(path: str, mtime: float) -> Catalogue:
    return load_model(Path(path), Catalogue)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The validated catalogue (ConfigError naming file, field and problem when invalid)."""
    path = path or config_dir() / CATALOGUE_FILE
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached(str(path), mtime)
