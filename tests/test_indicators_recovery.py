"""The generator's planted defect rates are recovered by the engine (issue 5).

A generated province (the demo seed, August and September 2025) goes through the real
pipeline pieces — provincial extraction, the national feeds through the real HTTP mock,
the quality gate — and compute_period. For each planted defect kind whose indicator is
computed, each unit's failure share is compared with the unit's configured rate
(GenerationSummary.unit_rates).

Tolerance. A unit's failures are a binomial draw: n items each failing with probability
p, so the share's standard error is sqrt(p(1-p)/n). We allow Z standard errors (Z = 4.5:
about 60 units × 20 comparisons, a two-sided 4.5-σ miss has probability ~7e-6 each, and the
seed is fixed, so the test is deterministic) with p floored at 0.05 so that a near-zero
rate on a small unit is not judged on a vanishing error. Where a kind only pulls its
indicator down together with other things, the allowance is one-sided and says why.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from national_server import running_national_mock

from tthc.cli import DEMO_SEED
from tthc.extract.national import NationalClient, feeds, load_feed
from tthc.extract.provincial import extract_all
from tthc.indicators.engine import compute_period
from tthc.indicators.tables import ind_results, ind_unit_scores, ind_violations
from tthc.periods import Period
from tthc.quality.gate import run_gate
from tthc.sim.generator import GenerationSummary, generate
from tthc.sim.settings import DEFECT_KINDS
from tthc.warehouse import schema as wh
from tthc.warehouse.db import engine_for_url

M = Period("2025-09")
RUN_STARTED = dt.datetime(2025, 10, 1, 2, 0)  # the night after the month: the replica's "now"
DOSSIERS_PER_YEAR = 120_000  # ~10,000 a month: ~40-1,000 items per unit and indicator
Z = 4.5
MIN_ITEMS = 40
MIN_UNITS = 15  # units with MIN_ITEMS items or more, per indicator: the comparison has some reach
TOKEN = "recovery-token"

# One defect kind, one indicator: each item fails exactly when the kind was planted on it
# (drawn independently per item at the unit's rate), so the failure share estimates the rate.
DIRECT = {
    "late_online_receipt": "D2_2_ONLINE_RECEIPT_8WH",
    "paper_result": "ORIGINAL_RESULT_AVAILABLE",
    "inputs_not_digitized": "D5_1_INPUTS_DIGITIZED",
    "result_not_digitized": "D5_1_RESULT_DIGITIZED",
    "no_reuse": "REUSED_DIGITIZED_DATA",
    "no_personal_store": "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
    "no_citizen_data": "CITIZEN_DATA_CONNECTED_DOSSIER",
    "offline_payment": "D4_2_ONLINE_PAYMENT_SHARE",
    "other_gateway": "D4_3_PROVINCIAL_GATEWAY",
}


@dataclass(frozen=True)
class Province:
    engine: sa.Engine
    summary: GenerationSummary
    results: dict[tuple[str, str], tuple[int, int]]  # (unit, indicator) -> (numerator, denominator)


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Province:
    root = tmp_path_factory.mktemp("recovery")
    source_url, national_url = f"sqlite:///{root / 'replica.db'}", f"sqlite:///{root / 'national.db'}"
    summary = generate(source_url, national_url, M.previous().first_day, M.last_day, seed=DEMO_SEED,
                       dossiers_per_year=DOSSIERS_PER_YEAR)
    url = f"sqlite:///{root / 'warehouse.db'}"
    engine = engine_for_url(url)
    wh.create_all(engine)
    margin = dt.timedelta(minutes=10)
    extract_all(sa.create_engine(source_url), engine, "recovery", RUN_STARTED, margin)
    with running_national_mock(national_url, TOKEN) as base_url:
        client = NationalClient(base_url, TOKEN)
        for feed in feeds("H57"):
            load_feed(client, engine, feed, "recovery", RUN_STARTED, margin)
    run_gate(engine, url, "recovery", M.code, RUN_STARTED)
    compute_period(engine, M.code, RUN_STARTED)
    r = ind_results.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.unit_code, r.indicator_code, r.numerator, r.denominator)
                            .where(r.period == M.code)).all()
    return Province(engine, summary, {(u, i): (n, d) for u, i, n, d in rows})


def names(description: str, indicator: str) -> bool:
    """The generator's description of a kind names the indicator (or its duty, e.g. 'D5_1')."""
    named = description.split(":")[0].split(", ")
    return any(indicator.startswith(code.rstrip("*")) for code in named)


