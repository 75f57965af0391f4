"""Group 3 — Dịch vụ công trực tuyến and group 4 — Thanh toán trực tuyến, with duties 3.x and 4.x."""

from __future__ import annotations

import pytest
from warehouse_builder import Warehouse, at, sqlite_engine

M = "2025-03"
IN_M = at(2025, 3, 3, 9)


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit("U1")
    w.unit("U2")
    w.procedure("FULL", online_level="full")
    w.procedure("FULL_FEE", online_level="full", has_fee=True)
    w.procedure("PART_FEE", online_level="partial", has_fee=True)
    w.procedure("NONE", online_level="none")
    w.procedure("NULL_LEVEL", online_level=None)
    return w


def test_online_full_process_and_duties_3(wh):
    wh.dossier("f_online", "U1", "FULL", received_at=IN_M, channel=2, completed_at=at(2025, 3, 5),
               result_format="electronic")
    wh.dossier("f_direct", "U1", "FULL", received_at=IN_M, channel=1, completed_at=at(2025, 3, 5),
               result_format="electronic")
    wh.dossier("f_post", "U1", "FULL", received_at=IN_M, channel=3)
    wh.dossier("ff_online_paid", "U1", "FULL_FEE", received_at=IN_M, channel=2, completed_at=at(2025, 3, 5),
               result_format="both")
    # paid after M: still counts
    wh.payment("pay1", "ff_online_paid", method="online", paid_at=at(2025, 4, 2))
    wh.dossier("ff_online_unpaid", "U1", "FULL_FEE", received_at=IN_M, channel=2, completed_at=at(2025, 3, 5),
               result_format="electronic")
    wh.payment("pay2", "ff_online_unpaid", method="online", status="refunded", paid_at=IN_M)
    wh.dossier("ff_paper", "U1", "FULL_FEE", received_at=at(2025, 2, 3), channel=2,
               completed_at=at(2025, 3, 5), result_format="paper")
    wh.dossier("p_direct", "U1", "PART_FEE", received_at=IN_M, channel=1)
    wh.dossier("n_direct", "U1", "NONE", received_at=IN_M, channel=2)
    wh.dossier("null_level", "U1", "NULL_LEVEL", received_at=IN_M, channel=2)
    res = wh.compute(M)
    # ONLINE_FULL_PROCESS: received in M of full procedures: f_online, f_direct, f_post,
    # ff_online_paid, ff_online_unpaid -> channel 2: 3
    assert res[("U1", "ONLINE_FULL_PROCESS")] == (3, 5)
    # D3_1: channel 2, completed in M, full: f_online ok, ff_online_paid ok, ff_online_unpaid (refund only)
    # fails, ff_paper (received Feb, completed Mar) fails on its paper result
    assert res[("U1", "D3_1_FULLY_ONLINE")] == (2, 4)
    assert wh.violations(M, "D3_1_FULLY_ONLINE") == {("U1", "ff_online_unpaid"), ("U1", "ff_paper")}
    # D3_2: procedures full/partial received in M: FULL (online yes), FULL_FEE (yes), PART_FEE (no)
    assert res[("U1", "D3_2_ONLINE_UPTAKE")] == (2, 3)
    # D3_3: procedures received in M: FULL, FULL_FEE, PART_FEE, NONE, NULL_LEVEL -> 3 online
    assert res[("U1", "D3_3_ONLINE_SERVICE_OFFERED")] == (3, 5)
    assert wh.violations(M, "D3_3_ONLINE_SERVICE_OFFERED") == {("U1", "NONE"), ("U1", "NULL_LEVEL")}


