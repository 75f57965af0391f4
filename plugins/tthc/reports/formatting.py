"""Vietnamese formatting for the documents: numbers, dates, months, text normalisation.

Documents follow Vietnamese usage (comma as the decimal mark, dot between thousands) and
Decree 30/2020/NĐ-CP for the date of issue. Files meant for machines (CSV) keep '.'.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

DASH = "–"  # shown for an empty value (not applicable, not scored)
MINUS = "−"  # U+2212, typographic minus (Liberation Serif has the glyph)


def nfc(text: str) -> str:
    """Unicode NFC: Vietnamese letters as one precomposed code point each.

    Sources mix composed and decomposed forms; decomposed marks may be placed badly by the
    font and make text search in the PDF fail.
    """
    return unicodedata.normalize("NFC", text)


def _round_half_up(value: float, decimals: int) -> Decimal:
    # Through str() so that 87.525 rounds as written, not as its binary approximation.
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def format_number(value: float | int | None, decimals: int = 2, empty: str = DASH) -> str:
    """87.5312 → '87,53'; 12345 (decimals=0) → '12.345'; None → '–'."""
    if value is None:
        return empty
    rounded = _round_half_up(value, decimals)
    sign = MINUS if rounded < 0 else ""
    whole, _, frac = f"{abs(rounded):.{decimals}f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = ".".join(groups)
    return f"{sign}{text},{frac}" if decimals > 0 else f"{sign}{text}"


def format_count(value: float | int | None, empty: str = DASH) -> str:
    """Counts (numerators, denominators) without decimals: 1234 → '1.234'."""
    if value is None:
        return empty
    if float(value).is_integer():
        return format_number(value, 0, empty)
    return format_number(value, 2, empty)


def format_percent(ratio: float | None, decimals: int = 1, empty: str = DASH) -> str:
    """A ratio in [0, 1] as a Vietnamese percentage: 0.8753 → '87,5%'."""
    if ratio is None:
        return empty
    return f"{format_number(ratio * 100, decimals)}%"


def format_signed(value: float | int | None, decimals: int = 2, empty: str = DASH) -> str:
    """A change with its sign: +2,15 / −1,30 / 0,00."""
    if value is None:
        return empty
    text = format_number(value, decimals)
    return f"+{text}" if _round_half_up(value, decimals) > 0 else text


def format_date_line(day: dt.date) -> str:
    """'ngày 05 tháng 01 năm 2026' — Decree 30/2020/NĐ-CP, Annex I: a day below 10 and the
    months 1 and 2 get a leading zero; the other months are written as they are."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def parse_period(period: str) -> tuple[int, int]:
    """'2025-03' → (2025, 3); anything else raises ValueError."""
    year, sep, month = period.partition("-")
    if not (sep and len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit()):
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return int(year), int(month)


def format_month(period: str) -> str:
    """'2025-03' → 'tháng 3 năm 2025' (prose, no leading zero)."""
    year, month = parse_period(period)
    return f"tháng {month} năm {year}"


def format_month_short(period: str) -> str:
    """'2025-03' → '3/2025' (chart axis labels)."""
    year, month = parse_period(period)
    return f"{month}/{year}"
