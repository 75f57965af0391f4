"""The portal's scoring rules (cách tính điểm), a unit's total, its band and its rank.

Points are computed exactly, as fractions, so that a total of 80 is 80 and not
79.99999999999999; bands and ranks compare totals rounded half-up to 9 decimals
(indicators.md "A unit's total"), which is also what a float implementation gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tthc.indicators.catalogue import Catalogue, Indicator, load_catalogue

PAYMENT = "PAYMENT"
ON_TIME = "ON_TIME"
RANK_DECIMALS = 9

Number = int | float | str | Decimal | Fraction


def _exact(x: Number) -> Fraction:
    # str() first: 0.8 means the decimal 0.8, not the binary float nearest to it.
    return x if isinstance(x, Fraction) else Fraction(str(x))


def ratio(numerator: Number, denominator: Number) -> Fraction | None:
    """value = numerator / denominator; none when the denominator is 0."""
    den = _exact(denominator)
    return None if den == 0 else _exact(numerator) / den


def rule_points(indicator: Indicator, numerator: Number, denominator: Number) -> Fraction:
    """Points of one indicator under its rule (linear, target or empty_full)."""
    value = ratio(numerator, denominator)
    top = indicator.max_fraction
    if indicator.rule == "linear":
        return Fraction(0) if value is None else top * value
    if indicator.rule == "target":
        return Fraction(0) if value is None else min(top, top * value / _exact(indicator.target))
    if indicator.rule == "empty_full":
        return top if value is None else top * value
    raise ValueError(f"{indicator.code}: rule '{indicator.rule}' is not scored on its own")


def payment_points(a_num: Number, a_den: Number, b_num: Number, b_den: Number,
                   c_num: Number, c_den: Number) -> Fraction:
    """Group 4: min(10, 6·A + min(2, 2.5·B) + 2.5·C), each ratio 0 when its denominator is 0."""
    a, b, c = (ratio(n, d) or Fraction(0) for n, d in ((a_num, a_den), (b_num, b_den), (c_num, c_den)))
    half5 = Fraction(5, 2)
    return min(Fraction(10), 6 * a + min(Fraction(2), half5 * b) + half5 * c)


def points(indicator_code: str, *numbers: Number, catalogue: Catalogue | None = None) -> float:
    """The portal's points: points(code, num, den), or points("PAYMENT", a_n, a_d, b_n, b_d, c_n, c_d)."""
    cat = catalogue or load_catalogue()
    if indicator_code == PAYMENT:
        if len(numbers) != 6:
            raise ValueError("PAYMENT takes six numbers: A_NUM A_DEN B_NUM B_DEN C_NUM C_DEN")
        return float(payment_points(*numbers))
    if len(numbers) != 2:
        raise ValueError(f"{indicator_code} takes two numbers: NUMERATOR DENOMINATOR")
    indicator = cat.get(indicator_code)
    if indicator.rule == "payment-part":
        raise ValueError(f"{indicator_code} is scored with its group: use PAYMENT with A, B and C")
    if indicator.rule == "none":
        raise ValueError(f"{indicator_code} is a duty of letter 11821 and earns no points")
    return float(rule_points(indicator, *numbers))


@dataclass(frozen=True)
class UnitScore:
    """g1..g6 (None where the group does not apply) and the total (None when not scored)."""

    groups: dict[int, Fraction | None]
    points_sum: Fraction
    max_sum: Fraction
    total: Fraction | None
    indicator_points: dict[str, Fraction | None]


def score_unit(cat: Catalogue, results: Mapping[str, tuple[int, int]]) -> UnitScore:
    """A unit's group points and total from its (numerator, denominator) per indicator code.

    An indicator applies when its denominator is > 0 or its rule is empty_full; group 4
    applies when the unit has fee dossiers (A's denominator > 0). Indicators the unit's tier
    has no row for are simply absent from `results`. Total = 100 × Σ points / Σ max over
    applicable indicators; a unit with no ON_TIME dossier is not scored.
    """
    groups: dict[int, Fraction | None] = {g.group: None for g in cat.groups}
    per_indicator: dict[str, Fraction | None] = {}
    earned, possible = Fraction(0), Fraction(0)
    for ind in cat.indicators:
        if ind.family != "index" or ind.rule == "payment-part" or ind.code not in results:
            continue
        num, den = results[ind.code]
        applies = den > 0 or ind.rule == "empty_full"
        per_indicator[ind.code] = rule_points(ind, num, den) if applies else None
        if applies:
            groups[ind.group] = (groups[ind.group] or Fraction(0)) + per_indicator[ind.code]
            earned += per_indicator[ind.code]
            possible += ind.max_fraction
    parts = cat.payment_parts()
    if parts and all(p.code in results for p in parts) and results[parts[0].code][1] > 0:
        group = parts[0].group
        groups[group] = payment_points(*(x for p in parts for x in results[p.code]))
        earned += groups[group]
        possible += _exact(cat.group(group).max_points)
    scored = results.get(ON_TIME, (0, 0))[1] > 0 and possible > 0
    total = 100 * earned / possible if scored else None
    return UnitScore(groups, earned, possible, total, per_indicator)


def round_half_up(x: Fraction | float, decimals: int) -> Decimal:
    """x rounded half-up (away from zero at .5) to `decimals` places, exactly for fractions."""
    q = Decimal(1).scaleb(-decimals)
    if isinstance(x, Fraction):
        scaled = x * 10**decimals
        whole = (abs(scaled.numerator) * 2 + scaled.denominator) // (2 * scaled.denominator)
        return (Decimal(whole if x >= 0 else -whole) * q).quantize(q)
    return Decimal(repr(x)).quantize(q, rounding=ROUND_HALF_UP)


def rank_key(total: Fraction, g2: Fraction | None, unit_code: str) -> tuple:
    """Ranks: total (desc, rounded to 9 decimals), then g2 (desc, empty as 0), then unit code."""
    return (-round_half_up(total, RANK_DECIMALS), -(g2 or Fraction(0)), unit_code)


def ranks(scored_units: Iterable[tuple[str, Fraction, Fraction | None]]) -> dict[str, int]:
    """Rank 1..n of (unit_code, total, g2) within one tier."""
    ordered = sorted(scored_units, key=lambda u: rank_key(u[1], u[2], u[0]))
    return {code: pos for pos, (code, _, _) in enumerate(ordered, start=1)}
