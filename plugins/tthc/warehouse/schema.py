"""The warehouse's staged tables: the sources' records, cleaned, one row per natural key.

Staged provincial tables (`stg_*`) keep the replica's column names and types exactly,
minus the personal-data columns (applicant name, ID number, phone), which never enter the
warehouse. Staged national tables keep one row per record key — the version with the
greatest `updated_at` — with every time normalised to naive local time
(Asia/Ho_Chi_Minh) and unreadable times as NULL. Same DDL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)

metadata = MetaData()


def ts(name: str, **kw) -> Column:
    return Column(name, DateTime(timezone=False), **kw)


# --- provincial replica (sources.md §1), personal data removed ---------------------------
stg_units = Table(
    "stg_units", metadata,
    Column("unit_code", Text, primary_key=True),
    Column("name", Text),
    Column("tier", Text),
    Column("parent_code", Text),
    Column("valid_from", Date),
    Column("valid_to", Date),
    ts("updated_at"),
)

stg_procedures = Table(
    "stg_procedures", metadata,
    Column("procedure_code", Text, primary_key=True),
    Column("name", Text),
    Column("field", Text),
    Column("owner_unit_code", Text),
    Column("authority_tier", Text),
    Column("online_level", Text),
    Column("has_fee", Boolean),
    Column("is_certification", Boolean),
    Column("has_eform", Boolean),
    Column("reuse_eligible", Boolean),
    Column("published_duration", Numeric),
    Column("published_duration_unit", Text),
    Column("configured_duration", Numeric),
    Column("configured_duration_unit", Text),
    ts("updated_at"),
)

stg_dossiers = Table(
    "stg_dossiers", metadata,
    Column("dossier_code", Text, primary_key=True),
    Column("procedure_code", Text),
    Column("unit_code", Text),
    Column("channel", SmallInteger),
    Column("origin", Text),
    Column("status", SmallInteger),
    ts("submitted_at"),
    ts("received_at"),
    ts("due_at"),
    ts("completed_at"),
    ts("returned_at"),
    Column("result_format", Text),
    Column("inputs_digitized", Boolean),
    Column("result_digitized", Boolean),
    Column("reused_documents", Integer),
    Column("personal_store_linked", Boolean),
    Column("citizen_data_used", Boolean),
    ts("updated_at"),
)

stg_dossier_events = Table(
    "stg_dossier_events", metadata,
    Column("event_id", BigInteger, primary_key=True),
    Column("dossier_code", Text),
    Column("event_type", Text),
    ts("occurred_at"),
    Column("unit_code", Text),
    ts("recorded_at"),
    # event_id last: the duplicate-event check finds an earlier twin in the index alone
    Index("ix_stg_dossier_events_key", "dossier_code", "event_type", "occurred_at", "event_id"),
)

stg_apologies = Table(
    "stg_apologies", metadata,
    Column("apology_id", BigInteger, primary_key=True),
    Column("dossier_code", Text),
    ts("issued_at"),
    ts("new_due_at"),
    ts("recorded_at"),
    Index("ix_stg_apologies_dossier", "dossier_code"),
)

stg_payments = Table(
    "stg_payments", metadata,
    Column("payment_id", Text, primary_key=True),
    Column("dossier_code", Text),
    Column("amount_vnd", BigInteger),
    Column("method", Text),
    Column("gateway", Text),
    Column("status", Text),
    ts("paid_at"),
    ts("updated_at"),
    Index("ix_stg_payments_dossier", "dossier_code"),
)

stg_procedure_announcements = Table(
    "stg_procedure_announcements", metadata,
    Column("announcement_id", BigInteger, primary_key=True),
    Column("ministry_decision_no", Text),
    Column("owner_unit_code", Text),
    Column("info_received_on", Date),
    Column("submitted_on", Date),
    Column("signed_on", Date),
    Column("provincial_decision_no", Text),
    ts("updated_at"),
)

# --- national services (sources.md §2), latest version per key, local naive times -------
# `feed_seq` keeps the feed's order (position in the pass that brought the version), so that
# "among equal updated_at, the later in the feed" can be decided.
stg_ministry_decisions = Table(
    "stg_ministry_decisions", metadata,
    Column("decision_no", Text, primary_key=True),
    Column("ministry", Text),
    Column("signed_on", Date),
    Column("effective_on", Date),
    ts("posted_at"),
    ts("updated_at"),
    Column("feed_seq", BigInteger),
)

# One row per distinct code in a decision's `procedure_codes` list.
stg_ministry_decision_procedures = Table(
    "stg_ministry_decision_procedures", metadata,
    Column("decision_no", Text, nullable=False),
    Column("procedure_code", Text, nullable=False),
    PrimaryKeyConstraint("decision_no", "procedure_code"),
)

stg_national_publications = Table(
    "stg_national_publications", metadata,
    Column("provincial_decision_no", Text, nullable=False),
    Column("procedure_code", Text, nullable=False),
    ts("published_at"),
    Column("complete", Boolean),
    Column("fee_declared", Boolean),
    ts("updated_at"),
    Column("feed_seq", BigInteger),
    PrimaryKeyConstraint("provincial_decision_no", "procedure_code"),
)

# Column names are the feed's Vietnamese names in snake case: MaHoSo -> ma_ho_so, ...
stg_synced_dossiers = Table(
    "stg_synced_dossiers", metadata,
    Column("ma_ho_so", Text, primary_key=True),
    Column("ma_tthc", Text),
    Column("ma_don_vi", Text),
    Column("trang_thai_ho_so", Integer),
    ts("ngay_tiep_nhan"),
    ts("ngay_hen_tra"),
    ts("ngay_co_ket_qua"),
    ts("dong_bo_luc"),
    ts("updated_at"),
    Column("feed_seq", BigInteger),
)

stg_feedback = Table(
    "stg_feedback", metadata,
    Column("feedback_id", Text, primary_key=True),
    Column("unit_code", Text),
    ts("received_at"),
    ts("forwarded_at"),
    ts("answered_at"),
    ts("published_at"),
    Column("rating", Text),
    Column("repeat_of", Text),
    Column("dossier_code", Text),
    ts("updated_at"),
    Column("feed_seq", BigInteger),
)

# Key (MaHoSo, rated_at as an instant): rated_at is stored as local naive time.
stg_dossier_ratings = Table(
    "stg_dossier_ratings", metadata,
    Column("ma_ho_so", Text, nullable=False),
    ts("rated_at", nullable=False),
    Column("rating", Integer),
    ts("updated_at"),
    Column("feed_seq", BigInteger),
    PrimaryKeyConstraint("ma_ho_so", "rated_at"),
)

# --- quality gate output read by the indicators ------------------------------------------
# Dossiers removed from every population (indicators.md "Data quality and populations"),
# with the check that removed them. Their events, payments and apologies go with them.
quality_excluded_dossiers = Table(
    "quality_excluded_dossiers", metadata,
    Column("dossier_code", Text, nullable=False),
    Column("check_name", Text, nullable=False),
    PrimaryKeyConstraint("dossier_code", "check_name"),
)

# What the next gate must judge: every extraction notes the keys of the rows it staged (a
# NULL key: the whole table, after a first load). A gate claims the notes committed when it
# starts, validates those rows and the rows failing at the last gate, then deletes its claim;
# a load committed meanwhile stays unclaimed for the next gate.
quality_pending = Table(
    "quality_pending", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("table_name", Text, nullable=False),
    Column("item_key", Text),
    Column("claimed_by", Text),
    Index("ix_quality_pending_claim", "claimed_by", "table_name"),
)

# The rows failing each check as of the last gate, rechecked by every gate: a row stops
# failing when the row it refers to arrives, or the clock passes its time.
quality_failing = Table(
    "quality_failing", metadata,
    Column("check_name", Text, nullable=False),
    Column("item_key", Text, nullable=False),
    PrimaryKeyConstraint("check_name", "item_key"),
)

# One row: the catalogue the failing rows were judged by (another one — a check added or
# changed — validates every row again) and the gate that holds the claim (a gate finding a
# later claim at its end gives way to that later, more complete gate).
quality_gate_state = Table(
    "quality_gate_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("catalogue_sha", Text),
    Column("claimed_by", Text),
    ts("validated_at"),
)


SCHEMA_LOCK_ID = 0x7474686377  # any constant shared by every process that creates the schema


# Indexes a later definition replaced: dropped from warehouses created before.
RETIRED_INDEXES = ("ix_stg_dossier_events_dossier",)


def _create_missing(conn) -> None:
    """Missing tables, then indexes added to existing tables since they were created."""
    metadata.create_all(conn)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    for name in RETIRED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def create_all(engine) -> None:
    """Create missing tables and indexes. Parallel first runs (two extraction tasks at once)
    would race on PostgreSQL's catalog, so one DDL pass runs at a time; on SQLite the loser of
    a race simply finds the table there and tries again."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
            _create_missing(conn)
        return
    try:
        with engine.begin() as conn:
            _create_missing(conn)
    except sa.exc.OperationalError as exc:
        if "already exists" not in str(exc):
            raise
        with engine.begin() as conn:
            _create_missing(conn)