def test_group4_payment_ratios_and_h57_distinct_procedures(wh):
    wh.dossier("a1", "U1", "FULL_FEE", received_at=IN_M)
    wh.payment("p1", "a1", method="online", paid_at=None)        # online payment whatever its paid_at
    wh.dossier("a2", "U1", "FULL_FEE", received_at=IN_M)
    wh.payment("p2", "a2", method="cash", paid_at=IN_M)
    wh.dossier("a3", "U1", "PART_FEE", received_at=IN_M)
    wh.payment("p3", "a3", method="online", status="failed", paid_at=IN_M)
    wh.dossier("b1", "U2", "PART_FEE", received_at=IN_M)
    wh.payment("p4", "b1", method="online", paid_at=IN_M)
    wh.dossier("free", "U2", "FULL", received_at=IN_M)               # not a fee dossier
    # FEE_DATA_DECLARED: latest publication by published_at, then updated_at
    wh.publication("1/QĐ", "FULL_FEE", published_at=at(2025, 1, 1), fee_declared=True)
    wh.publication("2/QĐ", "FULL_FEE", published_at=at(2025, 2, 1), fee_declared=False)  # latest: fails
    wh.publication("3/QĐ", "PART_FEE", published_at=at(2025, 2, 1), fee_declared=False,
                   updated_at=at(2025, 2, 1))
    wh.publication("4/QĐ", "PART_FEE", published_at=at(2025, 2, 1), fee_declared=True,
                   updated_at=at(2025, 2, 2))
    res = wh.compute(M)
    assert res[("U1", "ONLINE_PAYMENT_DOSSIERS")] == (1, 3)
    assert res[("U1", "ONLINE_PAYMENT_PROCEDURES")] == (1, 2)   # FULL_FEE yes, PART_FEE no (a3 failed)
    assert res[("U1", "FEE_DATA_DECLARED")] == (1, 2)           # FULL_FEE no, PART_FEE yes
    assert res[("U2", "ONLINE_PAYMENT_PROCEDURES")] == (1, 1)
    # H57: each procedure once province-wide: PART_FEE succeeds through U2's b1
    assert res[("H57", "ONLINE_PAYMENT_DOSSIERS")] == (2, 4)
    assert res[("H57", "ONLINE_PAYMENT_PROCEDURES")] == (2, 2)
    assert res[("H57", "FEE_DATA_DECLARED")] == (1, 2)
    # D4_2 / D4_3: success payments with paid_at in M
    assert res[("U1", "D4_2_ONLINE_PAYMENT_SHARE")] == (0, 1)   # p2 cash (p1 no paid_at, p3 failed)
    assert res[("U2", "D4_2_ONLINE_PAYMENT_SHARE")] == (1, 1)
    assert res[("U2", "D4_3_PROVINCIAL_GATEWAY")] == (1, 1)
    scores = wh.scores(M)
    # U1: 6 × 1/3 + min(2, 2.5 × 1/2) + 2.5 × 1/2 = 2 + 1.25 + 1.25
    assert scores["U1"]["g4"] == pytest.approx(4.5)
    # H57: 6 × 2/4 + min(2, 2.5 × 2/2) + 2.5 × 1/2 = 3 + 2 + 1.25
    assert scores["H57"]["g4"] == pytest.approx(6.25)


def test_d4_3_gateway(wh):
    wh.dossier("d", "U1", "FULL_FEE", received_at=IN_M)
    wh.payment("prov", "d", gateway="provincial_portal", paid_at=IN_M)
    wh.payment("nat", "d", gateway="national_platform", paid_at=IN_M)
    wh.payment("none", "d", gateway=None, paid_at=IN_M)
    wh.payment("cash", "d", method="cash", gateway=None, paid_at=IN_M)          # not online: outside
    wh.payment("april", "d", gateway="provincial_portal", paid_at=at(2025, 4, 1))  # outside M
    res = wh.compute(M)
    assert res[("U1", "D4_3_PROVINCIAL_GATEWAY")] == (1, 3)
    assert res[("U1", "D4_2_ONLINE_PAYMENT_SHARE")] == (3, 4)
    assert wh.violations(M, "D4_3_PROVINCIAL_GATEWAY") == {("U1", "nat"), ("U1", "none")}
