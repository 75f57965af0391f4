import datetime as dt

import pytest

from tthc.extract.timeparse import parse_bool, parse_date, parse_int, parse_text, parse_time


@pytest.mark.parametrize(("raw", "local"), [
    ("2025-03-04T09:15:00+07:00", dt.datetime(2025, 3, 4, 9, 15)),
    ("2025-03-04T02:15:00Z", dt.datetime(2025, 3, 4, 9, 15)),           # UTC -> local
    ("2025-03-03T19:15:00-07:00", dt.datetime(2025, 3, 4, 9, 15)),
    ("2025-03-04T09:15:00", dt.datetime(2025, 3, 4, 9, 15)),             # no offset: local
    ("2025-03-04 09:15:00.250000", dt.datetime(2025, 3, 4, 9, 15, 0, 250000)),
    ("20250304091500", dt.datetime(2025, 3, 4, 9, 15)),                  # portal compact local
    ("2025-03-31T17:30:00Z", dt.datetime(2025, 4, 1, 0, 30)),            # crosses into the next month
])
def test_every_source_format_normalises_to_local(raw, local):
    assert parse_time(raw) == local


@pytest.mark.parametrize("raw", ["", "  ", None, "20251304091500", "2025030409150", "04/03/2025 09:15",
                                 "yesterday", 20250304091500, "2025-02-30T10:00:00", "20250230101010",
                                 "20250304250000"])
def test_unreadable_times_are_none(raw):
    assert parse_time(raw) is None


def test_dates_are_never_shifted():
    assert parse_date("2025-03-04T23:30:00Z") == dt.date(2025, 3, 4)
    assert parse_date("2025-03-04") == dt.date(2025, 3, 4)
    assert parse_date("") is None and parse_date("2025-3-4") is None


def test_status_compares_as_integer_and_empty_is_null():
    assert parse_int("09") == 9 and parse_int(9) == 9 and parse_int("") is None and parse_int(True) is None
    assert parse_text("") is None and parse_text(" ") is None and parse_text("x") == "x"
    assert parse_bool(1) is True and parse_bool(0) is False and parse_bool("yes") is None