# --- extraction bookkeeping ----------------------------------------------------------------
# A watermark advances only in the transaction that commits its load.
etl_watermarks = Table(
    "etl_watermarks", metadata,
    Column("stream", Text, primary_key=True),  # e.g. "tthc_source.dossiers", "national.feedback"
    ts("watermark"),
    ts("updated_at"),
)

etl_loads = Table(
    "etl_loads", metadata,
    Column("load_id", Text, primary_key=True),  # <run key>/<stream>
    Column("stream", Text, nullable=False),
    Column("run_key", Text, nullable=False),
    ts("lower_bound"),
    ts("upper_bound"),
    Column("rows_read", Integer),
    Column("rows_staged", Integer),
    Column("rows_quarantined", Integer),
    ts("committed_at"),
)

# --- quality gate --------------------------------------------------------------------------
# Rows a check caught; `period` is the run's period (a day 'YYYY-MM-DD' or a month 'YYYY-MM').
quality_quarantine = Table(
    "quality_quarantine", metadata,
    Column("check_name", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("item_key", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("detail", Text),
    ts("first_seen_at"),
    ts("last_seen_at"),
    PrimaryKeyConstraint("check_name", "table_name", "item_key"),
)

quality_runs = Table(
    "quality_runs", metadata,
    Column("run_key", Text, primary_key=True),  # "<dag>/<period>"
    Column("period", Text, nullable=False),
    Column("dag_id", Text, nullable=False),
    ts("run_started_at"),
    Column("status", Text, nullable=False),  # ok | warning | critical
    Column("report_json", Text),
)

# A readable HTML report of each gate run (the latest per DAG and period); also the alert's HTML part.
quality_reports = Table(
    "quality_reports", metadata,
    Column("run_key", Text, primary_key=True),
    Column("html", Text, nullable=False),
)

# One alert per (check, period): a rerun does not storm the engineers.
alert_ledger = Table(
    "alert_ledger", metadata,
    Column("alert_key", Text, primary_key=True),
    ts("sent_at"),
    Column("channel", Text),
)

# An alert no channel could carry (no smtp_default, the mail server down, the webhook failing):
# kept with why, and sent by the next run that can (tthc.delivery.alerts). `covers`: the
# alert_ledger keys the message stands for (JSON list), so that no run alerts them twice.
pending_alerts = Table(
    "pending_alerts", metadata,
    Column("alert_key", Text, primary_key=True),
    Column("covers", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("html", Text),
    Column("webhook_payload", Text),
    ts("first_tried_at"),
    ts("last_tried_at"),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
)

# --- the forecast's accuracy on this province's own months ---------------------------------
# Written by every monthly run (tthc.insights.forecast.backtest_closed_months): per method and
# cut-off day, the mean absolute error of the projected total over the closed months replayed
# (`months`, comma-separated periods). The weekly mail states the latest of these.
forecast_backtests = Table(
    "forecast_backtests", metadata,
    Column("period", Text, nullable=False),        # the monthly run's period: months up to it
    Column("cut_off_day", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("mae", Float),                          # NULL: the method had nothing to compare
    Column("unit_months", Integer, nullable=False),
    Column("months", Text, nullable=False),
    ts("computed_at", nullable=False),
    PrimaryKeyConstraint("period", "cut_off_day", "method"),
)
# One month's errors, per cut-off day and method, kept from the run that computed them: the next
# runs' back-tests reuse them instead of replaying the month again (the replay was 70 % of a
# monthly run); a month's own monthly run always computes its errors afresh.
forecast_backtest_months = Table(
    "forecast_backtest_months", metadata,
    Column("month", Text, nullable=False),
    Column("cut_off_day", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("error_sum", Float, nullable=False),    # Σ |projected − final| over the month's units
    Column("unit_months", Integer, nullable=False),
    ts("computed_at", nullable=False),
    PrimaryKeyConstraint("month", "cut_off_day", "method"),
)


# --- raw landing tables ------------------------------------------------------------------
# Each extraction lands its batch here (tagged with its load_id) and upserts it into the
# staged table by natural key in the same transaction; the next load of the stream clears it.
def _raw_copy(staged: Table) -> Table:
    cols = [Column(c.name, c.type) for c in staged.columns]
    return Table("raw_" + staged.name.removeprefix("stg_"), metadata, Column("load_id", Text), *cols)


PROVINCIAL_STAGED = {
    "units": stg_units,
    "procedures": stg_procedures,
    "dossiers": stg_dossiers,
    "dossier_events": stg_dossier_events,
    "apologies": stg_apologies,
    "payments": stg_payments,
    "procedure_announcements": stg_procedure_announcements,
}
RAW = {name: _raw_copy(table) for name, table in PROVINCIAL_STAGED.items()}

# Exactly-once delivery of the monthly documents: a row is written as 'sending' and
# committed before the SMTP call, then marked 'sent'; a retry that finds 'sending' does not
# guess — it alerts the engineers instead of risking a second copy.
delivery_ledger = Table(
    "delivery_ledger", metadata,
    Column("period", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("status", Text, nullable=False),  # sending | sent | failed
    ts("attempted_at"),
    ts("sent_at"),
    Column("detail", Text),
    PrimaryKeyConstraint("period", "recipient", "content_hash"),
)
