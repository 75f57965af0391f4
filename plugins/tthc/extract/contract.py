"""The provincial replica's contract (sources.md §1) as data: its tables and columns with their
contract types.

The preflight checks a replica against it; the generator's DDL (include/sql/source/) and the
tests of both are checked against it too.
"""

from __future__ import annotations

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
