"""The period's CSV files (outputs.md): formats, order, determinism, reruns."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from warehouse_builder import Warehouse, at, sqlite_engine

from tthc.indicators.engine import compute_period
from tthc.indicators.export import decimal6, export_period

M = "2025-03"


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit("000.21.31.H57", name='UBND xã "Phú Hội", Huế')   # needs RFC 4180 quoting
    w.unit("000.00.10.H57", tier="department", name="Sở Tư pháp")
    w.procedure("1.001612")
    due = at(2025, 3, 20, 17)
    for i, done in enumerate([at(2025, 3, 10), at(2025, 3, 21), at(2025, 3, 12)]):
        w.dossier(f"000.21.31.H57-250303-{i:04d}", "000.21.31.H57", "1.001612",
                  received_at=at(2025, 3, 3, 9), due_at=due, completed_at=done)
    return w


def test_csv_files_are_well_formed_and_sorted(wh, tmp_path):
    wh.compute(M)
    paths = export_period(wh.engine, M, tmp_path / "out")
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in paths)
    assert names == ["indicators.csv", "unit_scores.csv", "violations/000.00.10.H57.csv",
                     "violations/000.21.31.H57.csv"]
    raw = (tmp_path / "out" / "indicators.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == "period,unit_code,indicator_code,numerator,denominator,value"
    on_time = [line for line in lines if ",ON_TIME," in line]
    # units by code, H57 last; 2 of 3 on time -> 0.666667 (half-up, 6 decimals)
    assert on_time == ["2025-03,000.00.10.H57,ON_TIME,0,0,",
                       "2025-03,000.21.31.H57,ON_TIME,2,3,0.666667",
                       "2025-03,H57,ON_TIME,2,3,0.666667"]
    # commune-only and department-only rows
    assert not any(line.startswith("2025-03,000.00.10.H57,ELECTRONIC_CERTIFIED_COPY") for line in lines)
    assert not any(line.startswith("2025-03,000.21.31.H57,D5_4_EFORM_COVERAGE") for line in lines)
    scores = (tmp_path / "out" / "unit_scores.csv").read_text(encoding="utf-8").splitlines()
    assert scores[0] == "period,unit_code,unit_name,tier,g1,g2,g3,g4,g5,g6,total,band,rank"
    assert scores[1] == "2025-03,000.00.10.H57,Sở Tư pháp,department,,,,,,12.000000,,,"
    # The commune's applicable indicators: DOSSIER_SYNC 0/3 (max 6), ON_TIME 2/3 (20 -> 40/3),
    # group 5's ORIGINAL_RESULT_AVAILABLE, SO_HOA…, SYNCED…, CITIZEN_DATA_CONNECTED_DOSSIER 0/3,
    # CITIZEN_DATA_CONNECTED_FORMALITY 0/1, ELECTRONIC_CERTIFIED_COPY 0/1 (6+4+4+2+2+2 = 20),
    # the petitions (empty_full, 6 + 6) and DOSSIER_RECEIVING_SATISFACTION 2/3 (target(6, 0.9) -> 40/9).
    # Total = 100 × (40/3 + 12 + 40/9) / 64 = 46.527777… -> Yếu.
    assert scores[2] == ('2025-03,000.21.31.H57,"UBND xã ""Phú Hội"", Huế",commune,'
                         "0.000000,13.333333,,,0.000000,16.444444,46.527778,Yếu,1")
    assert scores[3] == "2025-03,H57,Thành phố Huế,province,0.000000,13.333333,,,0.000000,16.444444,46.527778,Yếu,"
    violations = (tmp_path / "out" / "violations" / "000.21.31.H57.csv").read_text(encoding="utf-8")
    # detail: the catalogue's Vietnamese for the stored reason code (finished_late)
    assert "ON_TIME,dossier,000.21.31.H57-250303-0001,Hồ sơ giải quyết quá hạn\n" in violations
    header_only = (tmp_path / "out" / "violations" / "000.00.10.H57.csv").read_text(encoding="utf-8")
    assert header_only == "indicator_code,item_type,item_id,detail\n"


def test_decimals_are_rounded_half_up():
    assert decimal6(Fraction(1, 2_000_000)) == "0.000001"     # 0.0000005 exactly: half goes up
    assert decimal6(Fraction(2, 3)) == "0.666667"
    assert decimal6(0.1234565) == "0.123457"                  # the decimal the float stands for
    assert decimal6(None) == ""
    assert decimal6(Fraction(1)) == "1.000000"


def test_export_is_deterministic_and_rerun_replaces_only_its_period(wh, tmp_path):
    wh.compute(M)
    wh.compute("2025-02")
    first = {p.name: p.read_bytes() for p in export_period(wh.engine, M, tmp_path / "a")}
    compute_period(wh.engine, M, at(2026, 11, 2))  # rerun
    second = {p.name: p.read_bytes() for p in export_period(wh.engine, M, tmp_path / "b")}
    assert first == second
    assert wh.results("2025-02")[("H57", "ON_TIME")] == (0, 0)  # other period kept
    assert wh.results(M)[("H57", "ON_TIME")] == (2, 3)


def test_province_name_follows_the_period(wh, tmp_path):
    wh.compute("2024-12")
    export_period(wh.engine, "2024-12", tmp_path / "old")
    last = (tmp_path / "old" / "unit_scores.csv").read_text(encoding="utf-8").splitlines()[-1]
    assert last.startswith("2024-12,H57,Tỉnh Thừa Thiên Huế,province,")


def test_a_failure_reason_the_catalogue_does_not_word_stops_the_run_before_writing(wh, monkeypatch):
    from tthc.indicators.catalogue import Catalogue

    wh.compute(M)
    before = wh.violations(M)
    worded = Catalogue.reasons_of
    monkeypatch.setattr(Catalogue, "reasons_of", lambda self, code: {} if code == "ON_TIME" else worded(self, code))
    with pytest.raises(ValueError, match=r"config/indicators.yaml.*ON_TIME: 'finished_late'"):
        compute_period(wh.engine, M, dt.datetime(2025, 4, 1, 2))
    assert wh.violations(M) == before  # the period's rows are as the last good run left them
