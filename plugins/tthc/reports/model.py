"""The data contract of the monthly documents (scorecards and ranked lists).

The warehouse side fills these frozen dataclasses; the renderers only read them. Every
number arrives already computed (indicators.md): the templates format, they never score.
Sequences are stored as tuples so that a context is immutable and hashable once built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tthc.config import Province

Number = int | float

# Cấp đơn vị: the replica's tier codes (sources.md §1) and their titles in the documents.
TIER_TITLES: dict[str, str] = {
    "department": "Sở, ban, ngành",
    "district": "UBND cấp huyện",
    "commune": "UBND cấp xã",
}

# The six groups of the national index (Bộ chỉ số 766): number, title, maximum points.
INDEX_GROUPS: tuple[tuple[int, str, float], ...] = (
    (1, "Công khai, minh bạch", 18.0),
    (2, "Tiến độ giải quyết", 20.0),
    (3, "Dịch vụ công trực tuyến", 12.0),
    (4, "Thanh toán trực tuyến", 10.0),
    (5, "Số hóa hồ sơ", 22.0),
    (6, "Mức độ hài lòng", 18.0),
)


def _freeze(obj: object, *names: str) -> None:
    """Turn list arguments into tuples on a frozen dataclass (callers may pass lists)."""
    for name in names:
        object.__setattr__(obj, name, tuple(getattr(obj, name)))


@dataclass(frozen=True)
class ProvinceInfo:
    """The issuing province as the header of a document shows it (config/province.yaml)."""

    code: str  # H57
    name: str  # the province's name in the period: "Thành phố Huế"
    place: str  # địa danh on the date line: "Huế"
    issuer: tuple[str, ...]  # cơ quan ban hành, top left: ("ỦY BAN NHÂN DÂN", "THÀNH PHỐ HUẾ")
    document_symbol: str  # ký hiệu văn bản: "UBND-KSTT"
    signer_title: tuple[str, ...] = ()
    signer_name: str = ""

    def __post_init__(self) -> None:
        _freeze(self, "issuer", "signer_title")

    @classmethod
    def from_config(cls, province: Province, period: str) -> ProvinceInfo:
        return cls(
            code=province.code,
            name=province.name_for(period),
            place=province.place,
            issuer=tuple(province.issuer),
            document_symbol=province.document_symbol,
            signer_title=tuple(province.signer_title),
            signer_name=province.signer_name,
        )


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    tier: str  # department | district | commune


@dataclass(frozen=True)
class GroupScore:
    """One of the six groups on a scorecard; points None = the group does not apply."""

    number: int
    name: str
    points: float | None
    max_points: float  # of the group's indicators that apply to the unit (the total is scored on these)


@dataclass(frozen=True)
class RatioLine:
    """A ratio a row is scored from without points of its own (group 4: A, B, C of the payment rule)."""

    code: str
    name: str
    letter: str  # "A", "B", "C": the rule's names for them
    duty_label: str | None
    numerator: Number
    denominator: Number
    value: float | None  # None when the denominator is 0


@dataclass(frozen=True)
class IndicatorLine:
    """One scored row of the index (chỉ tiêu): an indicator with its counts, value and points, or
    group 4 scored as one item from its ratios (`components`; no counts of its own)."""

    code: str
    name: str
    group: int
    duty_label: str | None  # the letter's annex item it also measures, e.g. "2.1"
    numerator: Number | None  # None: scored from its components
    denominator: Number | None
    value: float | None  # None when the denominator is 0
    points: float | None  # None when the indicator does not apply
    max_points: float
    is_estimate: bool = False  # the portal's exact formula is not public (group 3)
    components: tuple[RatioLine, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "components")


@dataclass(frozen=True)
class FailingItem:
    """An item that failed an indicator or duty (outputs.md violations): never a person's data."""

    item_type: str  # dossier | procedure | announcement_procedure | payment | feedback | …
    item_id: str
    reason: str = ""  # why, in Vietnamese (the catalogue's words for the stored reason code)


@dataclass(frozen=True)
class FailureList:
    """Phụ lục: one indicator's or duty's failed items, the costliest first, capped (the unit's
    violations CSV has them all)."""

    code: str
    name: str
    group: int | None  # the index group; None for a duty of the letter only
    duty_label: str | None  # the letter's annex item, e.g. "2.3"
    item_type: str
    failed: int  # every failed item
    items: tuple[FailingItem, ...]  # the first of them by points of the total lost

    def __post_init__(self) -> None:
        _freeze(self, "items")

    @property
    def more(self) -> int:
        return self.failed - len(self.items)


@dataclass(frozen=True)
class DutyLine:
    """A duty of letter 11821/UBND-KSTT (nhiệm vụ) and its compliance."""

    code: str
    annex: str  # the annex item, e.g. "2.3"
    description: str
    numerator: Number
    denominator: Number
    value: float | None

    @property
    def failing_count(self) -> Number:
        return self.denominator - self.numerator


@dataclass(frozen=True)
class Priority:
    """Page 1: one of the things that would gain the unit the most points next month
    (tthc.insights.score_change.gains): a scored row's room to its maximum and what fails it."""

    name: str
    group: int
    points: float  # of the 100-point total
    failed: tuple[tuple[str, str, int], ...]  # (indicator name, item type, failed items)

    def __post_init__(self) -> None:
        _freeze(self, "failed")


