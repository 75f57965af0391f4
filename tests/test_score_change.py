"""Why a score moved: the decomposition adds up exactly; the costliest failed items."""

from __future__ import annotations

import csv
from decimal import Decimal
from fractions import Fraction

import pytest
from warehouse_builder import Warehouse, at, sqlite_engine

from tthc.indicators.catalogue import load_catalogue
from tthc.insights.score_change import (
    PAYMENT_COMPONENT,
    TOTAL,
    costly_items,
    decompose,
    gains,
    score_changes,
    write_score_changes_csv,
)

EMPTY_PETITIONS = {"PETITION_PROCESSING_ON_TIME": (0, 0), "PETITION_HANDLING_SATISFACTION": (0, 0)}


def test_decomposition_by_hand_when_the_applicable_set_changes():
    cat = load_catalogue()
    previous = {"ON_TIME": (1, 2), "ONLINE_FULL_PROCESS": (0, 0), **EMPTY_PETITIONS}
    current = {"ON_TIME": (2, 2), "ONLINE_FULL_PROCESS": (1, 4), **EMPTY_PETITIONS}
    ch = decompose("U1", previous, current, cat)
    # previous: ON_TIME 10/20 + petitions 12/12 (empty_full) -> 100·22/32; current adds 3/12 of group 3
    assert ch.previous_total == Fraction(100 * 22, 32)
    assert ch.current_total == Fraction(100 * 35, 44)
    by_code = {c.code: c for c in ch.components}
    assert by_code["ON_TIME"].contribution == 100 * (Fraction(20, 44) - Fraction(10, 32))
    assert by_code["ONLINE_FULL_PROCESS"].contribution == Fraction(300, 44)
    assert by_code["ONLINE_FULL_PROCESS"].previous is None  # did not apply
    # the petitions earned the same 6 points, yet their share fell: group 3 now applies
    assert by_code["PETITION_PROCESSING_ON_TIME"].performance == 0
    assert by_code["PETITION_PROCESSING_ON_TIME"].applicability == 600 * (Fraction(1, 44) - Fraction(1, 32))
    assert sum(c.contribution for c in ch.components) == ch.total_change
    assert sum(g.contribution for g in ch.groups) == ch.total_change
    assert sum(c.performance + c.applicability for c in ch.components) == ch.total_change


def test_group_4_is_one_component_and_a_unit_not_scored_has_no_contributions():
    cat = load_catalogue()
    pay = {"ONLINE_PAYMENT_DOSSIERS": (1, 2), "ONLINE_PAYMENT_PROCEDURES": (1, 1), "FEE_DATA_DECLARED": (0, 1)}
    ch = decompose("U1", {"ON_TIME": (0, 0), **EMPTY_PETITIONS}, {"ON_TIME": (1, 1), **pay, **EMPTY_PETITIONS}, cat)
    g4 = next(c for c in ch.components if c.code == PAYMENT_COMPONENT)
    assert g4.current == Fraction(5)  # 6·½ + min(2, 2.5·1) + 0
    assert ch.previous_total is None and ch.total_change is None
    assert all(c.contribution is None for c in ch.components)
    assert next(g for g in ch.groups if g.group == 4).change == 5


