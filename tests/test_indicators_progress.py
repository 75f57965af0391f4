"""Group 2 — Tiến độ giải quyết: ON_TIME, and the duties built on it (D2_3 … D2_6)."""

from __future__ import annotations

import datetime as dt

import pytest
from warehouse_builder import Warehouse, at, sqlite_engine

M = "2025-03"  # [2025-03-01 00:00, 2025-04-01 00:00)
IN_MARCH, DUE = at(2025, 3, 3, 9), at(2025, 3, 20, 17)


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit("U1")
    w.procedure("P1")
    return w


def test_on_time_population_and_success(wh):
    due = at(2025, 3, 20, 17)
    # in the population
    wh.dossier("ok_done", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due,
               completed_at=at(2025, 3, 20, 17))
    wh.dossier("late_done", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due,
               completed_at=at(2025, 3, 20, 17, 0, 1))
    wh.dossier("no_due_done", "U1", "P1", received_at=at(2025, 3, 3, 9), completed_at=at(2025, 3, 5))
    wh.dossier("open_due_later", "U1", "P1", received_at=at(2025, 3, 25, 9), due_at=at(2025, 4, 1))
    wh.dossier("open_overdue", "U1", "P1", received_at=at(2025, 3, 25, 9), due_at=at(2025, 3, 31, 23, 59))
    wh.dossier("open_no_due", "U1", "P1", received_at=at(2025, 3, 25, 9))
    # finished after end: judged as still open at end (cut-off uses the later completion)
    wh.dossier("done_in_april", "U1", "P1", received_at=at(2025, 2, 3, 9), due_at=at(2025, 4, 2, 17),
               completed_at=at(2025, 4, 2, 9))
    wh.dossier("received_feb_done_mar", "U1", "P1", received_at=at(2025, 2, 3, 9), due_at=at(2025, 2, 28, 17),
               completed_at=at(2025, 3, 1, 8))
    # outside the population
    wh.dossier("done_feb", "U1", "P1", received_at=at(2025, 2, 3), due_at=due,
               completed_at=at(2025, 2, 28, 23))
    wh.dossier("received_apr", "U1", "P1", received_at=at(2025, 4, 1), due_at=at(2025, 4, 9))
    wh.dossier("not_received", "U1", "P1", received_at=at(2025, 3, 3), status=3)
    wh.dossier("new_status1", "U1", "P1", received_at=at(2025, 3, 3), status=1)
    wh.dossier("never_received", "U1", "P1", received_at=None, submitted_at=at(2025, 3, 3))
    wh.dossier("quarantined", "U1", "P1", received_at=at(2025, 3, 3), due_at=at(2025, 3, 1))
    wh.exclude("quarantined")
    res = wh.compute(M)
    # population: 8; on time: ok_done, open_due_later, open_no_due, done_in_april = 4
    assert res[("U1", "ON_TIME")] == (4, 8)
    assert res[("H57", "ON_TIME")] == (4, 8)
    assert wh.violations(M, "ON_TIME") == {
        ("U1", "late_done"), ("U1", "no_due_done"), ("U1", "open_overdue"), ("U1", "received_feb_done_mar")}