def standard_error(p: float, n: int) -> float:
    p = min(max(p, 0.05), 0.95)
    return math.sqrt(p * (1 - p) / n)


def either(rates: dict[str, dict[str, float]], kinds: list[str], unit: str) -> float:
    """The chance that at least one of independently planted kinds hits an item."""
    return 1 - math.prod(1 - rates[k][unit] for k in kinds)


def failure_shares(p: Province, indicator: str) -> dict[str, tuple[float, int]]:
    """Unit -> (failure share, items) for units with enough items (H57 left out)."""
    return {
        unit: (1 - num / den, den) for (unit, code), (num, den) in p.results.items()
        if code == indicator and unit != "H57" and den >= MIN_ITEMS
    }


def misses(shares: dict[str, tuple[float, int]], expected, below: float = 0.0, above: float = 0.0) -> list:
    """Units whose share lies outside expected ± Z·SE, widened by the stated one-sided allowances."""
    out = []
    for unit, (share, n) in shares.items():
        p, tol = expected(unit), Z * standard_error(expected(unit), n)
        if not p - tol - below <= share <= p + tol + above:
            out.append((unit, n, round(p, 3), round(share, 3)))
    return out


def test_every_direct_kind_is_recovered_per_unit(province):
    rates = province.summary.unit_rates
    problems = {}
    for kind, indicator in DIRECT.items():
        assert names(DEFECT_KINDS[kind], indicator), (kind, indicator)
        shares = failure_shares(province, indicator)
        if len(shares) < MIN_UNITS:
            problems[kind] = f"only {len(shares)} units with {MIN_ITEMS}+ items"
        elif missed := misses(shares, lambda u, k=kind: rates[k][u]):
            problems[kind] = missed
    assert problems == {}


def test_e_forms_are_recovered_per_owner_department(province):
    """no_eform is drawn once per online procedure, for its owner department: D5_4's items
    (the department's own online procedures, not dated) are exactly those draws."""
    rates = province.summary.unit_rates["no_eform"]
    shares = failure_shares(province, "D5_4_EFORM_COVERAGE")
    assert len(shares) >= 5  # about a dozen departments, most with 40+ online procedures
    assert misses(shares, lambda u: rates[u]) == []


def test_direct_kinds_add_up_at_province_level(province):
    """H57's failures = the units' expected failures summed (items of inactive units aside)."""
    rates = province.summary.unit_rates
    for kind, indicator in DIRECT.items():
        units = [(u, den) for (u, code), (_, den) in province.results.items() if code == indicator and u != "H57"]
        expected = sum(rates[kind][u] * den for u, den in units)
        spread = math.sqrt(sum(rates[kind][u] * (1 - rates[kind][u]) * den for u, den in units))
        num, den = province.results[("H57", indicator)]
        assert den == sum(d for _, d in units), indicator  # every item is an active unit's here
        assert abs((den - num) - expected) <= Z * spread + 1, (kind, den - num, round(expected))


def test_two_kinds_on_one_indicator(province):
    """An item fails when either of two independently planted kinds hits it."""
    rates = province.summary.unit_rates
    # SO_HOA: inputs and result digitised. DOSSIER_SYNC: missing from the feed, or stale;
    # an empty feed key (dirty data, 0.1 % of records) also leaves a dossier missing: +0.01.
    for indicator, kinds, above in (("SO_HOA_GIAY_TO_GIAI_QUYET", ["inputs_not_digitized", "result_not_digitized"], 0),
                                    ("DOSSIER_SYNC", ["sync_missing", "sync_stale"], 0.01)):
        shares = failure_shares(province, indicator)
        assert len(shares) >= MIN_UNITS
        assert misses(shares, lambda u, ks=kinds: either(rates, ks, u), above=above) == [], indicator