def test_gains_are_each_components_room_to_its_maximum_and_fill_the_total_to_100():
    cat = load_catalogue()
    pay = {"ONLINE_PAYMENT_DOSSIERS": (1, 2), "ONLINE_PAYMENT_PROCEDURES": (1, 1), "FEE_DATA_DECLARED": (0, 1)}
    results = {"ON_TIME": (3, 4), "ONLINE_FULL_PROCESS": (1, 4), **pay, **EMPTY_PETITIONS}
    found = gains(cat, results)
    # M = 20 + 12 + 10 + 12: ON_TIME lacks 5 points, group 3 lacks 9, group 4 lacks 5 (scored 5 of 10)
    assert [(g.code, g.points) for g in found] == [("ONLINE_FULL_PROCESS", Fraction(900, 54)),
                                                   ("ON_TIME", Fraction(500, 54)),
                                                   (PAYMENT_COMPONENT, Fraction(500, 54))]
    assert found[2].failed == (("ONLINE_PAYMENT_DOSSIERS", 1), ("FEE_DATA_DECLARED", 1))
    assert found[1].failed == (("ON_TIME", 1),)
    # every point the unit misses is some component's gain: the gains fill the total up to 100
    assert decompose("U1", {}, results, cat).current_total + sum(g.points for g in found) == 100
    assert gains(cat, {"ON_TIME": (0, 0), **EMPTY_PETITIONS}) == []  # not scored: nothing to propose


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit("U1")
    w.unit("U2")
    w.procedure("P1", online_level="full")
    w.procedure("PFEE", has_fee=True)
    return w


def plant_two_months(wh: Warehouse) -> None:
    """February: on time, nothing online. March: late dossiers, online and fee dossiers appear."""
    for i in range(4):
        wh.dossier(f"F{i}", "U1", "P1", received_at=at(2025, 2, 3 + i, 9), due_at=at(2025, 2, 20, 17),
                   completed_at=at(2025, 2, 10, 9), status=9, result_format="electronic")
        wh.dossier(f"M{i}", "U1", "P1", received_at=at(2025, 3, 3 + i, 9), due_at=at(2025, 3, 10, 17),
                   completed_at=at(2025, 3, 12 + i, 9), status=9, channel=2 if i < 1 else 1)
    wh.dossier("MFEE", "U1", "PFEE", received_at=at(2025, 3, 4, 9), due_at=at(2025, 3, 20, 17),
               completed_at=at(2025, 3, 5, 9), status=9)
    wh.payment("PAY1", "MFEE", paid_at=at(2025, 3, 4, 10))
    wh.dossier("U2-F", "U2", "P1", received_at=at(2025, 2, 3, 9), due_at=at(2025, 2, 10, 17))
    wh.dossier("U2-M", "U2", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 5, 17),
               completed_at=at(2025, 3, 4, 9), status=9)
    wh.feedback("FB1", "U1", forwarded_at=at(2025, 3, 2, 9), published_at=at(2025, 3, 30, 9))
    wh.compute("2025-02")
    wh.compute("2025-03")


def test_warehouse_decomposition_adds_up_to_the_stored_totals(wh):
    plant_two_months(wh)
    changes = score_changes(wh.engine, "2025-03")
    feb, mar = wh.scores("2025-02"), wh.scores("2025-03")
    for unit in ("U1", "U2", "H57"):
        ch = changes[unit]
        assert float(ch.previous_total) == pytest.approx(feb[unit]["total"], abs=1e-9)
        assert float(ch.current_total) == pytest.approx(mar[unit]["total"], abs=1e-9)
        assert sum(c.contribution for c in ch.components) == ch.total_change  # exactly, as fractions
        assert sum(g.contribution for g in ch.groups) == ch.total_change
        for g in ch.groups:
            assert g.change == sum((c.change for c in ch.components if c.group == g.group), Fraction(0))
            stored = mar[unit][f"g{g.group}"]
            assert (g.current is None) == (stored is None)
    u1 = changes["U1"]
    assert u1.total_change < 0
    assert min(u1.components, key=lambda c: c.contribution).code == "ON_TIME"  # the late dossiers moved it most


