"""Group 1 — Công khai, minh bạch, with duties 1.2, 1.3 (PUBLIC_UPDATE_ON_TIME), 1.4 and 1.5."""

from __future__ import annotations

import datetime as dt

import pytest
from warehouse_builder import DEPT, Warehouse, at, sqlite_engine

from tthc.calendar import load_calendar

D = dt.date


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit(DEPT, tier="department")
    w.unit("U1")
    w.procedure("P1")
    w.procedure("P2")
    return w


def test_publish_on_time_deadline_on_a_make_up_saturday(wh):
    # 5th working day before Wed 2025-05-07: Tue 6/5, Mon 5/5, (30/4–2/5 off), Tue 29/4,
    # Mon 28/4, then the make-up Saturday 26/4 (làm bù).
    assert load_calendar().nth_working_day_before(D(2025, 5, 7), 5) == D(2025, 4, 26)
    wh.decision("QD-1", effective_on=D(2025, 5, 7), procedure_codes=["P1", "P2", "NOT-IN-PROCEDURES"])
    wh.announcement(1, "QD-1", signed_on=D(2025, 4, 26))   # on the deadline: 3 pairs on time
    wh.announcement(2, "QD-1", signed_on=D(2025, 4, 28))   # 3 pairs late
    wh.announcement(3, "QD-1", signed_on=None)             # 3 pairs, never signed
    wh.decision("QD-MAY", effective_on=D(2025, 5, 20), procedure_codes=["P1"])  # deadline in May
    wh.announcement(4, "QD-MAY", signed_on=D(2025, 4, 1))
    wh.decision("QD-NO-DATE", effective_on=None, procedure_codes=["P1"])        # outside
    wh.announcement(5, "QD-NO-DATE", signed_on=D(2025, 4, 1))
    wh.announcement(6, "QD-ABSENT", signed_on=D(2025, 4, 1))                    # outside
    res = wh.compute("2025-04")
    assert res[(DEPT, "PUBLISH_ON_TIME")] == (3, 9)
    assert res[("H57", "PUBLISH_ON_TIME")] == (3, 9)  # H57 counts pairs as pairs
    assert (DEPT, "2/NOT-IN-PROCEDURES") in wh.violations("2025-04", "PUBLISH_ON_TIME")
    assert (DEPT, "3/P1") in wh.violations("2025-04", "PUBLISH_ON_TIME")


def test_public_update_on_time(wh):
    # signed Mon 2025-03-03 -> deadline the 5th working day after: Mon 2025-03-10
    assert load_calendar().nth_working_day_after(D(2025, 3, 3), 5) == D(2025, 3, 10)
    wh.decision("QD-1", effective_on=D(2025, 3, 1), procedure_codes=["P1", "P2"])
    wh.announcement(1, "QD-1", signed_on=D(2025, 3, 3), provincial_decision_no="123/QĐ-UBND")
    wh.publication("123/QĐ-UBND", "P1", published_at=at(2025, 3, 10, 23, 59, 59))  # meets the deadline
    wh.publication("123/QĐ-UBND", "P2", published_at=at(2025, 3, 11))              # one instant too late
    wh.announcement(2, "QD-1", signed_on=D(2025, 3, 3), provincial_decision_no=None)  # 2 pairs fail
    wh.announcement(3, "QD-1", signed_on=D(2025, 3, 27), provincial_decision_no="9/QĐ")  # deadline 3/4
    wh.announcement(4, "QD-1", signed_on=None)                                          # no deadline
    res = wh.compute("2025-03")
    assert res[(DEPT, "PUBLIC_UPDATE_ON_TIME")] == (1, 4)
    assert wh.violations("2025-03", "PUBLIC_UPDATE_ON_TIME") == {
        (DEPT, "1/P2"), (DEPT, "2/P1"), (DEPT, "2/P2")}


