"""Why a score moved (vì sao điểm thay đổi): a unit's change against the previous month, by indicator.

**Components.** Every index indicator scored on its own rule, plus group 4 as one component
(`G4_PAYMENT`: the payment rule scores the group as a whole, its three ratios earn no points
separately). For a unit and a month, component i has points pᵢ and maximum mᵢ when it
applies, pᵢ = mᵢ = 0 when it does not; P = Σ pᵢ, M = Σ mᵢ, total T = 100·P/M
(indicators.md "A unit's total"). Points are recomputed exactly, as fractions, from the
stored numerators and denominators with the engine's own scoring functions.

**Decomposition of the total.** Component i's share of the total is sᵢ = 100·pᵢ/M, so
T = Σ sᵢ, and its contribution to the change is cᵢ = sᵢ(current) − sᵢ(previous). Then
Σ cᵢ = T(current) − T(previous) *exactly*, whatever indicators start or stop applying. Each
cᵢ splits into two parts that also add up exactly:
  performance    = 100·(pᵢ(cur) − pᵢ(prev)) / M(cur)   — the component's own points moved;
  applicability  = 100·pᵢ(prev)·(1/M(cur) − 1/M(prev)) — the denominator M moved because some
                   indicator started or stopped applying, re-weighting every component.
A group's contribution is the sum of its components'. Groups' own point changes
(gᵢ(cur) − gᵢ(prev), a missing group counted as 0) equal the sum of their components' point
changes exactly too.

**Costly items.** A failed item of indicator i costs the points it would have added had it
succeeded, converted to the total: cost = 100/M × (rule(num + 1, den) − rule(num, den)), with
the indicator's own rule — for `linear` and `empty_full` that is maxᵢ/den; for `target` it is
maxᵢ/(t·den) until the cap, 0 beyond it; for group 4's ratios it is the payment rule's change
when that ratio's numerator gains one. An item that failed several indicators costs the sum
of their marginals (each is a separate term of Σ points; the sum assumes one item at a time).

**Gains.** What a unit would gain next month were every failed item of a component to
succeed, the rest as they are: 100·(mᵢ − pᵢ)/M, the component's room below its maximum
converted to the total (the applicable set, so M, unchanged). The scorecard's page 1 names the
largest three: where the unit's effort earns the most points.
"""

from __future__ import annotations

import heapq
import math
import os
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tthc.indicators.catalogue import Catalogue, load_catalogue
from tthc.indicators.export import DECIMALS, csv_text, decimal6, unit_order
from tthc.indicators.scoring import ON_TIME, payment_points, round_half_up, rule_points
from tthc.indicators.tables import ind_results, ind_violations
from tthc.periods import Period

PAYMENT_COMPONENT = "G4_PAYMENT"
TOTAL = "TOTAL"
CSV_NAME = "score_changes.csv"
CSV_COLUMNS = ["period", "unit_code", "component", "previous", "current", "change", "contribution_to_total"]

Results = Mapping[str, tuple[int, int]]  # indicator code -> (numerator, denominator)


@dataclass(frozen=True)
class Component:
    """One scored component of a unit in one month; points None when it does not apply."""

    code: str
    group: int
    points: Fraction | None
    max_points: Fraction  # 0 when it does not apply


@dataclass(frozen=True)
class ComponentChange:
    code: str  # an indicator code or G4_PAYMENT
    group: int
    previous: Fraction | None  # points (None: did not apply)
    current: Fraction | None
    contribution: Fraction | None  # to the total's change; None when either month is not scored
    performance: Fraction | None
    applicability: Fraction | None

    @property
    def change(self) -> Fraction:
        return (self.current or 0) - (self.previous or 0)


@dataclass(frozen=True)
class GroupChange:
    group: int
    previous: Fraction | None
    current: Fraction | None
    contribution: Fraction | None

    @property
    def change(self) -> Fraction:
        return (self.current or 0) - (self.previous or 0)


@dataclass(frozen=True)
class ScoreChange:
    """A unit's total and groups this month and last, decomposed by component."""

    unit_code: str
    previous_total: Fraction | None  # None: not scored that month
    current_total: Fraction | None
    groups: tuple[GroupChange, ...]
    components: tuple[ComponentChange, ...]

    @property
    def total_change(self) -> Fraction | None:
        if self.previous_total is None or self.current_total is None:
            return None
        return self.current_total - self.previous_total


