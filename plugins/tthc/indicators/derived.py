"""Duties whose items are another indicator's items, restricted or re-judged.

They share their parent's SQL so that "as DOSSIER_SYNC" or "ON_TIME's population" can never
drift from the parent's definition. The catalogue names the parent (`derived_from`).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

SPECIALIZED_PREFIX = "specialized:"


def specialized_only(parent: pd.DataFrame) -> pd.DataFrame:
    """Dossiers handled in a ministry's specialised software (origin 'specialized:<system>')."""
    return parent[parent["origin"].fillna("").str.startswith(SPECIALIZED_PREFIX)]


def provincial_only(parent: pd.DataFrame) -> pd.DataFrame:
    """Dossiers handled in the provincial system (origin 'provincial')."""
    return parent[parent["origin"] == "provincial"]


def reconciled_with_feed(on_time: pd.DataFrame) -> pd.DataFrame:
    """D2_6: ON_TIME's dossiers the synced feed holds; ok when the feed's verdict equals ON_TIME's."""
    held = on_time[on_time["feed_held"].astype(int) == 1].copy()
    agree = held["feed_on_time"].astype(int) == held["ok"].astype(int)
    held["detail"] = held["ok"].astype(int).map(
        {1: "on time here, overdue on the national portal", 0: "overdue here, on time on the national portal"}
    )
    held["ok"] = agree.astype("int64")
    return held


DERIVED: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "D1_4_SPECIALIZED_SYNC": ("DOSSIER_SYNC", specialized_only),
    "D1_5_PROVINCIAL_SYNC": ("DOSSIER_SYNC", provincial_only),
    "D2_5_SPECIALIZED_ON_TIME": ("ON_TIME", specialized_only),
    "D2_6_OVERDUE_RECONCILED": ("ON_TIME", reconciled_with_feed),
}