def test_on_time_supplement_requests(wh):
    due = at(2025, 3, 20, 17)
    done = at(2025, 3, 10, 9)
    for code in ("two_requests", "one_request_duplicated", "request_before_receipt"):
        wh.dossier(code, "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due, completed_at=done)
    wh.event("two_requests", "supplement_requested", at(2025, 3, 4, 9))
    wh.event("two_requests", "supplement_requested", at(2025, 3, 6, 9))
    # the same event delivered twice is one event
    wh.event("one_request_duplicated", "supplement_requested", at(2025, 3, 4, 9))
    wh.event("one_request_duplicated", "supplement_requested", at(2025, 3, 4, 9))
    # a request while checking the dossier before accepting it is not a pause of processing
    wh.event("request_before_receipt", "supplement_requested", at(2025, 3, 3, 8))
    wh.event("request_before_receipt", "supplement_requested", at(2025, 3, 5, 8))
    res = wh.compute(M)
    assert res[("U1", "ON_TIME")] == (2, 3)
    assert wh.violations(M, "ON_TIME") == {("U1", "two_requests")}


def test_on_time_withdrawn_and_stopped_dossiers_end_at_their_event(wh):
    due = at(2025, 3, 20, 17)
    wh.dossier("withdrawn_in_time", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due, status=7)
    wh.event("withdrawn_in_time", "withdrawn", at(2025, 3, 25))      # the later event is ignored
    wh.event("withdrawn_in_time", "withdrawn", at(2025, 3, 10))
    wh.dossier("withdrawn_late", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due, status=7)
    wh.event("withdrawn_late", "withdrawn", at(2025, 3, 21))
    wh.dossier("stopped_feb", "U1", "P1", received_at=at(2025, 2, 3, 9), due_at=due, status=8)
    wh.event("stopped_feb", "stopped", at(2025, 2, 20))                 # ended before M: not counted
    # status 7 without a withdrawn event: no end, still open at end and overdue
    wh.dossier("withdrawn_no_event", "U1", "P1", received_at=at(2025, 3, 3, 9), due_at=due, status=7)
    res = wh.compute(M)
    assert res[("U1", "ON_TIME")] == (1, 3)
    assert wh.violations(M, "ON_TIME") == {("U1", "withdrawn_late"), ("U1", "withdrawn_no_event")}


def test_units_active_in_month_and_h57_counts_inactive_units(wh):
    wh.unit("CEASED", valid_to=dt.date(2025, 3, 15))        # ceased mid-month: still active in M
    wh.unit("GONE", valid_to=dt.date(2025, 2, 28))           # ended before M: no row
    wh.unit("LATER", valid_from=dt.date(2025, 4, 1))         # not yet created: no row
    for unit in ("CEASED", "GONE"):
        wh.dossier(f"{unit}-1", unit, "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 4),
                   completed_at=at(2025, 3, 3, 10))
    res = wh.compute(M)
    assert res[("CEASED", "ON_TIME")] == (1, 1)
    assert ("GONE", "ON_TIME") not in res and ("LATER", "ON_TIME") not in res
    assert res[("H57", "ON_TIME")] == (2, 2)
    scores = wh.scores(M)
    assert set(scores) == {"U1", "CEASED", "H57"}


def test_unit_without_on_time_dossiers_is_listed_but_not_scored(wh):
    wh.unit("U2")
    wh.dossier("D1", "U2", "P1", received_at=at(2025, 3, 3, 9), due_at=at(2025, 3, 4),
               completed_at=at(2025, 3, 3))
    wh.feedback("F1", "U1", forwarded_at=at(2025, 3, 3), published_at=at(2025, 3, 5))
    wh.compute(M)
    scores = wh.scores(M)
    assert scores["U1"]["scored"] is False or scores["U1"]["scored"] == 0
    assert scores["U1"]["total"] is None and scores["U1"]["band"] is None and scores["U1"]["rank"] is None
    assert scores["U1"]["g6"] == pytest.approx(12.0)  # petitions apply (empty_full) even so
    assert scores["U2"]["rank"] == 1 and scores["U2"]["total"] is not None


def test_online_receipt_within_8_working_hours(wh):
    def online(code, submitted, **kw):
        wh.dossier(code, "U1", "P1", received_at=kw.pop("received_at", None), submitted_at=submitted,
                   channel=kw.pop("channel", 2), status=kw.pop("status", 1), **kw)

    friday_16h = at(2025, 3, 7, 16)
    # Fri 16:00–17:00 (1 h) + Mon 07:30–11:30 (4 h) + 13:00–15:00 (2 h) = 7 h
    online("o1", friday_16h, received_at=at(2025, 3, 10, 15), status=2)
    wh.event("o1", "received", at(2025, 3, 10, 15))
    online("o2", friday_16h)
    wh.event("o2", "received", at(2025, 3, 10, 16, 0, 1))      # 8 h + 1 s: late
    online("o3", friday_16h)
    wh.event("o3", "received", at(2025, 3, 10, 16))            # exactly 28,800 s: in time
    online("o4", at(2025, 3, 3, 9), status=3)
    wh.event("o4", "rejected", at(2025, 3, 3, 10))             # rejected counts as an answer
    online("o5", at(2025, 3, 3, 9))
    wh.event("o5", "supplement_requested", at(2025, 3, 4, 9))  # 2.5 h + 4 h + 1.5 h = 8 h
    wh.event("o5", "received", at(2025, 3, 6, 9))
    online("o6", at(2025, 3, 31, 15))                           # 2 h left before end, unanswered: left out
    online("o7", at(2025, 3, 28, 9))                            # unanswered for days: fails
    online("o8", at(2025, 3, 3, 9), channel=1)                  # not online: outside
    online("o9", at(2025, 2, 28, 16))                           # submitted in February: outside
    online("o10", at(2025, 3, 3, 9))
    wh.event("o10", "received", at(2150, 1, 1))                 # beyond the calendar: late, no crash
    res = wh.compute(M)
    assert res[("U1", "D2_2_ONLINE_RECEIPT_8WH")] == (4, 7)
    assert wh.violations(M, "D2_2_ONLINE_RECEIPT_8WH") == {("U1", "o2"), ("U1", "o7"), ("U1", "o10")}


def test_single_supplement_request(wh):
    def dossier(code, received=IN_MARCH, due=DUE, requests=()):
        wh.dossier(code, "U1", "P1", received_at=received, due_at=due)
        for when in requests:
            wh.event(code, "supplement_requested", when)

    dossier("s1", requests=[at(2025, 3, 5)])
    dossier("s2", requests=[at(2025, 3, 5), at(2025, 3, 7)])
    dossier("s3", requests=[at(2025, 3, 25)])                                  # after the due date
    dossier("s4", received=at(2025, 2, 10), requests=[at(2025, 2, 20)])        # no request in M
    dossier("s5", requests=[at(2025, 3, 2), at(2025, 3, 4)])                   # first one before receipt
    dossier("s6", received=at(2025, 3, 3, 9), requests=[at(2025, 3, 3, 8)])    # only before receipt
    dossier("s7", received=at(2025, 2, 10), requests=[at(2025, 2, 20), at(2025, 3, 5)])
    dossier("s8", due=None, requests=[at(2025, 3, 5)])
    res = wh.compute(M)
    assert res[("U1", "D2_3_SINGLE_SUPPLEMENT")] == (2, 6)
    assert wh.violations(M, "D2_3_SINGLE_SUPPLEMENT") == {("U1", c) for c in ("s2", "s3", "s7", "s8")}


def test_duration_config_match_per_unit_and_province(wh):
    wh.unit("U2")
    wh.procedure("M1", published=(10, "working_day"), configured=(10, "working_day"))
    wh.procedure("M2", published=(10, "day"), configured=(10, "working_day"))     # different units
    wh.procedure("M3", published=(15, "working_day"), configured=(10, "working_day"))
    wh.procedure("M4", published=(10, "working_day"), configured=(None, "working_day"))
    wh.procedure("M5", published=(10, "working_day"), configured=(10.0, "working_day"))
    for i, (unit, proc) in enumerate([("U1", "M1"), ("U1", "M1"), ("U1", "M2"), ("U1", "M3"),
                                      ("U2", "M1"), ("U2", "M4"), ("U2", "M5")]):
        wh.dossier(f"d{i}", unit, proc, received_at=at(2025, 3, 3))
    wh.dossier("feb", "U2", "M3", received_at=at(2025, 2, 3))
    res = wh.compute(M)
    assert res[("U1", "D2_4_DURATION_CONFIG_MATCH")] == (1, 3)
    assert res[("U2", "D2_4_DURATION_CONFIG_MATCH")] == (2, 3)
    assert res[("H57", "D2_4_DURATION_CONFIG_MATCH")] == (2, 5)   # each procedure once province-wide


def test_specialized_on_time_and_overdue_reconciled(wh):
    due, ok_done = at(2025, 3, 20, 17), at(2025, 3, 10)
    spec = "specialized:hotich"
    wh.dossier("x1", "U1", "P1", received_at=at(2025, 3, 3), due_at=due, completed_at=ok_done, origin=spec)
    wh.synced("x1", 9, due_at=due, result_at=ok_done)                           # both on time
    wh.dossier("x2", "U1", "P1", received_at=at(2025, 3, 3), due_at=due, completed_at=at(2025, 3, 21),
               origin=spec)
    wh.synced("x2", 9, due_at=at(2025, 3, 25), result_at=at(2025, 3, 21))       # portal: on time
    wh.dossier("x3", "U1", "P1", received_at=at(2025, 3, 3), due_at=due, completed_at=ok_done)
    wh.synced("x3", 9, due_at=at(2025, 3, 5), result_at=None)                   # portal: overdue at end
    wh.dossier("x4", "U1", "P1", received_at=at(2025, 3, 3), due_at=at(2025, 4, 20))
    wh.synced("x4", 4, due_at=None, result_at=None)                             # both on time
    wh.dossier("x5", "U1", "P1", received_at=at(2025, 3, 3), due_at=due, completed_at=ok_done)  # not in feed
    wh.dossier("x6", "U1", "P1", received_at=at(2025, 3, 3), due_at=due, completed_at=ok_done, origin=spec)
    wh.event("x6", "supplement_requested", at(2025, 3, 4))
    wh.event("x6", "supplement_requested", at(2025, 3, 6))                      # late here: 2nd request
    wh.synced("x6", 9, due_at=due, result_at=ok_done)                           # portal: on time
    res = wh.compute(M)
    assert res[("U1", "ON_TIME")] == (4, 6)
    assert res[("U1", "D2_5_SPECIALIZED_ON_TIME")] == (1, 3)
    assert res[("U1", "D2_6_OVERDUE_RECONCILED")] == (2, 5)
    assert wh.violations(M, "D2_6_OVERDUE_RECONCILED") == {("U1", "x2"), ("U1", "x3"), ("U1", "x6")}
