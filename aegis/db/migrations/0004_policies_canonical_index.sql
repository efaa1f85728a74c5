-- 0004: an index on policies.canonical_policy_id. It is a self-reference with ON DELETE SET NULL,
-- so without an index every deleted policy costs a sequential scan of the whole table (deleting
-- 10,000 rows from a 10,000-row table took minutes).
CREATE INDEX IF NOT EXISTS idx_policies_canonical_policy_id ON policies (canonical_policy_id)
    WHERE canonical_policy_id IS NOT NULL;