@dataclass(frozen=True)
class Gain:
    """A component's room below its maximum, in points of the total, and the failed items behind it."""

    code: str  # an indicator code or G4_PAYMENT
    group: int
    points: Fraction  # on the 100-point total
    failed: tuple[tuple[str, int], ...]  # (indicator code, failed items) of the ratios it is scored on


@dataclass(frozen=True)
class CostlyItem:
    """A failed item and the points of the total its failure cost (mục làm mất điểm nhiều nhất)."""

    unit_code: str
    item_type: str
    item_id: str
    indicator_codes: tuple[str, ...]  # every index indicator it failed, in catalogue order
    points_lost: Fraction  # on the 100-point total, summed over those indicators


# --- components of one month ---------------------------------------------------------------
def components(cat: Catalogue, results: Results) -> list[Component]:
    """The unit's scored components, as score_unit scores them (applicability included)."""
    out = []
    for ind in cat.indicators:
        if ind.family != "index" or ind.rule == "payment-part" or ind.code not in results:
            continue
        num, den = results[ind.code]
        applies = den > 0 or ind.rule == "empty_full"
        out.append(Component(ind.code, ind.group, rule_points(ind, num, den) if applies else None,
                             ind.max_fraction if applies else Fraction(0)))
    parts = cat.payment_parts()
    if parts and all(p.code in results for p in parts):
        group = parts[0].group
        applies = results[parts[0].code][1] > 0
        out.append(Component(PAYMENT_COMPONENT, group,
                             payment_points(*(x for p in parts for x in results[p.code])) if applies else None,
                             Fraction(str(cat.group(group).max_points)) if applies else Fraction(0)))
    return out


def total_of(results: Results, comps: list[Component]) -> Fraction | None:
    """100 × Σ points / Σ max; None when not scored (no ON_TIME dossier)."""
    possible = sum((c.max_points for c in comps), Fraction(0))
    if results.get(ON_TIME, (0, 0))[1] == 0 or possible == 0:
        return None
    return 100 * sum((c.points or Fraction(0) for c in comps), Fraction(0)) / possible


def decompose(unit_code: str, previous: Results, current: Results, cat: Catalogue | None = None) -> ScoreChange:
    """The exact decomposition of the module docstring."""
    cat = cat or load_catalogue()
    before, after = components(cat, previous), components(cat, current)
    t0, t1 = total_of(previous, before), total_of(current, after)
    m0 = sum((c.max_points for c in before), Fraction(0))
    m1 = sum((c.max_points for c in after), Fraction(0))
    scored = t0 is not None and t1 is not None
    old = {c.code: c for c in before}
    changes = []
    for c in after + [c for c in before if c.code not in {a.code for a in after}]:
        p0 = old[c.code].points if c.code in old else None
        p1 = c.points if c.code in {a.code for a in after} else None
        if scored:
            perf = 100 * ((p1 or 0) - (p0 or 0)) / m1
            appl = 100 * (p0 or 0) * (Fraction(1) / m1 - Fraction(1) / m0)
        else:
            perf = appl = None
        changes.append(ComponentChange(c.code, c.group, p0, p1, None if perf is None else perf + appl, perf, appl))
    groups = []
    for g in cat.groups:
        mine = [c for c in changes if c.group == g.group]
        g0 = _group_points([c for c in before if c.group == g.group])
        g1 = _group_points([c for c in after if c.group == g.group])
        contrib = sum((c.contribution for c in mine), Fraction(0)) if scored else None
        groups.append(GroupChange(g.group, g0, g1, contrib))
    return ScoreChange(unit_code, t0, t1, tuple(groups), tuple(changes))


def _group_points(comps: list[Component]) -> Fraction | None:
    applying = [c.points for c in comps if c.points is not None]
    return sum(applying, Fraction(0)) if applying else None


def gains(cat: Catalogue, results: Results) -> list[Gain]:
    """The scored components that lose points, by what each would add to the total at its maximum
    (largest first, then catalogue order); empty when the unit is not scored."""
    comps = components(cat, results)
    possible = sum((c.max_points for c in comps), Fraction(0))
    if total_of(results, comps) is None:
        return []
    order = cat.order()
    parts = [p.code for p in cat.payment_parts()]
    out = []
    for c in comps:
        if c.points is None or c.points >= c.max_points:
            continue
        codes = parts if c.code == PAYMENT_COMPONENT else [c.code]
        failed = tuple((code, results[code][1] - results[code][0]) for code in codes
                       if results[code][1] > results[code][0])
        out.append(Gain(c.code, c.group, 100 * (c.max_points - c.points) / possible, failed))
    # group 4 as a whole takes the place of its first ratio in the catalogue's order
    return sorted(out, key=lambda g: (-g.points, order[parts[0] if g.code == PAYMENT_COMPONENT else g.code]))