def test_public_content_full_uses_staged_local_times(wh):
    wh.publication("1/QĐ", "P1", published_at=at(2025, 3, 5), complete=True)
    wh.publication("1/QĐ", "P2", published_at=at(2025, 3, 5), complete=False)
    wh.publication("2/QĐ", "P1", published_at=at(2025, 3, 5), complete=None)        # null fails
    wh.publication("2/QĐ", "UNKNOWN", published_at=at(2025, 3, 6), complete=True)   # no owner: H57 only
    # "2025-03-31T23:30:00Z" in the feed is 2025-04-01 06:30 local once staged: April, not March
    wh.publication("3/QĐ", "P1", published_at=at(2025, 4, 1, 6, 30), complete=True)
    res = wh.compute("2025-03")
    assert res[(DEPT, "PUBLIC_CONTENT_FULL")] == (1, 3)
    assert res[("H57", "PUBLIC_CONTENT_FULL")] == (2, 4)
    assert wh.violations("2025-03", "PUBLIC_CONTENT_FULL") == {(DEPT, "1/QĐ/P2"), (DEPT, "2/QĐ/P1")}
    assert wh.compute("2025-04")[("H57", "PUBLIC_CONTENT_FULL")] == (1, 1)


def test_dossier_sync_and_its_origin_duties(wh):
    def dossier(code, origin="provincial", **times):
        wh.dossier(code, "U1", "P1", origin=origin, status=9, **times)

    dossier("same", received_at=at(2025, 3, 3))
    wh.synced("same", 9)
    dossier("other_status", received_at=at(2025, 3, 3), origin="specialized:hotich")
    wh.synced("other_status", 4)
    dossier("missing", received_at=at(2025, 3, 3), origin="specialized:dkkd")
    dossier("done_in_march", received_at=at(2025, 2, 3), completed_at=at(2025, 3, 3), origin="specialized:x")
    wh.synced("done_in_march", 9)
    dossier("returned_in_march", received_at=at(2025, 1, 3), completed_at=at(2025, 2, 3),
            returned_at=at(2025, 3, 3))
    dossier("february", received_at=at(2025, 2, 3), completed_at=at(2025, 2, 4))
    dossier("null_origin", received_at=at(2025, 3, 3), origin=None)
    wh.synced("null_origin", 9)
    res = wh.compute("2025-03")
    assert res[("U1", "DOSSIER_SYNC")] == (3, 6)
    assert res[("U1", "D1_4_SPECIALIZED_SYNC")] == (1, 3)
    assert res[("U1", "D1_5_PROVINCIAL_SYNC")] == (1, 2)
    assert wh.violations("2025-03", "D1_4_SPECIALIZED_SYNC") == {("U1", "other_status"), ("U1", "missing")}


def test_announcement_submitted_within_5_days(wh):
    # deadline 24/2 + 5 days = 1/3, submitted on it
    wh.announcement(1, "QD-ABSENT", info_received_on=D(2025, 2, 24), submitted_on=D(2025, 3, 1))
    # deadline 15/3, submitted a day late
    wh.announcement(2, "QD-ABSENT", info_received_on=D(2025, 3, 10), submitted_on=D(2025, 3, 16))
    wh.announcement(3, "QD-ABSENT", info_received_on=D(2025, 3, 26), submitted_on=None)  # deadline 31/3
    wh.announcement(4, "QD-ABSENT", info_received_on=D(2025, 3, 27), submitted_on=None)  # deadline 1/4
    wh.announcement(5, "QD-ABSENT", info_received_on=D(2025, 2, 23), submitted_on=D(2025, 2, 24))  # 28/2
    res = wh.compute("2025-03")
    assert res[(DEPT, "D1_2_ANNOUNCEMENT_SUBMITTED_5D")] == (1, 3)
    assert wh.violations("2025-03", "D1_2_ANNOUNCEMENT_SUBMITTED_5D") == {(DEPT, "2"), (DEPT, "3")}
