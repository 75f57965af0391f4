-- Provincial TTHC replica (hệ thống thông tin giải quyết TTHC tỉnh), PostgreSQL.
-- Follows the source contract (spec sources.md §1) to the letter: names and types are the contract.
-- Only primary keys are declared: the replica the pipeline reads may hold dirty rows (nulls in
-- required columns, unknown codes, values outside the code lists), and the pipeline must see
-- them to quarantine them, so no NOT NULL, FOREIGN KEY or code-list CHECK is enforced here.
-- Code lists (documented, not enforced) are tthc.sim.source_schema.CODE_LISTS.

CREATE TABLE IF NOT EXISTS units (
    unit_code   TEXT PRIMARY KEY,
    name        TEXT,
    tier        TEXT,                       -- department | district | commune
    parent_code TEXT,                       -- district of a commune; null otherwise
    valid_from  DATE,
    valid_to    DATE,
    updated_at  TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS procedures (
    procedure_code           TEXT PRIMARY KEY,
    name                     TEXT,
    field                    TEXT,          -- lĩnh vực
    owner_unit_code          TEXT,
    authority_tier           TEXT,          -- department | district | commune
    online_level             TEXT,          -- full | partial | none
    has_fee                  BOOLEAN,
    is_certification         BOOLEAN,
    has_eform                BOOLEAN,
    reuse_eligible           BOOLEAN,
    published_duration       NUMERIC,
    published_duration_unit  TEXT,          -- day | working_day | working_hour
    configured_duration      NUMERIC,
    configured_duration_unit TEXT,
    updated_at               TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS dossiers (
    dossier_code          TEXT PRIMARY KEY,
    procedure_code        TEXT,
    unit_code             TEXT,
    channel               SMALLINT,         -- 1 direct | 2 online | 3 public postal service
    origin                TEXT,             -- provincial | specialized:<system>
    status                SMALLINT,         -- national status code 1..10
    submitted_at          TIMESTAMP WITHOUT TIME ZONE,
    received_at           TIMESTAMP WITHOUT TIME ZONE,
    due_at                TIMESTAMP WITHOUT TIME ZONE,
    completed_at          TIMESTAMP WITHOUT TIME ZONE,
    returned_at           TIMESTAMP WITHOUT TIME ZONE,
    result_format         TEXT,             -- electronic | paper | both
    inputs_digitized      BOOLEAN,
    result_digitized      BOOLEAN,
    reused_documents      INTEGER,
    personal_store_linked BOOLEAN,
    citizen_data_used     BOOLEAN,
    applicant_name        TEXT,             -- personal data
    applicant_id_number   TEXT,             -- personal data
    applicant_phone       TEXT,             -- personal data
    updated_at            TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS dossier_events (
    event_id     BIGINT PRIMARY KEY,
    dossier_code TEXT,
    event_type   TEXT,
    occurred_at  TIMESTAMP WITHOUT TIME ZONE,
    unit_code    TEXT,
    recorded_at  TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS apologies (
    apology_id   BIGINT PRIMARY KEY,
    dossier_code TEXT,
    issued_at    TIMESTAMP WITHOUT TIME ZONE,
    new_due_at   TIMESTAMP WITHOUT TIME ZONE,
    recorded_at  TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS payments (
    payment_id   TEXT PRIMARY KEY,
    dossier_code TEXT,
    amount_vnd   BIGINT,
    method       TEXT,                      -- online | cash | bank_transfer
    gateway      TEXT,                      -- provincial_portal | national_platform | other
    status       TEXT,                      -- success | failed | pending | refunded
    paid_at      TIMESTAMP WITHOUT TIME ZONE,
    updated_at   TIMESTAMP WITHOUT TIME ZONE
);

CREATE TABLE IF NOT EXISTS procedure_announcements (
    announcement_id        BIGINT PRIMARY KEY,
    ministry_decision_no   TEXT,
    owner_unit_code        TEXT,
    info_received_on       DATE,
    submitted_on           DATE,
    signed_on              DATE,
    provincial_decision_no TEXT,
    updated_at             TIMESTAMP WITHOUT TIME ZONE
);