# --- costly items -----------------------------------------------------------------------
def marginal_points(cat: Catalogue, results: Results, code: str) -> Fraction:
    """Points the unit would gain had one more item of indicator `code` succeeded."""
    ind = cat.get(code)
    num, den = results[code]
    if ind.rule == "payment-part":
        parts = cat.payment_parts()
        now = [x for p in parts for x in results[p.code]]
        better = [x for p in parts for x in ((results[p.code][0] + 1, results[p.code][1]) if p.code == code
                                             else results[p.code])]
        return payment_points(*better) - payment_points(*now)
    return rule_points(ind, num + 1, den) - rule_points(ind, num, den)


def item_costs(cat: Catalogue, results: Results) -> dict[str, Fraction]:
    """Indicator code -> the points of the total one failed item of it costs (scored units only)."""
    comps = components(cat, results)
    possible = sum((c.max_points for c in comps), Fraction(0))
    if total_of(results, comps) is None:
        return {}
    applying = {c.code for c in comps if c.points is not None}
    out = {}
    for ind in cat.indicators:
        if ind.family != "index" or ind.code not in results or results[ind.code][1] == 0:
            continue
        scored_as = PAYMENT_COMPONENT if ind.rule == "payment-part" else ind.code
        if scored_as in applying:
            out[ind.code] = 100 * marginal_points(cat, results, ind.code) / possible
    return out


# --- reading the warehouse ----------------------------------------------------------------
def period_results(engine: Engine, period: str) -> dict[str, dict[str, tuple[int, int]]]:
    """unit code -> indicator code -> (numerator, denominator), from ind_results."""
    r = ind_results.c
    out: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    with engine.connect() as conn:
        for unit, code, num, den in conn.execute(
                sa.select(r.unit_code, r.indicator_code, r.numerator, r.denominator).where(r.period == period)):
            out[unit][code] = (int(num), int(den))
    return out


def score_changes(engine: Engine, period: str, cat: Catalogue | None = None,
                  units: Collection[str] | None = None) -> dict[str, ScoreChange]:
    """Every unit of `period` (and H57), or only `units`, against the previous month (empty
    results if it had none)."""
    cat = cat or load_catalogue()
    current = period_results(engine, period)
    previous = period_results(engine, Period(period).previous().code)
    return {unit: decompose(unit, previous.get(unit, {}), current[unit], cat) for unit in sorted(current)
            if units is None or unit in units}


def item_losses(engine: Engine, period: str, cat: Catalogue | None = None,
                units: Collection[str] | None = None, violations: Iterable[tuple] | None = None
                ) -> dict[str, list[CostlyItem]]:
    """Each unit's (or only `units`') failed items that cost points, with what each cost;
    `violations` when the caller read those units' rows already (unit, indicator, item type, item id, …).

    An item failing several index indicators (a late dossier also fails the receiving
    satisfaction) costs the sum: their points are separate terms of Σ points.
    """
    cat = cat or load_catalogue()
    order = cat.order()
    costs = {unit: item_costs(cat, res) for unit, res in period_results(engine, period).items()
             if units is None or unit in units}
    costly = {unit: {code for code, cost in per_code.items() if cost} for unit, per_code in costs.items()}
    if violations is None:
        v = ind_violations.c
        with engine.connect() as conn:
            wanted = [] if units is None else [v.unit_code.in_(sorted(units))]
            # only the indicators that cost points somewhere: the duties' failures are most of the rows
            violations = conn.execute(
                sa.select(v.unit_code, v.indicator_code, v.item_type, v.item_id)
                .where(v.period == period, v.indicator_code.in_(sorted(set().union(*costly.values()))), *wanted)
            ).all()
    lost: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for unit, code, item_type, item_id, *_ in violations:
        if code in costly.get(unit, ()):
            lost[(unit, item_type, item_id)].append(code)
    # tens of thousands of items, a few combinations of indicators a unit: each one's sum made once
    summed: dict[tuple[str, tuple[str, ...]], Fraction] = {}
    out: dict[str, list[CostlyItem]] = defaultdict(list)
    for (unit, item_type, item_id), failed in lost.items():
        codes = tuple(failed) if len(failed) == 1 else tuple(sorted(failed, key=order.__getitem__))
        lost_points = summed.get((unit, codes))
        if lost_points is None:
            lost_points = summed[(unit, codes)] = (costs[unit][codes[0]] if len(codes) == 1 else
                                                   sum((costs[unit][c] for c in codes), Fraction(0)))
        out[unit].append(CostlyItem(unit, item_type, item_id, codes, lost_points))
    return dict(sorted(out.items()))


