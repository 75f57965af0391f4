"""Bulk loading of generated rows: sqlite3 executemany, or COPY on PostgreSQL.

Rows arrive as a dict of equal-length columns (numpy or object arrays) and are written in
one pass; values are Python scalars or None.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy.engine import Engine


class BulkWriter:
    """One raw DB-API connection per store, committed per chunk by the generator."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect.name
        self.conn = engine.raw_connection()
        if self.dialect == "sqlite":
            # A generated store is rebuilt from scratch on any failure, so durability is not needed.
            self.conn.execute("PRAGMA journal_mode=OFF")
            self.conn.execute("PRAGMA synchronous=OFF")

    def write(self, table: str, columns: Mapping[str, Sequence]) -> int:
        names = list(columns)
        values = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in columns.values()]
        rows = list(zip(*values, strict=True))
        if not rows:
            return 0
        if self.dialect == "postgresql":
            self._copy(table, names, rows)
        else:
            quoted = ", ".join(f'"{n}"' for n in names)
            marks = ", ".join("?" for _ in names)
            self.conn.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)
        return len(rows)

    def _copy(self, table: str, names: list[str], rows: list[tuple]) -> None:
        buffer = io.StringIO()
        buffer.writelines("\t".join(map(_copy_text, row)) + "\n" for row in rows)
        buffer.seek(0)
        quoted = ", ".join(f'"{n}"' for n in names)
        with self.conn.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", buffer)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _copy_text(value) -> str:
    """PostgreSQL COPY text format: \\N for NULL, t/f for booleans, escaped specials."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
