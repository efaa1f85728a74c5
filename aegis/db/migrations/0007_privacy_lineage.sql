-- 0007: personal data stays in PostgreSQL, and every record's lineage is kept (docs/privacy.md).
--
-- * `raw_data` leaves `policies`: the source payload, unmasked, now lives in `policy_sources`, a
--   table the publication never includes and Debezium's role cannot read. `policies` (streamed,
--   with REPLICA IDENTITY FULL before-images) holds only masked text from here on; the backfill
--   (`aegis privacy backfill`, run by `aegis db migrate`) masks the rows already stored.
-- * `policy_versions`: one row per version PostgreSQL held of a policy (what changed, when, who and
--   why), written by a trigger, so no writer can forget it.
-- * `audit_logs` gets the index its two queries need (by policy and time).

CREATE TABLE policy_sources (
    policy_id            BIGINT PRIMARY KEY REFERENCES policies (id) ON DELETE CASCADE,
    raw_data             JSONB,                 -- the source's payload, unmasked; NULL once retention removed it
    raw_digest           CHAR(64),              -- sha256 of the payload's canonical JSON (kept after retention)
    source_content_hash  CHAR(64),              -- the unmasked record's content hash
    request_url          TEXT,                  -- the page's request, credentials redacted
    run_id               TEXT,                  -- the collector run that fetched it
    fetched_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    masking_version      TEXT,                  -- aegis.privacy.MASKING_POLICY_VERSION the row was masked with
    masked_findings      JSONB NOT NULL DEFAULT '{}'  -- how many of each kind were masked, per field (no values)
);
CREATE INDEX idx_policy_sources_fetched_at ON policy_sources (fetched_at) WHERE raw_data IS NOT NULL;
REVOKE ALL ON policy_sources FROM PUBLIC;
COMMENT ON TABLE policy_sources IS 'Restricted: unmasked source payloads. Never published, never granted to the replication role.';

INSERT INTO policy_sources (policy_id, raw_data, run_id, fetched_at)
SELECT id, raw_data, collection_metadata ->> 'run_id', collected_at FROM policies;

ALTER TABLE policies DROP COLUMN raw_data;

CREATE TABLE policy_versions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id     BIGINT NOT NULL,               -- no foreign key: the history outlives a deleted row
    op            TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    content_hash  TEXT,
    status        TEXT,
    changed       TEXT[] NOT NULL DEFAULT '{}',  -- the columns an update changed
    actor         TEXT NOT NULL,
    reason        TEXT,
    run_id        TEXT,
    txid          BIGINT NOT NULL DEFAULT txid_current(),
    changed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_policy_versions_policy ON policy_versions (policy_id, id);
CREATE INDEX idx_policy_versions_changed_at ON policy_versions (changed_at);

-- Who and why come from the writer's transaction (aegis.audit.set_change_context:
-- set_config('aegis.actor' | 'aegis.reason' | 'aegis.run_id', ..., true)); a writer that sets
-- nothing is recorded as 'sql:<role>'. An update that changes no column but the timestamps
-- writes no version.
CREATE FUNCTION record_policy_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_columns TEXT[] := '{}';
    row_now policies%ROWTYPE;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(n.key ORDER BY n.key), '{}') INTO changed_columns
          FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
         WHERE n.value IS DISTINCT FROM o.value
           AND n.key NOT IN ('updated_at', 'collected_at', 'row_digest');
        IF changed_columns = '{}' THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN row_now := OLD; ELSE row_now := NEW; END IF;
    INSERT INTO policy_versions (policy_id, op, content_hash, status, changed, actor, reason, run_id)
    VALUES (row_now.id, lower(TG_OP), row_now.content_hash, row_now.status, changed_columns,
            coalesce(nullif(current_setting('aegis.actor', true), ''), 'sql:' || session_user),
            nullif(current_setting('aegis.reason', true), ''),
            nullif(current_setting('aegis.run_id', true), ''));
    RETURN NULL;
END $$;

CREATE TRIGGER policies_record_version AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION record_policy_version();

-- Existing rows: their current version, as the history's first entry.
INSERT INTO policy_versions (policy_id, op, content_hash, status, actor, reason, run_id, changed_at)
SELECT id, 'insert', content_hash, status, 'migration:0007', 'version held when lineage began',
       collection_metadata ->> 'run_id', updated_at FROM policies;

CREATE INDEX IF NOT EXISTS idx_audit_logs_entity_time ON audit_logs (entity_id, "timestamp");