def test_score_changes_csv_adds_up_at_its_printed_precision(wh, tmp_path):
    plant_two_months(wh)
    path = write_score_changes_csv(wh.engine, "2025-03", tmp_path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert set(rows[0]) == {"period", "unit_code", "component", "previous", "current", "change",
                            "contribution_to_total"}
    for unit in ("U1", "U2", "H57"):
        mine = [r for r in rows if r["unit_code"] == unit]
        total = next(r for r in mine if r["component"] == TOTAL)
        groups = [r for r in mine if r["component"] in {f"G{g}" for g in range(1, 7)}]
        parts = [r for r in mine if r not in groups and r is not total]
        assert len(groups) == 6 and parts
        assert sum(Decimal(r["contribution_to_total"]) for r in parts) == Decimal(total["change"])
        assert sum(Decimal(r["contribution_to_total"]) for r in groups) == Decimal(total["change"])
        assert Decimal(total["change"]) == Decimal(total["current"]) - Decimal(total["previous"])
    assert [r["unit_code"] for r in rows][-1] == "H57"


def test_costly_items_rank_failed_items_by_points_of_the_total(wh):
    plant_two_months(wh)
    every = costly_items(wh.engine, "2025-03", top_n=100)["U1"]
    m = sum(c.max_points for c in _components(wh, "U1"))  # Σ max over U1's applicable components
    assert [i.points_lost for i in every] == sorted((i.points_lost for i in every), reverse=True)
    item = {i.item_id: i for i in every}
    # FB1 was answered late: it fails 6.1 and 6.2, each worth all 6 points of a one-item population
    assert item["FB1"].indicator_codes == ("PETITION_PROCESSING_ON_TIME", "PETITION_HANDLING_SATISFACTION")
    assert item["FB1"].points_lost == 100 * Fraction(12) / m
    # M1 fails what M0 fails plus ONLINE_FULL_PROCESS (M0 came online): 12 points over 4 dossiers
    assert set(item["M1"].indicator_codes) - set(item["M0"].indicator_codes) == {"ONLINE_FULL_PROCESS"}
    assert item["M1"].points_lost - item["M0"].points_lost == 100 * Fraction(12, 4) / m
    assert "ON_TIME" in item["M0"].indicator_codes
    top = costly_items(wh.engine, "2025-03", top_n=3)["U1"]
    assert top == every[:3]


def _components(wh: Warehouse, unit: str):
    from tthc.insights.score_change import components, period_results

    return components(load_catalogue(), period_results(wh.engine, "2025-03")[unit])


def test_previous_month_without_results_counts_as_not_scored(wh):
    wh.dossier("ONLY-MAR", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 10, 17))
    wh.compute("2025-03")
    ch = score_changes(wh.engine, "2025-03")["U1"]
    assert ch.previous_total is None and ch.current_total is not None and ch.total_change is None


def test_the_scorecard_section_shows_the_decomposition_rounded_to_add_up(wh):
    """From the warehouse to what the scorecard prints: the stored totals, every part, the costliest items."""
    from tthc.reports.month_folder import score_change_sections
    from tthc.reports.render import change_view

    plant_two_months(wh)
    sections = score_change_sections(wh.engine, "2025-03", top_n=2)
    u1 = sections["U1"]
    mar, feb = wh.scores("2025-03")["U1"], wh.scores("2025-02")["U1"]
    assert u1.previous_period == "2025-02" and u1.compared
    assert u1.previous_total == pytest.approx(feb["total"]) and u1.current_total == pytest.approx(mar["total"])
    assert [g.code for g in u1.groups] == [f"G{g}" for g in range(1, 7)]
    assert "G4_PAYMENT" in {i.code for i in u1.indicators}  # group 4 as one component
    assert [i.item_id for i in u1.costly_items] == [i.item_id for i in costly_items(wh.engine, "2025-03", 2)["U1"]]
    view = change_view(u1)
    shown = Decimal(str(round(mar["total"], 2))) - Decimal(str(round(feb["total"], 2)))
    assert abs(Decimal(str(view["total_change"])) - shown) <= Decimal("0.01")
    assert sum(Decimal(str(s)) for _, s in view["groups"]) == Decimal(str(view["total_change"]))
    parts = [Decimal(str(s)) for _, s in view["indicators"]] + [Decimal(str(view["others_share"]))]
    assert sum(parts) == Decimal(str(view["total_change"]))
    assert view["indicators"][0][0].code == "ON_TIME"  # the late dossiers moved it most
