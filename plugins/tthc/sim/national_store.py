"""The national store: the records the mock national services serve (sources.md §2).

One table per endpoint, one row per *version* of a record (several rows may share a key,
with different `updated_at`). Every time field is TEXT exactly as the service serves it:
ISO 8601 with an offset, sometimes `Z` UTC or local without offset, `yyyyMMddHHmmss` in the
dossier sync feed (or an empty string), and now and then a malformed value. `sort_ts` is
the `updated_at` instant in UTC as 'YYYY-MM-DDTHH:MM:SS.ffffffZ', so that the service can
order and filter by instant with plain text comparison.
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, Index, Integer, MetaData, Table, Text, create_engine

national_metadata = MetaData()


def _row_id() -> Column:
    return Column("row_id", Integer, primary_key=True, autoincrement=True)


national_ministry_decisions = Table(
    "national_ministry_decisions",
    national_metadata,
    _row_id(),
    Column("decision_no", Text),
    Column("ministry", Text),
    Column("signed_on", Text),
    Column("effective_on", Text),
    Column("posted_at", Text),
    Column("procedure_codes", Text),  # a JSON list of procedure codes
    Column("updated_at", Text),
    Column("sort_ts", Text),
)

national_publications = Table(
    "national_publications",
    national_metadata,
    _row_id(),
    Column("province", Text),
    Column("provincial_decision_no", Text),
    Column("procedure_code", Text),
    Column("published_at", Text),
    Column("complete", Integer),
    Column("fee_declared", Integer),
    Column("updated_at", Text),
    Column("sort_ts", Text),
)

national_synced_dossiers = Table(
    "national_synced_dossiers",
    national_metadata,
    _row_id(),
    Column("province", Text),
    Column("MaHoSo", Text),
    Column("MaTTHC", Text),
    Column("MaDonVi", Text),
    Column("TrangThaiHoSo", Text),
    Column("NgayTiepNhan", Text),
    Column("NgayHenTra", Text),
    Column("NgayCoKetQua", Text),
    Column("DongBoLuc", Text),
    Column("updated_at", Text),
    Column("sort_ts", Text),
)

national_feedback = Table(
    "national_feedback",
    national_metadata,
    _row_id(),
    Column("province", Text),
    Column("feedback_id", Text),
    Column("unit_code", Text),
    Column("received_at", Text),
    Column("forwarded_at", Text),
    Column("answered_at", Text),
    Column("published_at", Text),
    Column("rating", Text),
    Column("repeat_of", Text),
    Column("dossier_code", Text),
    Column("updated_at", Text),
    Column("sort_ts", Text),
)

national_dossier_ratings = Table(
    "national_dossier_ratings",
    national_metadata,
    _row_id(),
    Column("province", Text),
    Column("MaHoSo", Text),
    Column("rating", Integer),
    Column("rated_at", Text),
    Column("updated_at", Text),
    Column("sort_ts", Text),
)

# The services page by (sort_ts, key) and filter `since` on sort_ts: index that order.
for _table in national_metadata.tables.values():
    Index(f"ix_{_table.name}_sort", _table.c.sort_ts, _table.c.row_id)

NATIONAL_TABLES: tuple[Table, ...] = (
    national_ministry_decisions,
    national_publications,
    national_synced_dossiers,
    national_feedback,
    national_dossier_ratings,
)


def create_national_store(url_or_engine: str | Engine) -> Engine:
    """Create the national store's tables (if absent); returns the engine."""
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    national_metadata.create_all(engine)
    return engine


def drop_national_store(engine: Engine) -> None:
    """Drop the national store's tables (the generator's clean replace)."""
    national_metadata.drop_all(engine)
