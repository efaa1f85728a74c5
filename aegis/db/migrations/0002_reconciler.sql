-- 0002: what the reconciler needs — stored consistency reports, duplicate pointers with their
-- reasons, and indexes for its two scans (active view checksums, duplicate candidates).

-- One row per reconcile pass (seed §5.1 ConsistencyReport, plus the pass's bookkeeping).
CREATE TABLE consistency_reports (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id         TEXT NOT NULL UNIQUE,
    dry_run        BOOLEAN NOT NULL,
    is_consistent  BOOLEAN NOT NULL,
    targets        TEXT[] NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    checked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    summary        JSONB NOT NULL,
    report         JSONB NOT NULL
);
CREATE INDEX idx_consistency_reports_checked_at ON consistency_reports (checked_at);

-- A policy archived as a duplicate points at its canonical record (policies.canonical_policy_id);
-- this table says why, so the decision can be explained and reviewed.
CREATE TABLE policy_duplicates (
    policy_id            BIGINT PRIMARY KEY REFERENCES policies (id) ON DELETE CASCADE,
    canonical_policy_id  BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    rule                 TEXT NOT NULL,
    title_similarity     DOUBLE PRECISION NOT NULL CHECK (title_similarity BETWEEN 0 AND 1),
    reason               TEXT NOT NULL,
    run_id               TEXT,
    detected_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_policy_duplicates_canonical ON policy_duplicates (canonical_policy_id);

-- The title key duplicate detection blocks undated policies on (reconciler/duplicates.py holds the
-- same normalisation in Python): NFKC, bracketed tags dropped, only letters and digits, lower case.
CREATE FUNCTION policy_title_key(title TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(
               regexp_replace(normalize(title, NFKC), '\([^)]*\)|\[[^]]*\]|【[^】]*】', '', 'g'),
               '[^0-9A-Za-z가-힣]+', '', 'g'))
$$;

-- Duplicate candidates: active policies with the same application end date, or the same title key.
CREATE INDEX idx_policies_active_period ON policies (application_end_date, application_start_date)
    WHERE status = 'active';
CREATE INDEX idx_policies_active_title_key ON policies (policy_title_key(title))
    WHERE status = 'active';

-- Drift checksums read (id, content_hash) of the active view: index-only scans over this.
CREATE INDEX idx_policies_active_id_hash ON policies (id) INCLUDE (content_hash)
    WHERE status = 'active';
