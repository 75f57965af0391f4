"""Duties whose items are another indicator's items, restricted or re-judged.

They read their parent's items — the rows its SQL returned, kept for the run — so that
"as DOSSIER_SYNC" or "ON_TIME's population" can never drift from the parent's definition.
The catalogue names the parent (`derived_from`). Each restriction is a SQL fragment over
the parent's item columns (`unit_code, item_id, ok, detail` and the extra columns its SQL
returns for its duties), the same text on SQLite and PostgreSQL. A duty that re-judges the
items writes reason codes of its own (its `reasons` in config/indicators.yaml); one that only
restricts them keeps its parent's.
"""

from __future__ import annotations

from typing import NamedTuple

# origin 'specialized:<system>': dossiers handled in a ministry's specialised software.
# substr, not LIKE: SQLite's LIKE ignores case, PostgreSQL's does not.
SPECIALIZED_ONLY = "substr(origin, 1, 12) = 'specialized:'"


class Restriction(NamedTuple):
    """Which parent items are the duty's (`where`), and how each is judged (`ok`, `detail`: a reason code)."""

    where: str
    ok: str = "ok"
    detail: str = "detail"


SPECIALIZED = Restriction(SPECIALIZED_ONLY)
PROVINCIAL = Restriction("origin = 'provincial'")  # handled in the provincial system
# D2_6: ON_TIME's dossiers the synced feed holds; ok when the feed's verdict equals ON_TIME's.
RECONCILED_WITH_FEED = Restriction(
    "feed_held = 1",
    ok="CASE WHEN feed_on_time = ok THEN 1 ELSE 0 END",
    detail="CASE WHEN ok = 1 THEN 'overdue_on_portal_only' ELSE 'overdue_here_only' END",
)

DERIVED: dict[str, tuple[str, Restriction]] = {
    "D1_4_SPECIALIZED_SYNC": ("DOSSIER_SYNC", SPECIALIZED),
    "D1_5_PROVINCIAL_SYNC": ("DOSSIER_SYNC", PROVINCIAL),
    "D2_5_SPECIALIZED_ON_TIME": ("ON_TIME", SPECIALIZED),
    "D2_6_OVERDUE_RECONCILED": ("ON_TIME", RECONCILED_WITH_FEED),
}
