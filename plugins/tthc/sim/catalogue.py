"""The province's units and procedure catalogue (danh mục TTHC), with per-unit defect rates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tthc.sim.reference import ACTIONS, FIELDS, Unit, all_units, responsible_department
from tthc.sim.settings import DEFECT_KINDS, GeneratorConfig

ONLINE_LEVELS = ("none", "partial", "full")
DURATION_UNITS = ("day", "working_day", "working_hour")
FEES_VND = (0, 10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


@dataclass(frozen=True)
class Province:
    """Units in code order, their defect rates, and the procedure catalogue as columns."""

    units: list[Unit]
    rates: dict[str, np.ndarray]  # defect kind -> rate per unit index
    weights: np.ndarray  # relative dossier volume per unit index (districts, communes)
    procedures: dict[str, np.ndarray]

    def unit_index(self, code: str) -> int:
        return next(i for i, u in enumerate(self.units) if u.code == code)


def unit_rates(rng: np.random.Generator, n_units: int, config: GeneratorConfig) -> dict[str, np.ndarray]:
    """Each unit's rate for each defect kind: its badness placed in the kind's range, plus noise."""
    badness = rng.random(n_units)
    rates = {}
    for kind in DEFECT_KINDS:
        r = config.defects[kind]
        noise = rng.random(n_units)
        position = (1 - config.unit_noise) * badness + config.unit_noise * noise
        rates[kind] = r.low + (r.high - r.low) * position
    return rates


def build_province(rng: np.random.Generator, config: GeneratorConfig, as_of: dt.date) -> Province:
    """Units known on `as_of` (the replica's 'now') and ~1,600 procedures across the fields."""
    units = [u for u in all_units() if u.valid_from <= as_of]
    rates = unit_rates(rng, len(units), config)
    weights = rng.lognormal(0.0, 0.6, len(units))
    for i, u in enumerate(units):
        if u.tier == "commune" and u.parent_code is None:
            weights[i] *= 2.5  # the post-reform communes absorb the district tier's work
    return Province(units, rates, weights, _procedures(rng, units, rates, as_of))


def _procedures(
    rng, units: list[Unit], rates: dict[str, np.ndarray], as_of: dt.date
) -> dict[str, np.ndarray]:
    index = {u.code: i for i, u in enumerate(units)}
    rows: dict[str, list] = {
        k: []
        for k in (
            "procedure_code",
            "name",
            "field",
            "field_index",
            "owner_unit_code",
            "owner_index",
            "authority_tier",
            "online_level",
            "has_fee",
            "fee_vnd",
            "is_certification",
            "has_eform",
            "reuse_eligible",
            "published_duration",
            "published_duration_unit",
            "configured_duration",
            "configured_duration_unit",
            "popularity",
            "origin",
            "ministry",
        )
    }
    codes = rng.choice(np.arange(1000, 13999), size=sum(n for f in FIELDS for _, n in f.tiers), replace=False)
    k = 0
    for fi, field in enumerate(FIELDS):
        owner = responsible_department(f"000.00.{field.department:02d}.H57", as_of)
        oi = index[owner]
        for tier, count in field.tiers:
            for j in range(count):
                code = f"{'1' if rng.random() < 0.8 else '2'}.{codes[k]:06d}"
                k += 1
                action = ACTIONS[(j // len(field.objects)) % len(ACTIONS)]
                subject = field.objects[j % len(field.objects)]
                suffix = (
                    f" (cấp {_TIER_VI[tier]})" if j < len(ACTIONS) * len(field.objects) else f" - mẫu {j}"
                )
                level = _online_level(rng, rates["no_online_service"][oi], field.certification)
                unit, amount = _duration(rng, tier, field.certification)
                mismatch = rng.random() < rates["duration_mismatch"][oi]
                conf_unit, conf_amount = _mismatched(rng, unit, amount) if mismatch else (unit, amount)
                fee = int(rng.choice(FEES_VND[1:])) if rng.random() < 0.4 else 0
                rows["procedure_code"].append(code)
                rows["name"].append(f"{action} {subject}{suffix}")
                rows["field"].append(field.name)
                rows["field_index"].append(fi)
                rows["owner_unit_code"].append(owner)
                rows["owner_index"].append(oi)
                rows["authority_tier"].append(tier)
                rows["online_level"].append(level)
                rows["has_fee"].append(fee > 0)
                rows["fee_vnd"].append(fee)
                rows["is_certification"].append(field.certification)
                rows["has_eform"].append(level != "none" and rng.random() >= rates["no_eform"][oi])
                rows["reuse_eligible"].append(bool(rng.random() < 0.3))
                rows["published_duration"].append(amount)
                rows["published_duration_unit"].append(unit)
                rows["configured_duration"].append(conf_amount)
                rows["configured_duration_unit"].append(conf_unit)
                rows["popularity"].append(1.0 / (1 + j) ** 1.1)
                rows["origin"].append(field.origin)
                rows["ministry"].append(field.ministry)
    return {key: np.array(values, dtype=object if key in _TEXT else None) for key, values in rows.items()}


_TEXT = {
    "procedure_code",
    "name",
    "field",
    "owner_unit_code",
    "authority_tier",
    "online_level",
    "published_duration_unit",
    "configured_duration_unit",
    "origin",
    "ministry",
}
_TIER_VI = {"department": "tỉnh", "district": "huyện", "commune": "xã"}


def _online_level(rng, no_online_rate: float, certification: bool) -> str:
    if certification or rng.random() < no_online_rate:
        return "none"
    return "full" if rng.random() < 0.6 else "partial"


def _duration(rng, tier: str, certification: bool) -> tuple[str, int]:
    if certification:
        return "working_hour", int(rng.choice([4, 8]))
    if rng.random() < 0.12:
        return "day", int(rng.choice([7, 15, 30, 45]))
    return "working_day", int(
        rng.choice([1, 3, 5, 7, 10, 15, 20] if tier != "department" else [5, 7, 10, 15, 20, 30])
    )


def _mismatched(rng, unit: str, amount: int) -> tuple[str, int]:
    """A configuration error: another unit of time (same number) or another number."""
    if rng.random() < 0.5:
        other = [u for u in DURATION_UNITS if u != unit]
        return other[int(rng.integers(len(other)))], amount
    return unit, amount + int(rng.choice([-1, 1, 2, 5])) if amount > 1 else amount + 2
