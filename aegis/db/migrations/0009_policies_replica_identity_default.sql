-- 0009: back to REPLICA IDENTITY DEFAULT: the WAL no longer logs each updated row's old image.
-- 0005 chose FULL so that an UPDATE leaving a TOASTed column (a long content) unchanged still
-- streamed that column's value. The connector now re-reads such a column from the table instead
-- (Debezium's ReselectColumnsPostProcessor, `reselector` in connectors/policies-source.json), only
-- for the events that carry the "__debezium_unavailable_value" placeholder. No consumer reads
-- `before` (the connector drops it), so FULL cost ~19 % of the WAL and ~1.3 KB per update for nothing.
-- If the row is gone by the time Debezium re-reads it, the placeholder stays; the sinks
-- dead-letter that one event (DP_3006) and the delete that follows it removes the policy.
ALTER TABLE policies REPLICA IDENTITY DEFAULT;
