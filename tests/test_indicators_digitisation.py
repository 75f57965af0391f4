"""Group 5 — Số hóa hồ sơ, with duties 5.1, 5.2 (REUSED_DIGITIZED_DATA), 5.3 and 5.4."""

from __future__ import annotations

import datetime as dt

import pytest
from warehouse_builder import DEPT, Warehouse, at, sqlite_engine

M = "2025-03"
IN_M = at(2025, 3, 3, 9)


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit(DEPT, tier="department")
    w.unit("C1")
    w.unit("C2")
    w.procedure("P", reuse_eligible=True)
    w.procedure("Q")
    w.procedure("CERT", is_certification=True)
    return w


def test_result_and_digitisation_indicators(wh):
    wh.dossier("e", "C1", "P", received_at=at(2025, 2, 3), completed_at=at(2025, 3, 4),
               result_format="electronic",
               inputs_digitized=True, result_digitized=True)
    wh.dossier("b", "C1", "P", received_at=IN_M, completed_at=at(2025, 3, 4), result_format="both",
               inputs_digitized=True, result_digitized=None)
    wh.dossier("p", "C1", "Q", received_at=IN_M, completed_at=at(2025, 3, 4), result_format="paper",
               inputs_digitized=None, result_digitized=True)
    wh.dossier("n", "C1", "Q", received_at=IN_M, completed_at=at(2025, 3, 4), result_format=None)
    wh.dossier("open", "C1", "P", received_at=IN_M, reused_documents=None, personal_store_linked=True,
               citizen_data_used=True)
    wh.dossier("apr", "C1", "P", received_at=IN_M, completed_at=at(2025, 4, 1), result_format="electronic")
    res = wh.compute(M)
    assert res[("C1", "ORIGINAL_RESULT_AVAILABLE")] == (2, 4)     # e, b of e, b, p, n
    assert res[("C1", "SO_HOA_GIAY_TO_GIAI_QUYET")] == (1, 4)     # only e has both
    assert res[("C1", "D5_1_RESULT_DIGITIZED")] == (2, 4)         # e, p
    assert res[("C1", "D5_1_INPUTS_DIGITIZED")] == (1, 5)         # received in M: b, p, n, open, apr -> b
    assert res[("C1", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE")] == (1, 5)
    assert res[("C1", "CITIZEN_DATA_CONNECTED_DOSSIER")] == (1, 5)
    # procedures of dossiers received in M: P (open used data) and Q (none)
    assert res[("C1", "CITIZEN_DATA_CONNECTED_FORMALITY")] == (1, 2)
    assert wh.violations(M, "CITIZEN_DATA_CONNECTED_FORMALITY") == {("C1", "Q")}


def test_reused_digitized_data_target(wh):
    for i, reused in enumerate([2, 1, 0, None, 3]):
        wh.dossier(f"r{i}", "C1", "P", received_at=IN_M, reused_documents=reused)
    wh.dossier("not_eligible", "C1", "Q", received_at=IN_M, reused_documents=0)
    res = wh.compute(M)
    assert res[("C1", "REUSED_DIGITIZED_DATA")] == (3, 5)
    # target(2, 0.8): 2 × 0.6 / 0.8 = 1.5 points
    from tthc.indicators.scoring import points
    assert points("REUSED_DIGITIZED_DATA", 3, 5) == pytest.approx(1.5)


def test_electronic_certified_copy_per_commune(wh):
    wh.unit("C_GONE", valid_to=dt.date(2025, 2, 28))           # not active: not counted at H57 either
    wh.unit("C_CEASED", valid_to=dt.date(2025, 3, 10))         # active in M
    wh.dossier("c1", "C1", "CERT", received_at=IN_M, completed_at=at(2025, 4, 2), result_format="both")
    wh.dossier("c2_paper", "C2", "CERT", received_at=IN_M, completed_at=at(2025, 3, 4), result_format="paper")
    wh.dossier("c2_open", "C2", "CERT", received_at=IN_M, result_format="electronic")   # no completed_at
    wh.dossier("dept_cert", DEPT, "CERT", received_at=IN_M, completed_at=at(2025, 3, 4),
               result_format="electronic")
    wh.dossier("gone", "C_GONE", "CERT", received_at=IN_M, completed_at=at(2025, 3, 4),
               result_format="electronic")
    res = wh.compute(M)
    assert res[("C1", "ELECTRONIC_CERTIFIED_COPY")] == (1, 1)
    assert res[("C2", "ELECTRONIC_CERTIFIED_COPY")] == (0, 1)
    assert res[("C_CEASED", "ELECTRONIC_CERTIFIED_COPY")] == (0, 1)   # no certification dossier at all
    assert (DEPT, "ELECTRONIC_CERTIFIED_COPY") not in res
    assert res[("H57", "ELECTRONIC_CERTIFIED_COPY")] == (1, 3)        # the communes active in M
    assert wh.violations(M, "ELECTRONIC_CERTIFIED_COPY") == {("C2", "C2"), ("C_CEASED", "C_CEASED")}
    # D5_3 applies to whichever unit handles certification dossiers
    assert res[("C1", "D5_3_E_CERTIFICATION")] == (1, 1)
    assert res[("C2", "D5_3_E_CERTIFICATION")] == (0, 1)
    assert res[(DEPT, "D5_3_E_CERTIFICATION")] == (1, 1)
    assert res[("H57", "D5_3_E_CERTIFICATION")] == (3, 4)             # includes the inactive unit's dossier


def test_eform_coverage_departments_only(wh):
    wh.unit("000.00.11.H57", tier="department")
    wh.unit("000.00.12.H57", tier="department", valid_to=dt.date(2024, 12, 31))   # not active in M
    wh.procedure("F1", owner=DEPT, online_level="full", has_eform=True)
    wh.procedure("F2", owner=DEPT, online_level="partial", has_eform=None)
    wh.procedure("F3", owner=DEPT, online_level="none", has_eform=False)          # not online: outside
    wh.procedure("G1", owner="000.00.11.H57", online_level="full", has_eform=False)
    wh.procedure("OLD", owner="000.00.12.H57", online_level="full", has_eform=True)
    wh.procedure("C", owner="C1", online_level="full", has_eform=True)            # not a department
    res = wh.compute(M)
    assert res[(DEPT, "D5_4_EFORM_COVERAGE")] == (1, 2)
    assert res[("000.00.11.H57", "D5_4_EFORM_COVERAGE")] == (0, 1)
    assert ("C1", "D5_4_EFORM_COVERAGE") not in res
    assert res[("H57", "D5_4_EFORM_COVERAGE")] == (1, 3)
    assert wh.violations(M, "D5_4_EFORM_COVERAGE") == {(DEPT, "F2"), ("000.00.11.H57", "G1")}
