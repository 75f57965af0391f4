"""Group 6 — Mức độ hài lòng, with duties 6.1, 6.2 (the petitions) and 6.3 (apologies)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from warehouse_builder import Warehouse, at, sqlite_engine

from tthc.indicators.scoring import points

M = "2025-03"  # last day 2025-03-31


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    w = Warehouse(sqlite_engine(tmp_path))
    w.unit("U1")
    w.unit("U2")
    w.procedure("P")
    return w


def test_petition_processing_on_time(wh):
    wh.feedback("f1", "U1", forwarded_at=at(2025, 3, 1, 10), published_at=at(2025, 3, 16, 23, 59, 59))  # ok
    wh.feedback("f2", "U1", forwarded_at=at(2025, 3, 1, 10), published_at=at(2025, 3, 17))   # deadline 16/3
    wh.feedback("f3", "U1", forwarded_at=at(2025, 3, 20))           # open, deadline 4/4 after M: ok
    wh.feedback("f4", "U1", forwarded_at=at(2025, 3, 10))           # open, deadline 25/3 passed
    wh.feedback("f5", "U1", forwarded_at=at(2025, 3, 16, 23))       # open, deadline 31/3 = last day: fails
    wh.feedback("f6", "U1", forwarded_at=at(2025, 3, 17))           # open, deadline 1/4: ok
    # answered after end: judged as open at end, deadline 4/4 after M: ok
    wh.feedback("f7", "U1", forwarded_at=at(2025, 3, 20), published_at=at(2025, 4, 2))
    wh.feedback("f8", "U1", forwarded_at=at(2025, 2, 1), published_at=at(2025, 2, 10))  # outside
    wh.feedback("f9", "U1", forwarded_at=None)                                          # outside
    wh.feedback("f10", "U1", forwarded_at=at(2025, 4, 1))                               # outside
    wh.feedback("f11", None, forwarded_at=at(2025, 3, 1), published_at=at(2025, 3, 2))  # unknown unit: H57
    res = wh.compute(M)
    assert res[("U1", "PETITION_PROCESSING_ON_TIME")] == (4, 7)
    assert res[("H57", "PETITION_PROCESSING_ON_TIME")] == (5, 8)
    assert res[("U2", "PETITION_PROCESSING_ON_TIME")] == (0, 0)
    assert wh.violations(M, "PETITION_PROCESSING_ON_TIME") == {("U1", "f2"), ("U1", "f4"), ("U1", "f5")}
    scores = wh.scores(M)
    assert scores["U2"]["g6"] == pytest.approx(12.0)   # empty_full: both petitions give max with no feedback
    assert points("PETITION_PROCESSING_ON_TIME", 4, 7) == pytest.approx(6 * 4 / 7)


def test_petition_handling_satisfaction(wh):
    wh.feedback("s1", "U1", forwarded_at=at(2025, 3, 1), published_at=at(2025, 3, 5), rating="satisfied")
    wh.feedback("s2", "U1", forwarded_at=at(2025, 3, 1), published_at=at(2025, 3, 5), rating=None)
    wh.feedback("s3", "U1", forwarded_at=at(2025, 3, 1), published_at=at(2025, 3, 5), rating="dissatisfied")
    wh.feedback("s4", "U1", forwarded_at=at(2025, 3, 1), published_at=at(2025, 3, 5), rating="neutral")
    wh.feedback("s4-again", "U2", forwarded_at=at(2025, 4, 10), repeat_of="s4")   # repeated at another unit
    wh.feedback("s5", "U1", forwarded_at=at(2025, 2, 1), published_at=at(2025, 3, 5))  # deadline 16/2
    wh.feedback("s6", "U1", forwarded_at=None, published_at=at(2025, 3, 5))            # no deadline: fails
    wh.feedback("s7", "U1", forwarded_at=at(2025, 3, 1), published_at=at(2025, 4, 1))  # outside
    res = wh.compute(M)
    assert res[("U1", "PETITION_HANDLING_SATISFACTION")] == (2, 6)
    assert wh.violations(M, "PETITION_HANDLING_SATISFACTION") == {
        ("U1", "s3"), ("U1", "s4"), ("U1", "s5"), ("U1", "s6")}


def test_dossier_receiving_satisfaction(wh):
    due, done = at(2025, 3, 10, 17), at(2025, 3, 10, 9)
    wh.dossier("d1", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=done)
    wh.dossier("d2", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=at(2025, 3, 11))
    wh.dossier("d3", "U1", "P", received_at=at(2025, 3, 3), due_at=None, completed_at=done)
    wh.dossier("d4", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=done)
    wh.rating("d4", at(2025, 3, 11), 2)
    wh.dossier("d5", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=done)
    wh.rating("d5", at(2025, 3, 11), 5)
    wh.rating("d5", at(2025, 3, 12), 3)
    wh.dossier("d6", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=done)
    wh.feedback("about-d6", "U2", forwarded_at=at(2025, 4, 3), dossier_code="d6")
    wh.dossier("d7", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=done)
    wh.rating("d7", at(2025, 4, 20), 1)                     # after end: the run still uses it
    wh.dossier("d8", "U1", "P", received_at=at(2025, 2, 3), due_at=due,
               completed_at=at(2025, 2, 10))  # outside
    res = wh.compute(M)
    assert res[("U1", "DOSSIER_RECEIVING_SATISFACTION")] == (2, 7)
    expected = 6 * Fraction(2, 7) / Fraction(9, 10)   # target(6, 0.9)
    assert points("DOSSIER_RECEIVING_SATISFACTION", 2, 7) == pytest.approx(float(expected))


def test_apology_before_due(wh):
    due = at(2025, 3, 10, 17)
    wh.dossier("a1", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=at(2025, 3, 12))
    wh.apology("a1", issued_at=at(2025, 3, 9, 17), new_due_at=at(2025, 3, 14, 17))   # exactly 24 h before
    wh.dossier("a2", "U1", "P", received_at=at(2025, 3, 3), due_at=due)              # still open: late
    wh.apology("a2", issued_at=at(2025, 3, 9, 17, 0, 1), new_due_at=at(2025, 3, 14, 17))
    wh.dossier("a3", "U1", "P", received_at=at(2025, 3, 3), due_at=due, completed_at=at(2025, 3, 12))
    wh.apology("a3", issued_at=at(2025, 3, 1), new_due_at=due)                        # no new appointment
    wh.dossier("a4", "U1", "P", received_at=at(2025, 3, 3), due_at=due,
               completed_at=at(2025, 3, 9))  # on time: outside
    wh.dossier("a5", "U1", "P", received_at=at(2025, 3, 3), due_at=due, status=7)     # withdrawn, no event
    wh.apology("a5", issued_at=at(2025, 3, 10), new_due_at=at(2025, 3, 20))
    wh.apology("a5", issued_at=at(2025, 3, 5), new_due_at=at(2025, 3, 20))           # this one is in time
    wh.dossier("a6", "U1", "P", received_at=at(2025, 3, 3), due_at=at(2025, 4, 1))    # due in April
    wh.dossier("a7", "U1", "P", received_at=at(2025, 3, 3), due_at=due, status=7)     # withdrawn before due
    wh.event("a7", "withdrawn", at(2025, 3, 8))
    res = wh.compute(M)
    assert res[("U1", "D6_3_APOLOGY_BEFORE_DUE")] == (2, 4)
    assert wh.violations(M, "D6_3_APOLOGY_BEFORE_DUE") == {("U1", "a2"), ("U1", "a3")}