@dataclass(frozen=True)
class TrendPoint:
    period: str  # YYYY-MM
    total: float | None  # None: not scored that month (or the unit did not exist)


@dataclass(frozen=True)
class ChangeLine:
    """A group or an indicator in "Vì sao điểm thay đổi": its points last month and this month,
    and its part of the change of the total (tthc.insights.score_change: the parts add up to the change)."""

    code: str  # G1 … G6, an indicator code, or G4_PAYMENT (group 4 scored as a whole)
    name: str
    group: int
    previous: float | None  # points; None: did not apply
    current: float | None
    contribution: float | None  # points of the 100-point total; None: nothing to compare with


@dataclass(frozen=True)
class CostlyItem:
    """A failed item and the points of the total its failure cost this month: never a person's data."""

    item_type: str  # dossier | procedure | feedback | …
    item_id: str
    indicator_names: tuple[str, ...]  # the index indicators it failed, by their Vietnamese names
    points_lost: float

    def __post_init__(self) -> None:
        _freeze(self, "indicator_names")


@dataclass(frozen=True)
class ScoreChangeSection:
    """Vì sao điểm thay đổi: the change against the previous month, decomposed, and the costliest items."""

    previous_period: str
    previous_total: float | None  # None: not scored that month (or no data): nothing to compare with
    current_total: float | None
    groups: tuple[ChangeLine, ...]  # G1 … G6
    indicators: tuple[ChangeLine, ...]  # in catalogue order
    costly_items: tuple[CostlyItem, ...] = ()  # costliest first

    def __post_init__(self) -> None:
        _freeze(self, "groups", "indicators", "costly_items")

    @property
    def compared(self) -> bool:
        return self.previous_total is not None and self.current_total is not None


@dataclass(frozen=True)
class ScorecardContext:
    """Phiếu đánh giá: everything one unit's monthly scorecard shows."""

    period: str  # YYYY-MM
    issued_on: dt.date
    document_number: str  # "15/BC-UBND", or "" for a number the office fills in by hand
    province: ProvinceInfo
    unit: UnitInfo
    total: float | None  # None: not scored (no dossiers handled)
    band: str | None
    rank: int | None
    rank_count: int  # units ranked in the tier
    previous_total: float | None
    groups: tuple[GroupScore, ...]
    indicators: tuple[IndicatorLine, ...]
    duties: tuple[DutyLine, ...]
    trend: tuple[TrendPoint, ...]  # oldest first, up to 12 months, ending with `period`
    quality_note: str | None = None
    quarantined_rows: int = 0
    previous_rank: int | None = None
    recipients: tuple[str, ...] = ()  # "Nơi nhận"; empty = the unit and the archive
    band_thresholds: tuple[float, ...] = (80.0, 70.0, 50.0)  # config/bands.yaml minimums, for the chart
    score_change: ScoreChangeSection | None = None  # None: the section is left out
    priorities: tuple[Priority, ...] = ()  # page 1, the largest gain first
    annex: tuple[FailureList, ...] = ()  # in catalogue order, only those with failed items

    def __post_init__(self) -> None:
        _freeze(self, "groups", "indicators", "duties", "trend", "recipients", "band_thresholds", "priorities",
                "annex")


@dataclass(frozen=True)
class ProvinceSummary:
    """H57, the province as a whole: scored by the same rules, never ranked."""

    total: float | None
    band: str | None
    groups: tuple[float | None, ...]  # g1 … g6
    units_by_band: tuple[tuple[str, int], ...]  # (band, number of units), best band first
    units_not_scored: int = 0

    def __post_init__(self) -> None:
        _freeze(self, "groups", "units_by_band")
        if len(self.groups) != 6:
            raise ValueError(f"ProvinceSummary.groups needs 6 values (g1…g6), got {len(self.groups)}")


@dataclass(frozen=True)
class RankingRow:
    rank: int | None
    unit_code: str
    unit_name: str
    total: float | None
    band: str | None
    groups: tuple[float | None, ...]  # g1 … g6, None where the group does not apply
    rank_change: int | None  # positive = moved up since last month; None = no previous rank

    def __post_init__(self) -> None:
        _freeze(self, "groups")
        if len(self.groups) != 6:
            raise ValueError(f"{self.unit_code}: groups needs 6 values (g1…g6), got {len(self.groups)}")


@dataclass(frozen=True)
class TierSection:
    tier: str  # department | district | commune
    title: str  # "Sở, ban, ngành"
    rows: tuple[RankingRow, ...]  # in rank order, units not scored last

    def __post_init__(self) -> None:
        _freeze(self, "rows")


@dataclass(frozen=True)
class RankingContext:
    """Bảng xếp hạng: the ranked lists of a month, one section per tier."""

    period: str
    issued_on: dt.date
    province: ProvinceInfo
    province_summary: ProvinceSummary
    tiers: tuple[TierSection, ...]
    document_number: str = ""
    group_titles: tuple[tuple[int, str, float], ...] = field(default=INDEX_GROUPS)

    def __post_init__(self) -> None:
        _freeze(self, "tiers", "group_titles")