def scaled_costs(items: list[CostlyItem]) -> list[int]:
    """Each item's points lost as an integer on one scale (the lcm of their denominators): ordered
    exactly as the fractions and compared far faster — a unit has tens of thousands of failed items."""
    scale = math.lcm(*{i.points_lost.denominator for i in items})
    return [i.points_lost.numerator * (scale // i.points_lost.denominator) for i in items]


def costly_items(engine: Engine, period: str, top_n: int = 10, cat: Catalogue | None = None,
                 units: Collection[str] | None = None, losses: dict[str, list[CostlyItem]] | None = None
                 ) -> dict[str, list[CostlyItem]]:
    """Each unit's (or only `units`') `top_n` failed items that cost the most points (cost desc,
    indicator order, item id); `losses` when item_losses was read already."""
    cat = cat or load_catalogue()
    order = cat.order()
    losses = item_losses(engine, period, cat, units) if losses is None else losses
    out = {}
    for unit, items in losses.items():
        ranked = heapq.nsmallest(top_n, ((-cost, order[i.indicator_codes[0]], i.item_id, n)
                                         for n, (cost, i) in enumerate(zip(scaled_costs(items), items, strict=True))))
        out[unit] = [items[n] for *_, n in ranked]
    return out


# --- score_changes.csv --------------------------------------------------------------------
def apportioned(values: list[Fraction], decimals: int, target: Fraction | None = None) -> list[Fraction]:
    """`values` at `decimals` decimals, adding up exactly to `target` (largest remainders).

    `target` is their sum rounded half-up, or that sum already rounded another way (less than
    one unit of the last decimal away: a group's rounded part, shared among its indicators).
    Rounding each contribution on its own could leave the column a few units of the last decimal
    off its total; the reader is meant to see the decomposition add up, so the rounding is shared.
    """
    scale = 10**decimals
    if target is None:
        target = round_half_up(sum(values, Fraction(0)), decimals)
    floors = [math.floor(v * scale) for v in values]
    missing = int(target * scale) - sum(floors)
    by_remainder = sorted(range(len(values)), key=lambda i: -(values[i] * scale - floors[i]))
    for i in by_remainder[:missing]:
        floors[i] += 1
    return [Fraction(f, scale) for f in floors]


def apportion(values: list[Fraction | None]) -> list[str]:
    """The CSV's contributions at 6 decimals, adding up to their exact sum — the change of the total —
    at 6 decimals (empty cells when nothing is compared)."""
    if any(v is None for v in values):
        return [decimal6(v) for v in values]
    return [decimal6(v) for v in apportioned(values, DECIMALS)]


def csv_rows(period: str, changes: dict[str, ScoreChange]) -> list[list[str]]:
    """TOTAL, then G1..G6 (group points), then each component (points); change = current − previous
    (a side that does not apply counted as 0). contribution_to_total: the groups' add up to
    TOTAL's change, and so do the components'."""
    rows = []
    for unit in sorted(changes, key=unit_order):
        ch = changes[unit]
        total = ch.total_change
        rows.append([period, unit, TOTAL, decimal6(ch.previous_total), decimal6(ch.current_total),
                     decimal6(total), decimal6(total)])
        shares = apportion([g.contribution for g in ch.groups])
        rows.extend([period, unit, f"G{g.group}", decimal6(g.previous), decimal6(g.current), decimal6(g.change),
                     share] for g, share in zip(ch.groups, shares, strict=True))
        shares = apportion([c.contribution for c in ch.components])
        rows.extend([period, unit, c.code, decimal6(c.previous), decimal6(c.current), decimal6(c.change), share]
                    for c, share in zip(ch.components, shares, strict=True))
    return rows


def write_score_changes_csv(engine: Engine, period: str, folder: Path) -> Path:
    """folder/score_changes.csv (UTF-8, 6 decimals like the month's other CSVs), written atomically."""
    text = csv_text(CSV_COLUMNS, csv_rows(period, score_changes(engine, period)))
    path = folder / CSV_NAME
    tmp = folder / f".{CSV_NAME}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)
    return path
