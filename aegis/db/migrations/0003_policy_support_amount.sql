-- 0003: the most a single applicant can receive from a policy (지원 한도), in won, when the source
-- states it. Nullable and without a default, so adding it rewrites no row and old rows stay valid.
-- It is also the schema-evolution case of the Avro profile (docs/avro.md): Debezium picks the new
-- column up with the next change, the Avro converter registers a new schema version, and running
-- sinks decode messages of both versions without a restart.
ALTER TABLE policies ADD COLUMN support_amount_krw BIGINT CHECK (support_amount_krw >= 0);
COMMENT ON COLUMN policies.support_amount_krw IS 'Maximum support per applicant in KRW, as the source states it (NULL: not stated).';
