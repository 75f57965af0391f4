"""The loads' notes of what the next quality gate must judge (table quality_pending).

A load notes the key of every row it staged, in the transaction that stages them; a first
load, which stages a whole table, notes the table. Tables no check reads are not noted.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tthc.quality.checks import table_keys
from tthc.warehouse import schema as wh

NOTE_BATCH = 5000


def note_whole_table(conn: Connection, table: sa.Table) -> None:
    if table.name in table_keys():
        conn.execute(sa.insert(wh.quality_pending).values(table_name=table.name, item_key=None))


def note_rows_from(conn: Connection, table: sa.Table, source: sa.Table, where) -> None:
    """The keys of `source`'s rows matching `where` (a load's landing table)."""
    key = table_keys().get(table.name)
    if key is None:
        return
    p = wh.quality_pending
    conn.execute(sa.insert(p).from_select(
        ["table_name", "item_key"],
        sa.select(sa.literal(table.name, sa.Text), sa.cast(source.c[key], sa.Text)).where(where)))


def note_rows(conn: Connection, table: sa.Table, rows: Iterable[dict]) -> None:
    """The keys of staged rows given as dicts (a national feed's batch)."""
    key = table_keys().get(table.name)
    if key is None:
        return
    notes = sorted({str(r[key]) for r in rows})
    for i in range(0, len(notes), NOTE_BATCH):
        conn.execute(sa.insert(wh.quality_pending),
                     [{"table_name": table.name, "item_key": k} for k in notes[i : i + NOTE_BATCH]])
