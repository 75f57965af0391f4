"""The run's views keep only what the indicators read: a check that they still do."""

from __future__ import annotations

import re

from tthc.indicators.tables import VIEW_DIR
from tthc.paths import SQL_DIR

QUOTED = re.compile(r"'([a-z_]+)'")


def event_types_in(sql: str) -> set[str]:
    """The event types named in `event_type = '…'` / `event_type IN ('…', …)` conditions."""
    found: set[str] = set()
    for condition in re.findall(r"event_type\s*(?:=\s*'[a-z_]+'|IN\s*\([^)]*\))", sql):
        found |= set(QUOTED.findall(condition))
    return found


def test_ind_v_events_keeps_every_event_type_an_indicator_reads():
    kept = event_types_in((VIEW_DIR / "02_ind_v_events.sql").read_text(encoding="utf-8"))
    readers = [p for p in (SQL_DIR / "indicators").rglob("*.sql")
               if "ind_v_events" in p.read_text(encoding="utf-8") and p.name != "02_ind_v_events.sql"]
    assert len(readers) >= 3  # D2_2, D2_3 and ind_v_received_progress
    read = set().union(*(event_types_in(p.read_text(encoding="utf-8")) for p in readers))
    assert read and read <= kept, read - kept
    assert {"received", "supplement_requested", "withdrawn", "stopped"} <= read
