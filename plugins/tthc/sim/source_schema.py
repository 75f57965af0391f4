"""The provincial replica's DDL (sources.md §1) and its column contract as data.

The DDL lives in include/sql/source/{postgres,sqlite}.sql; `SOURCE_COLUMNS` restates the
spec's tables (column, contract type) so that tests can check both DDL files against it.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tthc.paths import SQL_DIR

# Contract types as sources.md writes them: text, date, timestamp, boolean, smallint,
# bigint, integer, numeric.
SOURCE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "units": (
        ("unit_code", "text"),
        ("name", "text"),
        ("tier", "text"),
        ("parent_code", "text"),
        ("valid_from", "date"),
        ("valid_to", "date"),
        ("updated_at", "timestamp"),
    ),
    "procedures": (
        ("procedure_code", "text"),
        ("name", "text"),
        ("field", "text"),
        ("owner_unit_code", "text"),
        ("authority_tier", "text"),
        ("online_level", "text"),
        ("has_fee", "boolean"),
        ("is_certification", "boolean"),
        ("has_eform", "boolean"),
        ("reuse_eligible", "boolean"),
        ("published_duration", "numeric"),
        ("published_duration_unit", "text"),
        ("configured_duration", "numeric"),
        ("configured_duration_unit", "text"),
        ("updated_at", "timestamp"),
    ),
    "dossiers": (
        ("dossier_code", "text"),
        ("procedure_code", "text"),
        ("unit_code", "text"),
        ("channel", "smallint"),
        ("origin", "text"),
        ("status", "smallint"),
        ("submitted_at", "timestamp"),
        ("received_at", "timestamp"),
        ("due_at", "timestamp"),
        ("completed_at", "timestamp"),
        ("returned_at", "timestamp"),
        ("result_format", "text"),
        ("inputs_digitized", "boolean"),
        ("result_digitized", "boolean"),
        ("reused_documents", "integer"),
        ("personal_store_linked", "boolean"),
        ("citizen_data_used", "boolean"),
        ("applicant_name", "text"),
        ("applicant_id_number", "text"),
        ("applicant_phone", "text"),
        ("updated_at", "timestamp"),
    ),
    "dossier_events": (
        ("event_id", "bigint"),
        ("dossier_code", "text"),
        ("event_type", "text"),
        ("occurred_at", "timestamp"),
        ("unit_code", "text"),
        ("recorded_at", "timestamp"),
    ),
    "apologies": (
        ("apology_id", "bigint"),
        ("dossier_code", "text"),
        ("issued_at", "timestamp"),
        ("new_due_at", "timestamp"),
        ("recorded_at", "timestamp"),
    ),
    "payments": (
        ("payment_id", "text"),
        ("dossier_code", "text"),
        ("amount_vnd", "bigint"),
        ("method", "text"),
        ("gateway", "text"),
        ("status", "text"),
        ("paid_at", "timestamp"),
        ("updated_at", "timestamp"),
    ),
    "procedure_announcements": (
        ("announcement_id", "bigint"),
        ("ministry_decision_no", "text"),
        ("owner_unit_code", "text"),
        ("info_received_on", "date"),
        ("submitted_on", "date"),
        ("signed_on", "date"),
        ("provincial_decision_no", "text"),
        ("updated_at", "timestamp"),
    ),
}

PRIMARY_KEYS: dict[str, str] = {
    "units": "unit_code",
    "procedures": "procedure_code",
    "dossiers": "dossier_code",
    "dossier_events": "event_id",
    "apologies": "apology_id",
    "payments": "payment_id",
    "procedure_announcements": "announcement_id",
}

# Code lists of the contract: documented here, deliberately not enforced by the DDL, so that
# a replica holding an out-of-list value can still be read and its rows quarantined.
CODE_LISTS: dict[str, tuple] = {
    "units.tier": ("department", "district", "commune"),
    "procedures.authority_tier": ("department", "district", "commune"),
    "procedures.online_level": ("full", "partial", "none"),
    "procedures.duration_unit": ("day", "working_day", "working_hour"),
    "dossiers.channel": (1, 2, 3),
    "dossiers.status": tuple(range(1, 11)),
    "dossiers.result_format": ("electronic", "paper", "both"),
    "dossier_events.event_type": (
        "submitted",
        "received",
        "rejected",
        "assigned",
        "processed",
        "supplement_requested",
        "supplement_received",
        "suspended",
        "resumed",
        "stopped",
        "completed",
        "returned",
        "withdrawn",
    ),
    "payments.method": ("online", "cash", "bank_transfer"),
    "payments.gateway": ("provincial_portal", "national_platform", "other"),
    "payments.status": ("success", "failed", "pending", "refunded"),
}


def ddl_path(dialect: str):
    """The DDL file for a SQLAlchemy dialect name ('postgresql' or 'sqlite')."""
    files = {"postgresql": "postgres.sql", "sqlite": "sqlite.sql"}
    if dialect not in files:
        raise ValueError(f"no replica DDL for database dialect '{dialect}' (PostgreSQL or SQLite only)")
    return SQL_DIR / "source" / files[dialect]


def ddl_statements(dialect: str) -> list[str]:
    """The CREATE TABLE statements of a dialect's DDL file, comments stripped."""
    lines = [line.split("--", 1)[0] for line in ddl_path(dialect).read_text(encoding="utf-8").splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def create_source_schema(url_or_engine: str | Engine) -> Engine:
    """Create the replica's tables (if absent) in the database at `url_or_engine`; returns the engine."""
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with engine.begin() as conn:
        for statement in ddl_statements(engine.dialect.name):
            conn.execute(text(statement))
    return engine


def drop_source_schema(engine: Engine) -> None:
    """Drop the replica's tables (the generator's clean replace); other tables are left alone."""
    with engine.begin() as conn:
        for table in SOURCE_COLUMNS:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
