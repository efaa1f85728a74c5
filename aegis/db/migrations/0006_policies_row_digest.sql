-- 0006: each policy's row digest, kept by PostgreSQL itself (cdc_sinks/checksums.py: the first
-- 4 bytes of md5("{id}:{content_hash}") as an unsigned integer, the same digest every sink stores
-- with the record). The reconciler sums it per id range; computed at write time it costs nothing
-- at reconcile time, where hashing a million rows took 0.4-2 s of every pass.
-- A generated column is not published by pgoutput (PostgreSQL < 18), and the connector excludes
-- it as well (`column.exclude.list`), so change events are unchanged.
ALTER TABLE policies ADD COLUMN IF NOT EXISTS row_digest bigint
    GENERATED ALWAYS AS (('x' || left(md5(id::text || ':' || content_hash), 8))::bit(32)::bigint) STORED;

-- The range checksums and the per-range hashes read this index alone (index-only scans).
CREATE INDEX IF NOT EXISTS idx_policies_active_id_digest ON policies (id) INCLUDE (content_hash, row_digest)
    WHERE status = 'active';
DROP INDEX IF EXISTS idx_policies_active_id_hash;
