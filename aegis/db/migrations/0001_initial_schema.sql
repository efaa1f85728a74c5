-- 0001: the source of truth, the outbox, dead letters and the seed §10 bookkeeping tables.

CREATE TABLE policies (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_system             TEXT NOT NULL,
    source_id                 TEXT NOT NULL,
    title                     VARCHAR(500) NOT NULL CHECK (length(title) > 0),
    content                   TEXT NOT NULL,
    issuing_organization      TEXT NOT NULL,
    executing_organization    TEXT,
    target_regions            TEXT[] NOT NULL DEFAULT '{}',
    target_group              TEXT,
    target_industry           TEXT,
    support_field             TEXT,
    funding_type              TEXT,
    application_start_date    DATE,
    application_end_date      DATE,
    application_period_text   TEXT,
    application_always_open   BOOLEAN NOT NULL DEFAULT FALSE,
    original_url              TEXT,
    contact_email             TEXT,
    contact_phone             TEXT,
    contact_address           TEXT,
    attachments               JSONB NOT NULL DEFAULT '[]',
    raw_data                  JSONB NOT NULL DEFAULT '{}',
    collection_metadata       JSONB NOT NULL DEFAULT '{}',
    content_hash              CHAR(64) NOT NULL,
    status                    TEXT NOT NULL DEFAULT 'pending_validation'
                              CHECK (status IN ('pending_validation', 'active', 'rejected', 'archived')),
    quality_score             DOUBLE PRECISION CHECK (quality_score BETWEEN 0 AND 1),
    canonical_policy_id       BIGINT REFERENCES policies (id) ON DELETE SET NULL,
    source_updated_at         TIMESTAMPTZ,
    collected_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT policies_source_key UNIQUE (source_system, source_id)
);
CREATE INDEX idx_policies_status ON policies (status);
CREATE INDEX idx_policies_updated_at ON policies (updated_at);

-- Outbox (Debezium Outbox Event Router column names). Rows are inserted and deleted in the
-- same transaction: the WAL keeps the insert for Debezium, the table stays empty.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    aggregatetype   TEXT NOT NULL DEFAULT 'policy',
    aggregateid     TEXT NOT NULL,
    type            TEXT NOT NULL
                    CHECK (type IN ('policy.validated', 'data.quality_updated', 'data.sync_completed')),
    schema_version  TEXT NOT NULL,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Records a collector could not accept: kept whole so nothing is lost silently.
CREATE TABLE dead_letters (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_system   TEXT NOT NULL,
    source_id       TEXT,
    error_code      TEXT NOT NULL CHECK (error_code ~ '^DP_[0-9]{4}$'),
    reason          TEXT NOT NULL,
    raw_payload     JSONB NOT NULL,
    pipeline_run_id TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at     TIMESTAMPTZ
);
CREATE INDEX idx_dead_letters_source ON dead_letters (source_system, created_at);

-- Seed §10, in valid PostgreSQL (indexes as separate statements, timestamps with time zone).
CREATE TABLE pipeline_metadata (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    pipeline_run_id   VARCHAR(255) NOT NULL,
    processing_path   VARCHAR(50) NOT NULL CHECK (processing_path IN ('hot', 'cold')),
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at      TIMESTAMPTZ,
    status            VARCHAR(50) NOT NULL,
    records_processed INTEGER DEFAULT 0,
    records_failed    INTEGER DEFAULT 0,
    metadata          JSONB
);
CREATE INDEX idx_pipeline_metadata_run_id ON pipeline_metadata (pipeline_run_id);
CREATE INDEX idx_pipeline_metadata_started_at ON pipeline_metadata (started_at);

CREATE TABLE processing_history (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id          VARCHAR(255) NOT NULL,
    processing_path    VARCHAR(50) NOT NULL CHECK (processing_path IN ('hot', 'cold')),
    status             VARCHAR(50) NOT NULL,
    quality_score      DOUBLE PRECISION,
    validation_errors  JSONB,
    processed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    processing_time_ms INTEGER
);
CREATE INDEX idx_processing_history_policy_id ON processing_history (policy_id);
CREATE INDEX idx_processing_history_processed_at ON processing_history (processed_at);

CREATE TABLE quality_metrics (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id          VARCHAR(255) NOT NULL,
    total_score        DOUBLE PRECISION NOT NULL CHECK (total_score BETWEEN 0 AND 1),
    completeness       DOUBLE PRECISION CHECK (completeness BETWEEN 0 AND 1),
    accuracy           DOUBLE PRECISION CHECK (accuracy BETWEEN 0 AND 1),
    consistency        DOUBLE PRECISION CHECK (consistency BETWEEN 0 AND 1),
    timeliness         DOUBLE PRECISION CHECK (timeliness BETWEEN 0 AND 1),
    calculated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    calculation_method VARCHAR(100),
    details            JSONB
);
CREATE INDEX idx_quality_metrics_policy_id ON quality_metrics (policy_id);
CREATE INDEX idx_quality_metrics_calculated_at ON quality_metrics (calculated_at);

CREATE TABLE audit_logs (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type VARCHAR(100) NOT NULL,
    entity_id   VARCHAR(255) NOT NULL,
    action      VARCHAR(100) NOT NULL,
    actor       VARCHAR(255),
    changes     JSONB,
    "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now(),
    metadata    JSONB
);
CREATE INDEX idx_audit_logs_entity_id ON audit_logs (entity_id);
CREATE INDEX idx_audit_logs_timestamp ON audit_logs ("timestamp");