def test_late_completion_is_recovered_from_on_time_violations(province):
    """ON_TIME's own share mixes months: a late dossier still open at the end of M with its due
    date after M passes in M (spec: open at end, due_at ≥ end) and fails the next month. So the
    rate is read where it is planted once per dossier: the dossiers completed in M, failing
    ON_TIME as finished late or with a second supplement request."""
    rates = province.summary.unit_rates
    d, v, q = wh.stg_dossiers.c, ind_violations.c, wh.quality_excluded_dossiers.c
    completed = (d.completed_at >= M.start) & (d.completed_at < M.end) & d.received_at.is_not(None) \
        & d.status.not_in([1, 3]) & d.dossier_code.not_in(sa.select(q.dossier_code))
    with province.engine.connect() as conn:
        totals = dict(conn.execute(sa.select(d.unit_code, sa.func.count()).where(completed)
                                   .group_by(d.unit_code)).all())
        failed = dict(conn.execute(
            sa.select(v.unit_code, sa.func.count())
            .where(v.period == M.code, v.indicator_code == "ON_TIME",
                   v.detail.in_(["finished_late", "second_supplement"]),
                   v.item_id.in_(sa.select(d.dossier_code).where(completed)))
            .group_by(v.unit_code)).all())
    shares = {u: (failed.get(u, 0) / n, n) for u, n in totals.items()
              if n >= MIN_ITEMS and (u, "ON_TIME") in province.results}  # active units only
    assert len(shares) >= MIN_UNITS
    assert misses(shares, lambda u: either(rates, ["late_completion", "second_supplement"], u)) == []


def test_one_sided_kinds(province):
    """Kinds that are one of several ways to fail, or that other rules dilute."""
    rates = province.summary.unit_rates
    # D6_3: no apology, or one less than 24 h before due_at; an apology for a short
    # (working-hour) procedure cannot come a day ahead at all, so more fail: above +0.25.
    # Late dossiers are few (1-30 % of a unit's), so fewer units reach MIN_ITEMS here.
    apology = failure_shares(province, "D6_3_APOLOGY_BEFORE_DUE")
    assert len(apology) >= 8
    assert misses(apology, lambda u: either(rates, ["missing_apology", "late_apology"], u), above=0.25) == []
    # ONLINE_PAYMENT_DOSSIERS: paid offline, or not yet paid / refunded (withdrawn): above +0.1.
    paid = failure_shares(province, "ONLINE_PAYMENT_DOSSIERS")
    assert len(paid) >= MIN_UNITS
    assert misses(paid, lambda u: rates["offline_payment"][u], above=0.1) == []
    # ONLINE_FULL_PROCESS: on days off only online filing happens, whatever the unit's rate,
    # so a few percent of a unit's items cannot fail: below by up to 10 % of the highest rate.
    full = failure_shares(province, "ONLINE_FULL_PROCESS")
    assert len(full) >= MIN_UNITS
    assert misses(full, lambda u: rates["offline_full_procedure"][u],
                  below=0.1 * max(rates["offline_full_procedure"].values())) == []


def test_unit_totals_spread_like_a_real_province(province):
    s = ind_unit_scores.c
    with province.engine.connect() as conn:
        totals = [t for t, in conn.execute(sa.select(s.total).where(s.period == M.code, s.unit_code != "H57",
                                                                       s.total.is_not(None)))]
    assert len(totals) >= 40
    assert min(totals) < 70 < 85 < max(totals)


def period_rows(engine: sa.Engine, period: str) -> tuple[set, set]:
    r, v = ind_results.c, ind_violations.c
    with engine.connect() as conn:
        results = set(conn.execute(sa.select(r.unit_code, r.indicator_code, r.numerator, r.denominator, r.points)
                                   .where(r.period == period)).all())
        violations = set(conn.execute(sa.select(v.unit_code, v.indicator_code, v.item_id, v.detail)
                                      .where(v.period == period)).all())
    return results, violations


def test_the_period_scope_changes_no_number(province, monkeypatch, tmp_path):
    """run/period_scope.sql narrows a run to the dossiers the period can touch; the numbers and
    violations must be those of the same run over every staged dossier — for the month with
    history before it, and for the month with the other one after it."""
    from tthc.indicators import tables

    every_dossier = tmp_path / "every_dossier.sql"
    every_dossier.write_text("SELECT d.dossier_code FROM stg_dossiers d\n", encoding="utf-8")
    for period in (M.previous().code, M.code):
        compute_period(province.engine, period, RUN_STARTED)
        scoped = period_rows(province.engine, period)
        with monkeypatch.context() as patch:
            patch.setattr(tables, "PERIOD_SCOPE_SQL", every_dossier)
            compute_period(province.engine, period, RUN_STARTED)
        assert period_rows(province.engine, period) == scoped, period
        assert len(scoped[0]) > 1000 and len(scoped[1]) > 1000
        compute_period(province.engine, period, RUN_STARTED)  # the fixture's rows back for the other tests
